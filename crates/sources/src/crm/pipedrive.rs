//! Pipedrive webhooks. (Connector being written.)

#![allow(unused_imports)]

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Checks, Crm, CrmBatch, Delivery, Result, Secret, TrackingFields, malformed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP basic auth credentials set on the Pipedrive webhook.
    pub username: Secret,
    pub password: Secret,
    /// Stage id → stage name (Pipedrive sends ids).
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    /// Canonical tracking field → Pipedrive custom field key.
    #[serde(default)]
    pub tracking_fields: TrackingFields,
}

pub fn read(_settings: &Settings, _delivery: &Delivery, _checks: &Checks) -> Result<CrmBatch> {
    Err(malformed(Crm::Pipedrive, "connector not written yet"))
}
