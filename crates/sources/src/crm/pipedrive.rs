//! Pipedrive webhooks, versions 1 and 2.
//!
//! Pipedrive does not sign deliveries; the webhook is created with HTTP basic auth
//! credentials, which every delivery carries in `Authorization: Basic …` and which are
//! checked here in constant time.
//!
//! - v1: `{ "v": 1, "event": "updated.deal", "meta": { "action": "updated", "object":
//!   "deal", "id": 1207, "timestamp": <s>, "timestamp_micro": <µs>, … }, "current": {…},
//!   "previous": {…} }` — custom fields are keys (40-hex hashes) at the top of `current`.
//! - v2: `{ "meta": { "action": "create" | "change" | "delete", "entity": "deal",
//!   "entity_id": "1207", "id": "<event uuid>", "timestamp": "<RFC 3339>", "version":
//!   "2.0", … }, "data": {…}, "previous": {…} }` — `previous` holds only the changed fields;
//!   custom fields are under `data.custom_fields`, each `{ "type": …, "value": … }`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Checks, Crm, CrmBatch, CrmError, Delivery, Record, Result, Secret, TrackingFields, malformed,
    record, rfc3339_from_secs, secure_eq,
};

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
    /// User id → the manager's name, for v2 payloads (which carry `owner_id` only).
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Pipeline ids whose deals are read; empty reads every pipeline.
    #[serde(default)]
    pub pipelines: Vec<String>,
}

pub fn read(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<CrmBatch> {
    if checks.verify {
        verify(settings, delivery)?;
    }
    let payload: Value = serde_json::from_slice(delivery.body)
        .map_err(|e| malformed(Crm::Pipedrive, format!("not JSON: {e}")))?;
    map_payload(settings, &payload, &delivery.payload_id())
}

/// Checks `Authorization: Basic base64(username:password)`; empty credentials never match.
fn verify(settings: &Settings, delivery: &Delivery) -> Result<()> {
    use base64::Engine;
    let header = delivery.header("authorization").ok_or_else(|| {
        CrmError::Unverified(
            "no Authorization header: set HTTP auth on the Pipedrive webhook".into(),
        )
    })?;
    let token = header
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| CrmError::Unverified("Authorization is not Basic".into()))?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| CrmError::Unverified("Authorization Basic is not base64".into()))?;
    let (username, password) = (settings.username.expose(), settings.password.expose());
    let expected = format!("{username}:{password}");
    if username.is_empty() || password.is_empty() || !secure_eq(expected.as_bytes(), &given) {
        return Err(CrmError::Unverified("wrong pipedrive credentials".into()));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Change,
    Other,
}

/// The version-independent part of one delivery.
struct Envelope<'a> {
    v2: bool,
    action: Action,
    /// `added.deal` (v1) or `create.deal` (v2), for `ignored`.
    name: String,
    object: String,
    /// `current` (v1) or `data` (v2), where present.
    current: Option<&'a Map<String, Value>>,
    previous: Option<&'a Map<String, Value>>,
    /// Names `current` / `data` in error messages.
    current_name: &'static str,
    /// The object's id from meta (`id` in v1, `entity_id` in v2).
    meta_object_id: Option<String>,
    /// Identifies the event across retries: v2 meta.id; v1 meta.timestamp_micro or
    /// meta.timestamp; else the payload's hash.
    event_key: String,
    /// The event's time from meta, RFC 3339.
    meta_time: Option<String>,
}

impl<'a> Envelope<'a> {
    fn new(payload: &'a Value, payload_id: &str) -> Result<Self> {
        let body = payload
            .as_object()
            .ok_or_else(|| malformed(Crm::Pipedrive, "the body is not a JSON object"))?;
        let meta = body
            .get("meta")
            .and_then(Value::as_object)
            .ok_or_else(|| malformed(Crm::Pipedrive, "meta is missing or not an object"))?;
        let v2 = meta
            .get("version")
            .and_then(text)
            .is_some_and(|v| v.starts_with('2'))
            || (body.contains_key("data") && meta.contains_key("entity"));
        let event = body.get("event").and_then(Value::as_str).unwrap_or("");
        let from_event = |part: &str| (!part.is_empty()).then(|| part.to_owned());
        let (event_action, event_object) = event.split_once('.').unwrap_or(("", ""));
        let (action, object) = if v2 {
            (meta_text(meta, "action"), meta_text(meta, "entity"))
        } else {
            (
                meta_text(meta, "action").or_else(|| from_event(event_action)),
                meta_text(meta, "object").or_else(|| from_event(event_object)),
            )
        };
        let action_name =
            action.ok_or_else(|| malformed(Crm::Pipedrive, "meta.action is missing"))?;
        let object = object.ok_or_else(|| {
            malformed(
                Crm::Pipedrive,
                if v2 {
                    "meta.entity is missing"
                } else {
                    "meta.object is missing"
                },
            )
        })?;
        let kind = match action_name.as_str() {
            "added" | "create" => Action::Create,
            "updated" | "change" => Action::Change,
            _ => Action::Other,
        };
        let (current_key, meta_id_key) = if v2 {
            ("data", "entity_id")
        } else {
            ("current", "id")
        };
        let event_key = if v2 {
            meta_text(meta, "id")
        } else {
            meta_text(meta, "timestamp_micro").or_else(|| meta_text(meta, "timestamp"))
        }
        .unwrap_or_else(|| payload_id.to_owned());
        let meta_time = match meta.get("timestamp") {
            Some(Value::Number(n)) => n.as_i64().and_then(rfc3339_from_secs),
            Some(other) => time(other),
            None => None,
        };
        Ok(Envelope {
            v2,
            action: kind,
            name: format!("{action_name}.{object}"),
            object,
            current: body.get(current_key).and_then(Value::as_object),
            previous: body.get("previous").and_then(Value::as_object),
            current_name: if v2 { "data" } else { "current" },
            meta_object_id: meta_text(meta, meta_id_key),
            event_key,
            meta_time,
        })
    }

    fn current(&self) -> Result<&'a Map<String, Value>> {
        self.current.ok_or_else(|| {
            malformed(
                Crm::Pipedrive,
                format!("{} is missing or not an object", self.current_name),
            )
        })
    }

    fn object_id(&self, current: &Map<String, Value>) -> Result<String> {
        current
            .get("id")
            .and_then(id_of)
            .or_else(|| self.meta_object_id.clone())
            .ok_or_else(|| {
                malformed(
                    Crm::Pipedrive,
                    format!("{}.id is missing", self.current_name),
                )
            })
    }

    /// The first of `fields` that holds a time, else the event's time.
    fn time_of(&self, current: &Map<String, Value>, fields: &[&str]) -> Result<String> {
        fields
            .iter()
            .find_map(|f| current.get(*f).and_then(time))
            .or_else(|| self.meta_time.clone())
            .ok_or_else(|| {
                malformed(
                    Crm::Pipedrive,
                    format!(
                        "no time: {}.{} and meta.timestamp are missing",
                        self.current_name,
                        fields.first().copied().unwrap_or("add_time")
                    ),
                )
            })
    }
}

/// What a verified delivery says.
pub(crate) fn map_payload(
    settings: &Settings,
    payload: &Value,
    payload_id: &str,
) -> Result<CrmBatch> {
    let envelope = Envelope::new(payload, payload_id)?;
    let mut batch = CrmBatch::default();
    match (envelope.object.as_str(), envelope.action) {
        ("deal", Action::Create | Action::Change) => deal(settings, &envelope, &mut batch)?,
        ("person", Action::Create) => person(settings, &envelope, &mut batch)?,
        _ => batch.ignored.push(envelope.name.clone()),
    }
    Ok(batch)
}

fn deal(settings: &Settings, envelope: &Envelope, batch: &mut CrmBatch) -> Result<()> {
    let current = envelope.current()?;
    let id = envelope.object_id(current)?;
    let deal_id = format!("pipedrive-deal-{id}");
    let pipeline = current.get("pipeline_id").and_then(id_of);
    if !settings.pipelines.is_empty()
        && !pipeline
            .as_ref()
            .is_some_and(|p| settings.pipelines.contains(p))
    {
        batch.ignored.push(format!(
            "{}: deal {deal_id} is in pipeline {} (not in settings.pipelines)",
            envelope.name,
            pipeline.as_deref().unwrap_or("?")
        ));
        return Ok(());
    }
    let lead_id = current
        .get("person_id")
        .and_then(id_of)
        .map(|p| format!("pipedrive-person-{p}"));
    let manager = manager(settings, current);
    let stage = current.get("stage_id").and_then(id_of);
    let stage_name = stage
        .as_ref()
        .map(|s| settings.stages.get(s).cloned().unwrap_or_else(|| s.clone()));
    let status = current.get("status").and_then(text);
    let amount = current.get("value").and_then(amount_text);
    let currency = current.get("currency").and_then(text);
    // An amount without its currency cannot be a row's amount.
    let (amount, currency) = match (amount, currency) {
        (Some(a), Some(c)) => (Some(a), Some(c)),
        (Some(_), None) => {
            batch.not_in_payload.push(format!(
                "deal {deal_id}: the value has no currency in the payload; fetch it from the Pipedrive API"
            ));
            (None, None)
        }
        _ => (None, None),
    };
    let row = |kind: &str, ts: String, extra: Vec<(&'static str, Option<String>)>| -> Record {
        let mut pairs = vec![
            (
                "event_id",
                Some(format!("{deal_id}-{}-{kind}", envelope.event_key)),
            ),
            ("deal_id", Some(deal_id.clone())),
            ("lead_id", lead_id.clone()),
            ("ts", Some(ts)),
            ("type", Some(kind.to_owned())),
            ("manager", manager.clone()),
        ];
        pairs.extend(extra);
        record(pairs)
    };
    let money = || vec![("amount", amount.clone()), ("currency", currency.clone())];
    let lost_reason = || current.get("lost_reason").and_then(text);
    let mut rows = Vec::new();
    match envelope.action {
        Action::Create => {
            let mut extra = money();
            extra.push(("stage", stage_name.clone()));
            rows.push(row(
                "created",
                envelope.time_of(current, &["add_time"])?,
                extra,
            ));
            match status.as_deref() {
                Some("won") => rows.push(row(
                    "won",
                    envelope.time_of(current, &["won_time", "close_time", "add_time"])?,
                    money(),
                )),
                Some("lost") => rows.push(row(
                    "lost",
                    envelope.time_of(current, &["lost_time", "close_time", "add_time"])?,
                    vec![("loss_reason", lost_reason())],
                )),
                _ => {}
            }
        }
        _ => {
            let previous = envelope.previous;
            let was = |field: &str| previous.and_then(|p| p.get(field));
            let stage_moved = was("stage_id")
                .and_then(id_of)
                .is_some_and(|before| Some(&before) != stage.as_ref());
            if stage_moved && let Some(name) = stage_name.clone() {
                rows.push(row(
                    "stage_changed",
                    envelope.time_of(current, &["stage_change_time", "update_time"])?,
                    vec![("stage", Some(name))],
                ));
            }
            let status_changed = was("status")
                .map(|before| text(before) != status)
                .unwrap_or(false);
            if status_changed {
                match status.as_deref() {
                    Some("won") => rows.push(row(
                        "won",
                        envelope.time_of(current, &["won_time", "close_time", "update_time"])?,
                        money(),
                    )),
                    Some("lost") => rows.push(row(
                        "lost",
                        envelope.time_of(current, &["lost_time", "close_time", "update_time"])?,
                        vec![("loss_reason", lost_reason())],
                    )),
                    _ => {}
                }
            }
            if rows.is_empty() {
                batch
                    .ignored
                    .push(format!("{}: no stage or status change", envelope.name));
            }
        }
    }
    batch.deal_events.extend(rows);
    Ok(())
}

fn person(settings: &Settings, envelope: &Envelope, batch: &mut CrmBatch) -> Result<()> {
    let current = envelope.current()?;
    let id = envelope.object_id(current)?;
    let (emails, phones) = if envelope.v2 {
        ("emails", "phones")
    } else {
        ("email", "phone")
    };
    let lead = record([
        ("lead_id", Some(format!("pipedrive-person-{id}"))),
        ("ts", Some(envelope.time_of(current, &["add_time"])?)),
        ("email", current.get(emails).and_then(primary)),
        ("phone", current.get(phones).and_then(primary)),
        ("source", Some(Crm::Pipedrive.name().to_owned())),
        ("manager", manager(settings, current)),
    ]);
    let custom = current.get("custom_fields").and_then(Value::as_object);
    let tracking = settings.tracking_fields.read(|key| {
        custom
            .and_then(|c| c.get(key))
            .or_else(|| current.get(key))
            .and_then(custom_value)
    });
    batch.add_lead(lead, &tracking);
    Ok(())
}

/// The owner's name: v1 sends `owner_name`; else the `users` setting's name for the
/// owner id, else the id.
fn manager(settings: &Settings, current: &Map<String, Value>) -> Option<String> {
    if let Some(name) = current.get("owner_name").and_then(text) {
        return Some(name);
    }
    let owner = ["owner_id", "user_id"]
        .iter()
        .find_map(|f| current.get(*f))?;
    if let Some(name) = owner.get("name").and_then(text) {
        return Some(name);
    }
    let id = id_of(owner)?;
    Some(settings.users.get(&id).cloned().unwrap_or(id))
}

/// The primary entry of `[{ "value": …, "primary": true }, …]`, else the first non-empty.
fn primary(list: &Value) -> Option<String> {
    let entries = list.as_array()?;
    let value = |e: &Value| match e {
        Value::Object(o) => o.get("value").and_then(text),
        other => text(other),
    };
    entries
        .iter()
        .filter(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .find_map(value)
        .or_else(|| entries.iter().find_map(value))
}

/// A custom field's value: a scalar (v1) or `{ "value": … }` (v2).
fn custom_value(value: &Value) -> Option<String> {
    match value {
        Value::Object(o) => o.get("value").and_then(text),
        other => text(other),
    }
}

/// An id: a number, a string, or an object with `value` / `id` (API-style references).
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::Object(o) => o.get("value").or_else(|| o.get("id")).and_then(text),
        other => text(other),
    }
}

fn meta_text(meta: &Map<String, Value>, field: &str) -> Option<String> {
    meta.get(field).and_then(text)
}

/// A non-empty scalar as text.
fn text(value: &Value) -> Option<String> {
    let s = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn amount_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(_) | Value::String(_) => text(value),
        _ => None,
    }
}

/// Pipedrive times: `2026-11-01 10:05:00` (v1, UTC) or RFC 3339 (v2), as RFC 3339 UTC.
fn time(value: &Value) -> Option<String> {
    super::vendor_time(value.as_str()?).map(|t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::crm::base64_of;
    use crate::crm::test_support::{assert_valid, record_of as row};

    const V1_PERSON: &str = include_str!("../../tests/fixtures/crm/pipedrive/v1_person_added.json");
    const V1_DEAL_ADDED: &str =
        include_str!("../../tests/fixtures/crm/pipedrive/v1_deal_added.json");
    const V1_DEAL_WON: &str = include_str!("../../tests/fixtures/crm/pipedrive/v1_deal_won.json");
    const V2_PERSON: &str =
        include_str!("../../tests/fixtures/crm/pipedrive/v2_person_create.json");
    const V2_DEAL_CHANGE: &str =
        include_str!("../../tests/fixtures/crm/pipedrive/v2_deal_change.json");
    const V2_DEAL_LOST: &str = include_str!("../../tests/fixtures/crm/pipedrive/v2_deal_lost.json");

    fn settings() -> Settings {
        toml::from_str(
            r#"
            username = "throughline"
            password = "p1pe-dr1ve-s3cret"
            [stages]
            4 = "Measurement"
            5 = "Contract signed"
            [users]
            21480177 = "Olena Kovalenko"
            [tracking_fields]
            utm_source = "9a3f1c2b7e6d5a4b3c2d1e0f9a8b7c6d5e4f3a2b"
            utm_medium = "1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4"
            utm_campaign = "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f"
            gclid = "7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
            visitor_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"
            landing_url = "2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"
            "#,
        )
        .unwrap()
    }

    fn basic(user: &str, pass: &str) -> String {
        format!("Basic {}", base64_of(format!("{user}:{pass}").as_bytes()))
    }

    fn deliver_with(settings: &Settings, body: &str, auth: Option<String>) -> Result<CrmBatch> {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(auth) = auth {
            headers.push(("authorization".to_owned(), auth));
        }
        let delivery = Delivery {
            method: "POST",
            url: "https://collect.example.com/v1/webhooks/pipedrive?tenant=acme",
            headers: &headers,
            body: body.as_bytes(),
        };
        read(settings, &delivery, &Checks::live(chrono::Utc::now()))
    }

    fn deliver(body: &str) -> Result<CrmBatch> {
        deliver_with(
            &settings(),
            body,
            Some(basic("throughline", "p1pe-dr1ve-s3cret")),
        )
    }

    #[test]
    fn v1_person_is_a_lead_with_tracking() {
        let batch = deliver(V1_PERSON).unwrap();
        assert_valid(&batch);
        assert_eq!(
            batch.leads,
            vec![row(&[
                ("lead_id", "pipedrive-person-5821"),
                ("ts", "2026-11-01T10:00:00+00:00"),
                ("email", "Taras.Shevchuk@example.com"),
                ("phone", "+380 67 123 45 67"),
                ("source", "pipedrive"),
                ("manager", "Olena Kovalenko"),
                ("visitor_id", "tlv_6f1e2d3c"),
                ("click_id", "Cj0KCQjw-tl-test-gclid"),
            ])]
        );
        assert_eq!(
            batch.touchpoints,
            vec![row(&[
                ("event_id", "pipedrive-person-5821-touch"),
                ("ts", "2026-11-01T10:00:00+00:00"),
                ("visitor_id", "tlv_6f1e2d3c"),
                ("utm_source", "google"),
                ("utm_medium", "cpc"),
                ("utm_campaign", "autumn_kitchens"),
                ("click_id", "Cj0KCQjw-tl-test-gclid"),
                ("click_id_type", "gclid"),
            ])]
        );
    }

    #[test]
    fn v2_person_reads_custom_fields_and_primary_contacts() {
        let batch = deliver(V2_PERSON).unwrap();
        assert_valid(&batch);
        let lead = &batch.leads[0];
        assert_eq!(lead["lead_id"], "pipedrive-person-5822");
        assert_eq!(lead["ts"], "2026-11-02T08:30:00+00:00");
        assert_eq!(lead["email"], "iryna.bondar@example.org");
        assert_eq!(lead["phone"], "+380501112233");
        assert_eq!(lead["manager"], "Olena Kovalenko");
        assert_eq!(lead["click_id"], "IwAR0tl");
        let touch = &batch.touchpoints[0];
        assert_eq!(touch["utm_source"], "facebook");
        assert_eq!(touch["utm_medium"], "paid_social");
        assert_eq!(
            touch["utm_campaign"], "wardrobes_nov",
            "filled from the landing URL"
        );
        assert_eq!(touch["click_id_type"], "fbclid");
        assert_eq!(touch["visitor_id"], "pipedrive-person-5822-visitor");
        assert!(touch["url"].starts_with("https://kukhni.example.ua/wardrobes?"));
    }

    #[test]
    fn v1_deal_added_and_won() {
        let added = deliver(V1_DEAL_ADDED).unwrap();
        assert_valid(&added);
        assert_eq!(
            added.deal_events,
            vec![row(&[
                ("event_id", "pipedrive-deal-1207-1793527500118204-created"),
                ("deal_id", "pipedrive-deal-1207"),
                ("lead_id", "pipedrive-person-5821"),
                ("ts", "2026-11-01T10:05:00+00:00"),
                ("type", "created"),
                ("manager", "Olena Kovalenko"),
                ("amount", "45800"),
                ("currency", "UAH"),
                ("stage", "3"),
            ])]
        );
        let won = deliver(V1_DEAL_WON).unwrap();
        assert_valid(&won);
        assert_eq!(
            won.deal_events,
            vec![
                row(&[
                    (
                        "event_id",
                        "pipedrive-deal-1207-1794218400550871-stage_changed"
                    ),
                    ("deal_id", "pipedrive-deal-1207"),
                    ("lead_id", "pipedrive-person-5821"),
                    ("ts", "2026-11-09T10:00:00+00:00"),
                    ("type", "stage_changed"),
                    ("manager", "Olena Kovalenko"),
                    ("stage", "Contract signed"),
                ]),
                row(&[
                    ("event_id", "pipedrive-deal-1207-1794218400550871-won"),
                    ("deal_id", "pipedrive-deal-1207"),
                    ("lead_id", "pipedrive-person-5821"),
                    ("ts", "2026-11-09T10:00:00+00:00"),
                    ("type", "won"),
                    ("manager", "Olena Kovalenko"),
                    ("amount", "47250.5"),
                    ("currency", "UAH"),
                ]),
            ]
        );
    }

    #[test]
    fn v2_deal_stage_change_and_loss() {
        let moved = deliver(V2_DEAL_CHANGE).unwrap();
        assert_valid(&moved);
        assert_eq!(
            moved.deal_events,
            vec![row(&[
                (
                    "event_id",
                    "pipedrive-deal-1208-3f9d2a6c-8e14-4b7a-b5c2-91e0d7a4f6b3-stage_changed"
                ),
                ("deal_id", "pipedrive-deal-1208"),
                ("lead_id", "pipedrive-person-5822"),
                ("ts", "2026-11-04T14:20:00+00:00"),
                ("type", "stage_changed"),
                ("manager", "Olena Kovalenko"),
                ("stage", "Measurement"),
            ])]
        );
        let lost = deliver(V2_DEAL_LOST).unwrap();
        assert_valid(&lost);
        assert_eq!(
            lost.deal_events,
            vec![row(&[
                (
                    "event_id",
                    "pipedrive-deal-1208-9b4e7f21-0c3a-4d58-a6e9-2f71c8b5d0e4-lost"
                ),
                ("deal_id", "pipedrive-deal-1208"),
                ("lead_id", "pipedrive-person-5822"),
                ("ts", "2026-11-12T09:15:00+00:00"),
                ("type", "lost"),
                ("manager", "Olena Kovalenko"),
                ("loss_reason", "Chose a cheaper offer"),
            ])]
        );
    }

    #[test]
    fn retried_delivery_gives_the_same_batch() {
        for body in [V1_DEAL_WON, V2_DEAL_LOST, V1_PERSON] {
            let retry = body.replacen("\"retry\": 0", "\"retry\": 1", 1).replacen(
                "\"attempt\": 2",
                "\"attempt\": 3",
                1,
            );
            assert_eq!(deliver(body).unwrap(), deliver(&retry).unwrap());
        }
    }

    #[test]
    fn other_events_and_pipelines_are_ignored() {
        let updated_person = V1_PERSON.replace("\"action\": \"added\"", "\"action\": \"updated\"");
        let batch = deliver(&updated_person).unwrap();
        assert!(batch.is_empty());
        assert_eq!(batch.ignored, vec!["updated.person"]);
        let mut only_other = settings();
        only_other.pipelines = vec!["2".into()];
        let batch = deliver_with(
            &only_other,
            V1_DEAL_ADDED,
            Some(basic("throughline", "p1pe-dr1ve-s3cret")),
        )
        .unwrap();
        assert!(batch.is_empty());
        assert!(batch.ignored[0].contains("pipeline 1"));
    }

    #[test]
    fn rejects_missing_and_wrong_credentials() {
        let s = settings();
        for auth in [
            None,
            Some(basic("throughline", "guess")),
            Some("Bearer p1pe-dr1ve-s3cret".to_owned()),
            Some("Basic !!!".to_owned()),
        ] {
            assert!(
                matches!(
                    deliver_with(&s, V1_DEAL_ADDED, auth.clone()),
                    Err(CrmError::Unverified(_))
                ),
                "{auth:?}"
            );
        }
        let empty: Settings = toml::from_str("username = \"\"\npassword = \"\"").unwrap();
        assert!(matches!(
            deliver_with(&empty, V1_DEAL_ADDED, Some(basic("", ""))),
            Err(CrmError::Unverified(_))
        ));
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let cases = [
            ("[1]", "JSON object"),
            ("{\"current\":{}}", "meta"),
            ("{\"meta\":{\"object\":\"deal\"}}", "meta.action"),
            (
                "{\"meta\":{\"action\":\"added\",\"object\":\"deal\"},\"current\":null}",
                "current",
            ),
            (
                "{\"meta\":{\"action\":\"create\",\"entity\":\"deal\",\"version\":\"2.0\"},\"data\":{\"id\":1}}",
                "data.add_time",
            ),
            ("{", "not JSON"),
        ];
        for (body, field) in cases {
            match deliver(body) {
                Err(CrmError::Malformed { reason, .. }) => {
                    assert!(reason.contains(field), "{body}: {reason}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    fn json() -> impl Strategy<Value = Value> {
        crate::crm::test_support::vendor_json(
            vec![
                "meta",
                "current",
                "previous",
                "data",
                "event",
                "action",
                "object",
                "entity",
                "entity_id",
                "id",
                "timestamp",
                "timestamp_micro",
                "version",
                "status",
                "stage_id",
                "pipeline_id",
                "person_id",
                "value",
                "currency",
                "lost_reason",
                "add_time",
                "won_time",
                "owner_id",
                "owner_name",
                "email",
                "emails",
                "phone",
                "phones",
                "primary",
                "custom_fields",
                "9a3f1c2b7e6d5a4b3c2d1e0f9a8b7c6d5e4f3a2b",
            ],
            vec![
                "added",
                "updated",
                "create",
                "change",
                "deal",
                "person",
                "won",
                "lost",
                "open",
                "2.0",
                "2026-11-01 10:05:00",
                "2026-11-01T10:05:00Z",
                "UAH",
                "",
            ],
        )
    }

    proptest! {
        #[test]
        fn arbitrary_deliveries_never_panic(
            body in prop::collection::vec(any::<u8>(), 0..256),
            auth in ".{0,64}",
        ) {
            let s = settings();
            let headers = vec![("authorization".to_owned(), auth)];
            let delivery = Delivery { method: "POST", url: "https://h/x", headers: &headers, body: &body };
            let _ = read(&s, &delivery, &Checks::live(chrono::Utc::now()));
        }

        #[test]
        fn arbitrary_payloads_never_panic(payload in json()) {
            let _ = map_payload(&settings(), &payload, "p");
        }
    }
}
