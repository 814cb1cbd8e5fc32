//! KeyCrm webhooks. (Connector being written.)

#![allow(unused_imports)]

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Checks, Crm, CrmBatch, Delivery, Result, Secret, TrackingFields, malformed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The token in the webhook URL (`?token=`): KeyCRM does not sign deliveries.
    pub token: Secret,
    /// Canonical tracking field → KeyCRM custom field uuid / name.
    #[serde(default)]
    pub tracking_fields: TrackingFields,
}

pub fn read(_settings: &Settings, _delivery: &Delivery, _checks: &Checks) -> Result<CrmBatch> {
    Err(malformed(Crm::KeyCrm, "connector not written yet"))
}
