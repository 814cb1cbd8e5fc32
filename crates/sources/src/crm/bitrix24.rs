//! Bitrix24 webhooks. (Connector being written.)

#![allow(unused_imports)]

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Checks, Crm, CrmBatch, Delivery, Result, Secret, TrackingFields, malformed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The outgoing webhook's application token (`auth[application_token]`).
    pub application_token: Secret,
    /// Canonical tracking field → Bitrix24 field code (e.g. `UF_CRM_…`, `UTM_SOURCE`).
    #[serde(default)]
    pub tracking_fields: TrackingFields,
}

pub fn read(_settings: &Settings, _delivery: &Delivery, _checks: &Checks) -> Result<CrmBatch> {
    Err(malformed(Crm::Bitrix24, "connector not written yet"))
}
