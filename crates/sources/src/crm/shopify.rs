//! Shopify webhooks. (Connector being written.)

#![allow(unused_imports)]

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Checks, Crm, CrmBatch, Delivery, Result, Secret, TrackingFields, malformed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The app's client secret (or the shop's webhook signing secret).
    pub secret: Secret,
}

pub fn read(_settings: &Settings, _delivery: &Delivery, _checks: &Checks) -> Result<CrmBatch> {
    Err(malformed(Crm::Shopify, "connector not written yet"))
}
