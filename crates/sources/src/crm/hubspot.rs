//! HubSpot webhooks. (Connector being written.)

#![allow(unused_imports)]

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Checks, Crm, CrmBatch, Delivery, Result, Secret, TrackingFields, malformed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The app's client secret, which signs `X-HubSpot-Signature-v3`.
    pub client_secret: Secret,
}

pub fn read(_settings: &Settings, _delivery: &Delivery, _checks: &Checks) -> Result<CrmBatch> {
    Err(malformed(Crm::HubSpot, "connector not written yet"))
}
