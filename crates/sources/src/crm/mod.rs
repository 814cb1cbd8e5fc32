//! CRM webhooks: each vendor's wire format, verified the way the vendor documents it, read
//! into records in the import columns of `leads`, `deal_events`, `orders` and `touchpoints`
//! (docs/IMPORT.md). Validation and storage happen downstream, the same as for imports.
//!
//! One module per vendor, each with a `Settings` (the tenant's secrets and field mapping,
//! from the TOML config) and `read(settings, delivery, checks) -> Result<CrmBatch>`.

pub mod bitrix24;
pub mod generic;
pub mod hubspot;
pub mod keycrm;
pub mod kommo;
pub mod pipedrive;
pub mod shopify;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use throughline_model::contact::sha256_hex;
use throughline_model::tracking;

/// A record in a table's import columns (docs/IMPORT.md), before validation.
pub type Record = BTreeMap<String, String>;

/// The CRMs with a connector. The name is the `{crm}` of `POST /v1/webhooks/{crm}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crm {
    HubSpot,
    Pipedrive,
    KeyCrm,
    Bitrix24,
    Kommo,
    Shopify,
    Generic,
}

impl Crm {
    pub const ALL: [Crm; 7] = [
        Crm::HubSpot,
        Crm::Pipedrive,
        Crm::KeyCrm,
        Crm::Bitrix24,
        Crm::Kommo,
        Crm::Shopify,
        Crm::Generic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Crm::HubSpot => "hubspot",
            Crm::Pipedrive => "pipedrive",
            Crm::KeyCrm => "keycrm",
            Crm::Bitrix24 => "bitrix24",
            Crm::Kommo => "kommo",
            Crm::Shopify => "shopify",
            Crm::Generic => "generic",
        }
    }

    pub fn from_name(name: &str) -> Option<Crm> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One HTTP delivery as the vendor sent it.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub method: &'a str,
    /// The URL the vendor called, as it signed it: scheme, host, path and query.
    pub url: &'a str,
    /// Header names in lower case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Delivery<'_> {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter of the URL.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.url.split_once('?')?.1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// A stable id of the payload, for vendors that send no event id: a retried delivery
    /// of the same body gets the same id.
    pub fn payload_id(&self) -> String {
        let digest = sha2_hex(self.body);
        digest[..32].to_owned()
    }
}

/// What to check besides the payload's shape.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// When the delivery arrived.
    pub now: DateTime<Utc>,
    /// Reject deliveries whose signed timestamp is older than the vendor's window. Off
    /// only when replaying a kept delivery after a fix (its signature is still checked).
    pub freshness: bool,
    /// Check the signature, token or credentials. Off only when replaying a kept delivery
    /// that passed them when it arrived (its secrets were not kept).
    pub verify: bool,
}

impl Checks {
    pub fn live(now: DateTime<Utc>) -> Self {
        Checks {
            now,
            freshness: true,
            verify: true,
        }
    }

    /// Replaying a kept delivery: no freshness window; signatures are checked again
    /// unless the delivery was verified when it arrived.
    pub fn replay(now: DateTime<Utc>, verified_on_arrival: bool) -> Self {
        Checks {
            now,
            freshness: false,
            verify: !verified_on_arrival,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CrmError {
    /// Missing or wrong signature, token or credentials (401).
    #[error("not verified: {0}")]
    Unverified(String),
    /// A signed timestamp outside the vendor's window (401).
    #[error("stale delivery: {0}")]
    Stale(String),
    /// The body is not the vendor's format (400).
    #[error("malformed {crm} payload: {reason}")]
    Malformed { crm: &'static str, reason: String },
}

pub type Result<T, E = CrmError> = std::result::Result<T, E>;

pub(crate) fn malformed(crm: Crm, reason: impl Into<String>) -> CrmError {
    CrmError::Malformed {
        crm: crm.name(),
        reason: reason.into(),
    }
}

/// What one delivery says, in import columns. Empty lists are fine (an event we do not use).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrmBatch {
    pub leads: Vec<Record>,
    pub deal_events: Vec<Record>,
    pub orders: Vec<Record>,
    /// Touches the CRM saw (UTM tags / click id on a lead), see [`CrmBatch::add_lead`].
    pub touchpoints: Vec<Record>,
    /// Facts the payload does not carry (HubSpot and Bitrix24 send ids only): said, never
    /// invented, e.g. "deal 42: amount and currency are fetched from the HubSpot API".
    pub not_in_payload: Vec<String>,
    /// Event types in the delivery that map to nothing (kept in raw/ only).
    pub ignored: Vec<String>,
}

impl CrmBatch {
    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
            && self.deal_events.is_empty()
            && self.orders.is_empty()
            && self.touchpoints.is_empty()
    }

    /// Adds a lead with what the CRM knows of its click. When the CRM carries UTM tags, a
    /// click id or a landing URL, the lead also gets a touchpoint at its own time, so a
    /// lead whose first touch was only seen by the CRM (a form on another site, a
    /// messenger chat) is still attributed. The touchpoint belongs to the lead's visitor
    /// id, or to a visitor id made from the lead id when the CRM has none.
    pub fn add_lead(&mut self, mut lead: Record, tracking: &Tracking) {
        let lead_id = lead.get("lead_id").cloned().unwrap_or_default();
        let ts = lead.get("ts").cloned().unwrap_or_default();
        for (column, value) in [
            ("visitor_id", &tracking.visitor_id),
            ("click_id", &tracking.click_id),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                lead.entry(column.to_owned())
                    .or_insert_with(|| v.to_owned());
            }
        }
        if tracking.has_touch() {
            let visitor = lead
                .entry("visitor_id".to_owned())
                .or_insert_with(|| format!("{lead_id}-visitor"))
                .clone();
            let mut touch = Record::new();
            touch.insert("event_id".into(), format!("{lead_id}-touch"));
            touch.insert("ts".into(), ts);
            touch.insert("visitor_id".into(), visitor);
            if let Some(url) = &tracking.landing_url {
                touch.insert("url".into(), url.clone());
            }
            for (column, value) in tracking.utm.iter() {
                touch.insert(column.clone(), value.clone());
            }
            if let Some(id) = &tracking.click_id {
                touch.insert("click_id".into(), id.clone());
                if let Some(kind) = &tracking.click_id_type {
                    touch.insert("click_id_type".into(), kind.clone());
                }
            }
            self.touchpoints.push(touch);
        }
        self.leads.push(lead);
    }
}

/// What a CRM record says about the click that brought it (from custom fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    pub visitor_id: Option<String>,
    pub click_id: Option<String>,
    pub click_id_type: Option<String>,
    /// `utm_source` … `utm_id` → value.
    pub utm: BTreeMap<String, String>,
    pub landing_url: Option<String>,
}

/// The canonical tracking fields a tenant may map CRM custom fields to: `visitor_id`,
/// `click_id`, each click id kind (`gclid`, `fbclid`, …), `utm_*` and `landing_url`.
pub fn is_tracking_field(name: &str) -> bool {
    matches!(name, "visitor_id" | "click_id" | "landing_url")
        || tracking::UTM_PARAMS.contains(&name)
        || tracking::CLICK_ID_PARAMS.contains(&name)
}

impl Tracking {
    /// Sets one canonical field (see [`is_tracking_field`]); empty values are skipped.
    pub fn set(&mut self, field: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        match field {
            "visitor_id" => self.visitor_id = Some(value.to_owned()),
            "click_id" => self.click_id = Some(value.to_owned()),
            "landing_url" => self.landing_url = Some(value.to_owned()),
            utm if tracking::UTM_PARAMS.contains(&utm) => {
                self.utm.insert(utm.to_owned(), value.to_owned());
            }
            kind if tracking::CLICK_ID_PARAMS.contains(&kind) => {
                self.click_id = Some(value.to_owned());
                self.click_id_type = Some(kind.to_owned());
            }
            _ => {}
        }
    }

    /// Fills what is still empty from a landing URL's UTM tags and click id.
    pub fn fill_from_url(&mut self, url: &str) {
        let parsed = tracking::parse_landing_url(url);
        for (column, value) in tracking::UTM_PARAMS.iter().zip(parsed.utm) {
            if let Some(v) = value {
                self.utm.entry((*column).to_owned()).or_insert(v);
            }
        }
        if self.click_id.is_none() {
            self.click_id = parsed.click_id;
            self.click_id_type = parsed.click_id_type;
        }
        if self.landing_url.is_none() {
            self.landing_url = Some(url.to_owned());
        }
    }

    fn has_touch(&self) -> bool {
        !self.utm.is_empty() || self.click_id.is_some() || self.landing_url.is_some()
    }
}

/// A tenant's mapping of canonical tracking fields to the CRM's custom field keys, e.g.
/// `utm_source = "a1b2c3…"` (Pipedrive field key) or `gclid = "UF_CRM_GCLID"` (Bitrix24).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct TrackingFields(pub BTreeMap<String, String>);

impl TrackingFields {
    /// Checks that every key is a canonical tracking field.
    pub fn check(&self) -> std::result::Result<(), String> {
        for field in self.0.keys() {
            if !is_tracking_field(field) {
                return Err(format!(
                    "unknown tracking field {field:?}: use visitor_id, click_id, landing_url, utm_source … utm_id, or a click id kind (gclid, fbclid, …)"
                ));
            }
        }
        Ok(())
    }

    /// Reads the mapped fields with `lookup(crm_field_key)`.
    pub fn read(&self, mut lookup: impl FnMut(&str) -> Option<String>) -> Tracking {
        let mut tracking = Tracking::default();
        for (field, key) in &self.0 {
            if let Some(value) = lookup(key) {
                tracking.set(field, &value);
            }
        }
        if let Some(url) = tracking.landing_url.clone() {
            tracking.fill_from_url(&url);
        }
        tracking
    }
}

/// HMAC-SHA256 of the concatenated parts.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Compares secrets and signatures in constant time.
pub fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Base64 (standard alphabet) of a digest, as HubSpot and Shopify send signatures.
pub fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(bytes))
}

/// The fields of a form-encoded body, keys as sent (`leads[status][0][id]`). Later
/// duplicates of a key are dropped, as the vendors send none.
pub fn form_fields(body: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        fields
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    fields
}

/// RFC 3339 UTC of Unix milliseconds / seconds, as the import columns take times.
pub fn rfc3339_from_millis(millis: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(millis).map(|t| t.to_rfc3339())
}

pub fn rfc3339_from_secs(secs: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp(secs, 0).map(|t| t.to_rfc3339())
}

/// A vendor's time: RFC 3339 with any offset, or a naive `YYYY-MM-DD HH:MM:SS[.f]` (also
/// with `T`) read as UTC, as Pipedrive v1 and KeyCRM send them.
pub fn vendor_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(raw, format).ok())
        .map(|t| t.and_utc())
}

/// A contact's hash key, for deliveries that identify a person only by e-mail.
pub fn contact_key(text: &str) -> String {
    sha256_hex(text)[..32].to_owned()
}

/// Builds a record from `(column, value)` pairs, skipping empty values.
pub fn record<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Record {
    pairs
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.trim().is_empty())
                .map(|v| (k.to_owned(), v))
        })
        .collect()
}

/// A tenant's CRM settings, one optional section per vendor (the TOML config's
/// `[tenants.<id>.crm.<vendor>]`, docs/WEBHOOKS.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmSettings {
    pub hubspot: Option<hubspot::Settings>,
    pub pipedrive: Option<pipedrive::Settings>,
    pub keycrm: Option<keycrm::Settings>,
    pub bitrix24: Option<bitrix24::Settings>,
    pub kommo: Option<kommo::Settings>,
    pub shopify: Option<shopify::Settings>,
    pub generic: Option<generic::Settings>,
}

impl CrmSettings {
    /// Every secret of the tenant's CRMs with its place in the config (`crm.hubspot.client_secret`),
    /// for the loader to resolve.
    pub fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        let mut found: Vec<(&str, &mut Secret)> = Vec::new();
        if let Some(s) = &mut self.hubspot {
            found.push(("hubspot.client_secret", &mut s.client_secret));
        }
        if let Some(s) = &mut self.pipedrive {
            found.push(("pipedrive.username", &mut s.username));
            found.push(("pipedrive.password", &mut s.password));
        }
        if let Some(s) = &mut self.keycrm {
            found.push(("keycrm.token", &mut s.token));
        }
        if let Some(s) = &mut self.bitrix24 {
            found.push(("bitrix24.application_token", &mut s.application_token));
        }
        if let Some(s) = &mut self.kommo {
            found.push(("kommo.token", &mut s.token));
        }
        if let Some(s) = &mut self.shopify {
            found.push(("shopify.secret", &mut s.secret));
        }
        if let Some(s) = &mut self.generic {
            found.push(("generic.secret", &mut s.secret));
        }
        found
            .into_iter()
            .map(|(place, secret)| (format!("crm.{place}"), secret))
            .collect()
    }

    /// Whether the tenant has set up `crm`.
    pub fn has(&self, crm: Crm) -> bool {
        match crm {
            Crm::HubSpot => self.hubspot.is_some(),
            Crm::Pipedrive => self.pipedrive.is_some(),
            Crm::KeyCrm => self.keycrm.is_some(),
            Crm::Bitrix24 => self.bitrix24.is_some(),
            Crm::Kommo => self.kommo.is_some(),
            Crm::Shopify => self.shopify.is_some(),
            Crm::Generic => self.generic.is_some(),
        }
    }

    /// Verifies and reads one delivery for `crm`; `None` when the tenant has not set it up.
    pub fn read(&self, crm: Crm, delivery: &Delivery, checks: &Checks) -> Option<Result<CrmBatch>> {
        Some(match crm {
            Crm::HubSpot => hubspot::read(self.hubspot.as_ref()?, delivery, checks),
            Crm::Pipedrive => pipedrive::read(self.pipedrive.as_ref()?, delivery, checks),
            Crm::KeyCrm => keycrm::read(self.keycrm.as_ref()?, delivery, checks),
            Crm::Bitrix24 => bitrix24::read(self.bitrix24.as_ref()?, delivery, checks),
            Crm::Kommo => kommo::read(self.kommo.as_ref()?, delivery, checks),
            Crm::Shopify => shopify::read(self.shopify.as_ref()?, delivery, checks),
            Crm::Generic => generic::read(self.generic.as_ref()?, delivery, checks),
        })
    }

    /// Checks the settings beyond their shape (field names, pointers), naming the vendor.
    pub fn check(&self) -> std::result::Result<(), String> {
        let tracking = [
            ("hubspot", None),
            (
                "pipedrive",
                self.pipedrive.as_ref().map(|s| &s.tracking_fields),
            ),
            ("keycrm", self.keycrm.as_ref().map(|s| &s.tracking_fields)),
            (
                "bitrix24",
                self.bitrix24.as_ref().map(|s| &s.tracking_fields),
            ),
            ("kommo", self.kommo.as_ref().map(|s| &s.tracking_fields)),
        ];
        for (crm, fields) in tracking {
            if let Some(fields) = fields {
                fields
                    .check()
                    .map_err(|e| format!("crm.{crm}.tracking_fields: {e}"))?;
            }
        }
        if let Some(generic) = &self.generic {
            generic.check().map_err(|e| format!("crm.generic: {e}"))?;
        }
        Ok(())
    }
}

/// A secret in the config, as written: the value itself, `env:NAME` (an environment
/// variable) or `ssm:NAME` (an SSM Parameter Store parameter, absolute `/…` or relative to
/// the secrets prefix). This crate does no I/O: whoever loads the config (the settings
/// crate, once, at a binary's edge) looks every reference up and [`Secret::resolve`]s it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    written: String,
    /// The looked-up value of an `env:` or `ssm:` reference.
    resolved: Option<String>,
}

/// Where a secret's value is: in the config, or behind a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource<'a> {
    Literal,
    Env(&'a str),
    Ssm(&'a str),
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// Settings are logged and printed in errors: a literal secret shows as `***`, references
/// (`env:NAME`, `ssm:NAME`) as written — they name where the value is, not the value.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source() {
            SecretSource::Literal => f.write_str("Secret(***)"),
            _ => write!(f, "Secret({:?})", self.written),
        }
    }
}

impl Secret {
    /// The prefix of a secret kept in SSM Parameter Store.
    pub const SSM_PREFIX: &str = "ssm:";
    /// The prefix of a secret read from an environment variable.
    pub const ENV_PREFIX: &str = "env:";

    pub fn new(written: impl Into<String>) -> Self {
        Secret {
            written: written.into(),
            resolved: None,
        }
    }

    pub fn source(&self) -> SecretSource<'_> {
        if let Some(name) = self.written.strip_prefix(Self::ENV_PREFIX) {
            SecretSource::Env(name)
        } else if let Some(reference) = self.written.strip_prefix(Self::SSM_PREFIX) {
            SecretSource::Ssm(reference)
        } else {
            SecretSource::Literal
        }
    }

    /// Gives a reference its looked-up value.
    pub fn resolve(&mut self, value: String) {
        self.resolved = Some(value);
    }

    /// The secret's value. A reference never resolved (an unset variable, a missing or
    /// unfetched parameter) reads as empty, which verifies nothing.
    pub fn expose(&self) -> String {
        match (self.source(), &self.resolved) {
            (SecretSource::Literal, _) => self.written.clone(),
            (_, Some(value)) => value.clone(),
            (_, None) => String::new(),
        }
    }
}

/// Checks a shared token (KeyCRM, Kommo, Bitrix24) in constant time; an empty configured
/// secret never matches.
pub fn check_token(crm: Crm, expected: &Secret, given: Option<&str>) -> Result<()> {
    let expected = expected.expose();
    match given {
        Some(given) if !expected.is_empty() && secure_eq(expected.as_bytes(), given.as_bytes()) => {
            Ok(())
        }
        Some(_) => Err(CrmError::Unverified(format!("wrong {} token", crm.name()))),
        None => Err(CrmError::Unverified(format!(
            "no {} token in the delivery",
            crm.name()
        ))),
    }
}

#[cfg(test)]
mod secret_tests {
    use super::Secret;

    #[test]
    fn literal_secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
        assert_eq!(format!("{:?}", Secret::new("env:HS")), "Secret(\"env:HS\")");
        let mut resolved = Secret::new("ssm:acme/hubspot");
        assert_eq!(resolved.expose(), "");
        resolved.resolve("s3cret".into());
        assert_eq!(resolved.expose(), "s3cret");
        assert_eq!(format!("{resolved:?}"), "Secret(\"ssm:acme/hubspot\")");
    }
}

/// What every connector's tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use serde_json::Value;

    /// Arbitrary JSON shaped like a vendor's payloads: objects keyed by the vendor's field
    /// names, with leaves that are the vendor's typical words and ordinary noise, nested a
    /// few levels, so property tests reach deep into the readers.
    pub fn vendor_json(
        keys: Vec<&'static str>,
        words: Vec<&'static str>,
    ) -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(keys);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(words).prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..8).prop_map(|pairs| {
                    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    use throughline_model::table::{ParseOptions, Table};

    use super::{CrmBatch, Record};

    /// Every record of the batch passes its table's validation, as ingest will check it.
    pub fn assert_valid(batch: &CrmBatch) {
        for (table, records) in [
            (Table::Leads, &batch.leads),
            (Table::DealEvents, &batch.deal_events),
            (Table::Orders, &batch.orders),
            (Table::Touchpoints, &batch.touchpoints),
        ] {
            for record in records {
                let map: HashMap<String, String> = record.clone().into_iter().collect();
                table
                    .parse(&map, &ParseOptions::default())
                    .unwrap_or_else(|e| panic!("{} {record:?}: {e:?}", table.name()));
            }
        }
    }

    /// A record from `(column, value)` pairs.
    pub fn record_of(pairs: &[(&str, &str)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
