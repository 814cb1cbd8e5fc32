//! A generic JSON webhook for any other CRM: the tenant maps each import column to a JSON
//! pointer into the payload, and signs deliveries with an HMAC secret:
//! `X-Throughline-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use throughline_model::table::Table;

use super::{
    Checks, Crm, CrmBatch, CrmError, Delivery, Record, Result, Secret, Tracking, hmac_sha256,
    is_tracking_field, malformed, secure_eq,
};

pub const SIGNATURE_HEADER: &str = "x-throughline-signature";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Signs every delivery (see the module docs).
    pub secret: Secret,
    /// `leads`, `deal_events` or `orders`.
    pub table: String,
    /// Pointer to the array (or object) of records; the whole body when absent.
    #[serde(default)]
    pub records: Option<String>,
    /// Import column (or tracking field, for leads) → JSON pointer within a record.
    pub fields: BTreeMap<String, String>,
    /// Column → (CRM value → import value), e.g. `type = { "closed_won" = "won" }`.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

impl Settings {
    fn table(&self) -> std::result::Result<Table, String> {
        match Table::from_name(&self.table) {
            Ok(t @ (Table::Leads | Table::DealEvents | Table::Orders)) => Ok(t),
            _ => Err(format!(
                "table {:?}: use leads, deal_events or orders",
                self.table
            )),
        }
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        let table = self.table()?;
        for (column, pointer) in &self.fields {
            let known = table.input_columns().contains(&column.as_str())
                || (table == Table::Leads && is_tracking_field(column));
            if !known {
                return Err(format!(
                    "fields.{column}: not a column of {} (docs/IMPORT.md)",
                    table.name()
                ));
            }
            if !pointer.starts_with('/') {
                return Err(format!(
                    "fields.{column}: {pointer:?} is not a JSON pointer (it starts with /)"
                ));
            }
        }
        if let Some(pointer) = &self.records
            && !pointer.is_empty()
            && !pointer.starts_with('/')
        {
            return Err(format!("records: {pointer:?} is not a JSON pointer"));
        }
        Ok(())
    }
}

pub fn read(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<CrmBatch> {
    if checks.verify {
        verify(settings, delivery)?;
    }
    let table = settings.table().map_err(|e| malformed(Crm::Generic, e))?;
    let payload: Value = serde_json::from_slice(delivery.body)
        .map_err(|e| malformed(Crm::Generic, format!("not JSON: {e}")))?;
    let records = match settings.records.as_deref() {
        Some(pointer) if !pointer.is_empty() => payload
            .pointer(pointer)
            .ok_or_else(|| malformed(Crm::Generic, format!("no records at {pointer}")))?,
        _ => &payload,
    };
    let records: Vec<&Value> = match records {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    let mut batch = CrmBatch::default();
    let key = table.key_columns()[0];
    for (index, source) in records.into_iter().enumerate() {
        let mut record = Record::new();
        let mut tracking = Tracking::default();
        for (column, pointer) in &settings.fields {
            let Some(value) = source.pointer(pointer).and_then(scalar) else {
                continue;
            };
            let value = settings
                .values
                .get(column)
                .and_then(|map| map.get(&value))
                .cloned()
                .unwrap_or(value);
            if table == Table::Leads
                && is_tracking_field(column)
                && column != "visitor_id"
                && column != "click_id"
            {
                tracking.set(column, &value);
            } else {
                record.insert(column.clone(), value);
            }
        }
        // A record without its own id gets one from the payload, so retries count once.
        record
            .entry(key.to_owned())
            .or_insert_with(|| format!("generic-{}-{index}", delivery.payload_id()));
        match table {
            Table::Leads => {
                if let Some(url) = tracking.landing_url.clone() {
                    tracking.fill_from_url(&url);
                }
                batch.add_lead(record, &tracking)
            }
            Table::DealEvents => batch.deal_events.push(record),
            _ => batch.orders.push(record),
        }
    }
    Ok(batch)
}

fn verify(settings: &Settings, delivery: &Delivery) -> Result<()> {
    let secret = settings.secret.expose();
    let given = delivery
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| CrmError::Unverified(format!("no {SIGNATURE_HEADER} header")))?;
    let given = given.trim();
    let given = given.strip_prefix("sha256=").unwrap_or(given);
    let expected = hex::encode(hmac_sha256(secret.as_bytes(), &[delivery.body]));
    if secret.is_empty() || !secure_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
        return Err(CrmError::Unverified("signature does not match".into()));
    }
    Ok(())
}

/// A JSON scalar as text; objects, arrays and nulls map to nothing.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        toml::from_str(
            r#"
            secret = "s3cret"
            table = "deal_events"
            records = "/deals"
            [fields]
            event_id = "/event/id"
            deal_id = "/id"
            ts = "/updated_at"
            type = "/status"
            amount = "/sum/value"
            currency = "/sum/currency"
            [values.type]
            closed_won = "won"
            "#,
        )
        .unwrap()
    }

    fn deliver(settings: &Settings, body: &str, signature: Option<String>) -> Result<CrmBatch> {
        let headers: Vec<(String, String)> = signature
            .map(|s| vec![(SIGNATURE_HEADER.to_owned(), s)])
            .unwrap_or_default();
        let delivery = Delivery {
            method: "POST",
            url: "https://example.test/v1/webhooks/generic?tenant=acme",
            headers: &headers,
            body: body.as_bytes(),
        };
        read(settings, &delivery, &Checks::live(chrono::Utc::now()))
    }

    fn sign(body: &str) -> String {
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(b"s3cret", &[body.as_bytes()]))
        )
    }

    #[test]
    fn maps_pointers_and_values() {
        let settings = settings();
        settings.check().unwrap();
        let body = r#"{"deals":[{"id":7,"event":{"id":"e1"},"updated_at":"2026-11-01T10:00:00Z","status":"closed_won","sum":{"value":"1200.50","currency":"UAH"}}]}"#;
        let batch = deliver(&settings, body, Some(sign(body))).unwrap();
        let deal = &batch.deal_events[0];
        assert_eq!(deal["deal_id"], "7");
        assert_eq!(deal["event_id"], "e1");
        assert_eq!(deal["type"], "won");
        assert_eq!(deal["amount"], "1200.50");
    }

    #[test]
    fn rejects_missing_and_wrong_signatures() {
        let settings = settings();
        let body = r#"{"deals":[]}"#;
        assert!(matches!(
            deliver(&settings, body, None),
            Err(CrmError::Unverified(_))
        ));
        let other = r#"{"deals":[{}]}"#;
        assert!(matches!(
            deliver(&settings, body, Some(sign(other))),
            Err(CrmError::Unverified(_))
        ));
    }

    #[test]
    fn config_errors_name_the_field() {
        let mut settings = settings();
        settings.fields.insert("colour".into(), "/c".into());
        assert!(settings.check().unwrap_err().contains("fields.colour"));
    }
}
