//! HubSpot webhooks (Webhooks API, signature v3).
//!
//! Every delivery is signed: `X-HubSpot-Signature-v3` is the base64 of
//! HMAC-SHA256(client secret, method + URL + body + `X-HubSpot-Request-Timestamp`), where
//! the URL has a fixed set of percent-escapes decoded first (see [`signed_url`]), and the
//! timestamp (Unix milliseconds) must be at most 5 minutes old.
//!
//! The body is a JSON array of events. HubSpot sends ids only: a contact or deal id, the
//! subscription type and, for property changes, the one property that changed. What the
//! payload does not carry (e-mail, amount, currency, …) is said in
//! [`CrmBatch::not_in_payload`], never invented.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::{
    Checks, Crm, CrmBatch, CrmError, Delivery, Result, Secret, Tracking, base64_of, hmac_sha256,
    malformed, record, rfc3339_from_millis, secure_eq,
};

pub const SIGNATURE_HEADER: &str = "x-hubspot-signature-v3";
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";
/// HubSpot: reject requests whose timestamp is older than 5 minutes.
pub const MAX_AGE_MILLIS: i64 = 5 * 60 * 1000;

/// HubSpot's ids of the object types in generic (`object.*`) subscriptions.
const CONTACT_TYPE_ID: &str = "0-1";
const DEAL_TYPE_ID: &str = "0-3";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The app's client secret, which signs `X-HubSpot-Signature-v3`.
    pub client_secret: Secret,
    /// Deal stage id → the name to store (custom pipelines have numeric stage ids).
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    /// Stage ids that mean the deal is won, besides the default pipeline's `closedwon`.
    #[serde(default)]
    pub won_stages: Vec<String>,
    /// Stage ids that mean the deal is lost, besides the default pipeline's `closedlost`.
    #[serde(default)]
    pub lost_stages: Vec<String>,
}

pub fn read(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<CrmBatch> {
    verify(settings, delivery, checks)?;
    let payload: Value = serde_json::from_slice(delivery.body)
        .map_err(|e| malformed(Crm::HubSpot, format!("not JSON: {e}")))?;
    map_events(settings, &payload)
}

/// Checks the v3 signature (unless `checks.verify` is off), then the timestamp's age.
fn verify(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<()> {
    if !checks.verify && !checks.freshness {
        return Ok(());
    }
    let timestamp = delivery
        .header(TIMESTAMP_HEADER)
        .ok_or_else(|| CrmError::Unverified(format!("no {TIMESTAMP_HEADER} header")))?;
    if checks.verify {
        let secret = settings.client_secret.expose();
        let given = delivery
            .header(SIGNATURE_HEADER)
            .ok_or_else(|| CrmError::Unverified(format!("no {SIGNATURE_HEADER} header")))?;
        let url = signed_url(delivery.url);
        let expected = base64_of(&hmac_sha256(
            secret.as_bytes(),
            &[
                delivery.method.as_bytes(),
                url.as_bytes(),
                delivery.body,
                timestamp.as_bytes(),
            ],
        ));
        if secret.is_empty() || !secure_eq(expected.as_bytes(), given.trim().as_bytes()) {
            return Err(CrmError::Unverified(
                "X-HubSpot-Signature-v3 does not match".into(),
            ));
        }
    }
    if checks.freshness {
        let millis: i64 = timestamp.trim().parse().map_err(|_| {
            CrmError::Unverified(format!("{TIMESTAMP_HEADER} {timestamp:?} is not a number"))
        })?;
        if checks.now.timestamp_millis().saturating_sub(millis) > MAX_AGE_MILLIS {
            return Err(CrmError::Stale(format!(
                "{TIMESTAMP_HEADER} {millis} is more than 5 minutes old"
            )));
        }
    }
    Ok(())
}

/// The URL as HubSpot signs it: these percent-escapes (either hex case) are decoded, all
/// others are kept as sent.
pub fn signed_url(url: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let decoded = after.get(..2).and_then(|hex| {
            DECODED
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(hex))
                .map(|(_, c)| *c)
        });
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[2..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a verified delivery's events say.
pub(crate) fn map_events(settings: &Settings, payload: &Value) -> Result<CrmBatch> {
    let events = payload
        .as_array()
        .ok_or_else(|| malformed(Crm::HubSpot, "the body is not a JSON array of events"))?;
    let mut batch = CrmBatch::default();
    // Deal → contacts associated in this delivery, for the deal's `created` event.
    let mut contacts_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut associations = Vec::new();
    let mut created = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let Some(event) = Event::new(index, event)? else {
            batch
                .ignored
                .push(format!("events[{index}]: not an object"));
            continue;
        };
        match (event.object_kind(), event.action()) {
            (Some(Kind::Contact), Action::Creation) => {
                let id = event.object_id()?;
                let lead_id = format!("hubspot-contact-{id}");
                let lead = record([
                    ("lead_id", Some(lead_id.clone())),
                    ("ts", Some(event.occurred_at()?)),
                    ("source", Some(Crm::HubSpot.name().to_owned())),
                ]);
                batch.add_lead(lead, &Tracking::default());
                batch.not_in_payload.push(format!(
                    "lead {lead_id}: e-mail, phone and tracking properties are not in HubSpot webhooks; fetch them from the CRM API"
                ));
            }
            (Some(Kind::Deal), Action::Creation) => {
                let deal_id = format!("hubspot-deal-{}", event.object_id()?);
                let row = record([
                    ("event_id", Some(event.row_id(&deal_id))),
                    ("deal_id", Some(deal_id.clone())),
                    ("ts", Some(event.occurred_at()?)),
                    ("type", Some("created".to_owned())),
                ]);
                created.push(batch.deal_events.len());
                batch.deal_events.push(row);
                batch.not_in_payload.push(format!(
                    "deal {deal_id}: amount, currency, stage and owner are not in HubSpot webhooks; fetch them from the CRM API"
                ));
            }
            (Some(Kind::Deal), Action::PropertyChange) => {
                deal_property(settings, &event, &mut batch)?;
            }
            (_, Action::AssociationChange) => match event.deal_contact()? {
                Some(link) => {
                    if !link.removed {
                        contacts_of
                            .entry(link.deal_id.clone())
                            .or_default()
                            .insert(link.lead_id.clone());
                    }
                    associations.push(link);
                }
                None => batch.ignored.push(event.describe()),
            },
            _ => batch.ignored.push(event.describe()),
        }
    }
    // A deal created in this delivery with exactly one contact associated in it: the
    // payload itself links them, so the `created` event carries the lead.
    let mut linked = BTreeSet::new();
    for index in created {
        if let Some(row) = batch.deal_events.get_mut(index) {
            let deal_id = row.get("deal_id").cloned().unwrap_or_default();
            if let Some(contacts) = contacts_of.get(&deal_id)
                && contacts.len() == 1
                && let Some(lead_id) = contacts.first()
            {
                row.insert("lead_id".into(), lead_id.clone());
                linked.insert(deal_id);
            }
        }
    }
    for link in associations {
        if linked.contains(&link.deal_id) {
            continue;
        }
        let what = if link.removed {
            "was unlinked from"
        } else {
            "was linked to"
        };
        batch.not_in_payload.push(format!(
            "deal {} {what} contact {}: deal_events has no association event, so the deal's lead_id is set from its created event; fetch the deal's contacts from the CRM API",
            link.deal_id, link.lead_id
        ));
    }
    Ok(batch)
}

fn deal_property(settings: &Settings, event: &Event, batch: &mut CrmBatch) -> Result<()> {
    let deal_id = format!("hubspot-deal-{}", event.object_id()?);
    let property = event.text("propertyName").unwrap_or_default();
    match property.as_str() {
        "dealstage" => {
            let stage = event.text("propertyValue").ok_or_else(|| {
                event.malformed("propertyValue", "is missing for a dealstage change")
            })?;
            let won = stage == "closedwon" || settings.won_stages.contains(&stage);
            let lost = stage == "closedlost" || settings.lost_stages.contains(&stage);
            let name = settings.stages.get(&stage).cloned().unwrap_or(stage);
            let kind = if won {
                "won"
            } else if lost {
                "lost"
            } else {
                "stage_changed"
            };
            batch.deal_events.push(record([
                ("event_id", Some(event.row_id(&deal_id))),
                ("deal_id", Some(deal_id.clone())),
                ("ts", Some(event.occurred_at()?)),
                ("type", Some(kind.to_owned())),
                ("stage", Some(name)),
            ]));
            match kind {
                "won" => batch.not_in_payload.push(format!(
                    "deal {deal_id} won: amount and currency are not in HubSpot webhooks; fetch them from the CRM API"
                )),
                "lost" => batch.not_in_payload.push(format!(
                    "deal {deal_id} lost: the loss reason (closed_lost_reason) is not in HubSpot webhooks; fetch it from the CRM API"
                )),
                _ => {}
            }
        }
        "amount" => batch.not_in_payload.push(format!(
            "deal {deal_id}: amount changed to {:?}, but HubSpot webhooks carry no currency, so it is not a row; fetch amount and deal_currency_code from the CRM API",
            event.text("propertyValue").unwrap_or_default()
        )),
        _ => batch.ignored.push(event.describe()),
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Contact,
    Deal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Creation,
    PropertyChange,
    AssociationChange,
    Other,
}

/// A deal–contact association event.
struct Link {
    deal_id: String,
    lead_id: String,
    removed: bool,
}

/// One event of the array, with the position for error messages.
struct Event<'a> {
    index: usize,
    fields: &'a serde_json::Map<String, Value>,
    subscription: String,
}

impl<'a> Event<'a> {
    fn new(index: usize, value: &'a Value) -> Result<Option<Self>> {
        let Some(fields) = value.as_object() else {
            return Ok(None);
        };
        let subscription = fields
            .get("subscriptionType")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                malformed(
                    Crm::HubSpot,
                    format!("events[{index}].subscriptionType is missing"),
                )
            })?
            .to_owned();
        Ok(Some(Event {
            index,
            fields,
            subscription,
        }))
    }

    fn malformed(&self, field: &str, reason: &str) -> CrmError {
        malformed(
            Crm::HubSpot,
            format!("events[{}].{field} {reason}", self.index),
        )
    }

    fn text(&self, field: &str) -> Option<String> {
        id_text(self.fields.get(field)?)
    }

    /// `contact.creation` → contact; `object.creation` → from `objectTypeId`.
    fn object_kind(&self) -> Option<Kind> {
        let (object, _) = self.subscription.split_once('.')?;
        match object {
            "contact" => Some(Kind::Contact),
            "deal" => Some(Kind::Deal),
            "object" => match self.text("objectTypeId").as_deref() {
                Some(CONTACT_TYPE_ID) => Some(Kind::Contact),
                Some(DEAL_TYPE_ID) => Some(Kind::Deal),
                _ => None,
            },
            _ => None,
        }
    }

    fn action(&self) -> Action {
        match self.subscription.split_once('.').map(|(_, a)| a) {
            Some("creation") => Action::Creation,
            Some("propertyChange") => Action::PropertyChange,
            Some("associationChange") => Action::AssociationChange,
            _ => Action::Other,
        }
    }

    fn object_id(&self) -> Result<String> {
        self.text("objectId")
            .ok_or_else(|| self.malformed("objectId", "is missing or not an id"))
    }

    fn occurred_at(&self) -> Result<String> {
        self.fields
            .get("occurredAt")
            .and_then(Value::as_i64)
            .and_then(rfc3339_from_millis)
            .ok_or_else(|| self.malformed("occurredAt", "is missing or not Unix milliseconds"))
    }

    /// The row's event id: HubSpot's `eventId` (the same in every retry) with the deal,
    /// as HubSpot does not promise `eventId` is unique on its own.
    fn row_id(&self, deal_id: &str) -> String {
        match self.text("eventId") {
            Some(id) => format!("{deal_id}-event-{id}"),
            None => format!(
                "{deal_id}-{}-{}",
                self.subscription,
                self.text("occurredAt").unwrap_or_default()
            ),
        }
    }

    fn describe(&self) -> String {
        match self.text("propertyName") {
            Some(property) => format!("{}:{property}", self.subscription),
            None => self.subscription.clone(),
        }
    }

    /// A deal–contact association, in the legacy (`associationType: DEAL_TO_CONTACT`) or
    /// the generic (`fromObjectTypeId` / `toObjectTypeId`) shape; `None` for others.
    fn deal_contact(&self) -> Result<Option<Link>> {
        let kinds = match self.text("associationType").as_deref() {
            Some("DEAL_TO_CONTACT") => Some((Kind::Deal, Kind::Contact)),
            Some("CONTACT_TO_DEAL") => Some((Kind::Contact, Kind::Deal)),
            Some(_) => None,
            None => match (
                self.text("fromObjectTypeId").as_deref(),
                self.text("toObjectTypeId").as_deref(),
            ) {
                (Some(DEAL_TYPE_ID), Some(CONTACT_TYPE_ID)) => Some((Kind::Deal, Kind::Contact)),
                (Some(CONTACT_TYPE_ID), Some(DEAL_TYPE_ID)) => Some((Kind::Contact, Kind::Deal)),
                _ => None,
            },
        };
        let Some((from_kind, _)) = kinds else {
            return Ok(None);
        };
        let from = self
            .text("fromObjectId")
            .ok_or_else(|| self.malformed("fromObjectId", "is missing or not an id"))?;
        let to = self
            .text("toObjectId")
            .ok_or_else(|| self.malformed("toObjectId", "is missing or not an id"))?;
        let (deal, contact) = if from_kind == Kind::Deal {
            (from, to)
        } else {
            (to, from)
        };
        Ok(Some(Link {
            deal_id: format!("hubspot-deal-{deal}"),
            lead_id: format!("hubspot-contact-{contact}"),
            removed: self
                .fields
                .get("associationRemoved")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }))
    }
}

/// An id or short value as text: strings and integers (HubSpot sends ids as numbers).
fn id_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {

    use chrono::{DateTime, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::crm::test_support::{assert_valid, record_of as row};

    const SECRET: &str = "a3c1f7e2-5b9d-4c8e-9f10-2d6b8e4a7c01";
    const URL: &str = "https://collect.example.com/v1/webhooks/hubspot?tenant=acme";
    const BATCH: &str = include_str!("../../tests/fixtures/crm/hubspot/batch.json");
    const CLOSED: &str = include_str!("../../tests/fixtures/crm/hubspot/closed.json");
    const OBJECT_EVENTS: &str = include_str!("../../tests/fixtures/crm/hubspot/object_events.json");

    fn settings() -> Settings {
        toml::from_str(&format!(
            r#"
            client_secret = "{SECRET}"
            won_stages = ["118042934"]
            [stages]
            presentationscheduled = "Presentation scheduled"
            "#
        ))
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn sign(method: &str, url: &str, body: &str, timestamp: &str) -> String {
        base64_of(&hmac_sha256(
            SECRET.as_bytes(),
            &[
                method.as_bytes(),
                url.as_bytes(),
                body.as_bytes(),
                timestamp.as_bytes(),
            ],
        ))
    }

    fn headers(signature: Option<String>, timestamp: &str) -> Vec<(String, String)> {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (TIMESTAMP_HEADER.to_owned(), timestamp.to_owned()),
        ];
        if let Some(signature) = signature {
            headers.push((SIGNATURE_HEADER.to_owned(), signature));
        }
        headers
    }

    fn deliver(
        url: &str,
        body: &str,
        headers: &[(String, String)],
        checks: Checks,
    ) -> Result<CrmBatch> {
        let delivery = Delivery {
            method: "POST",
            url,
            headers,
            body: body.as_bytes(),
        };
        read(&settings(), &delivery, &checks)
    }

    /// A delivery signed a minute before `now()`.
    fn signed(body: &str) -> Result<CrmBatch> {
        let ts = (now().timestamp_millis() - 60_000).to_string();
        let headers = headers(Some(sign("POST", URL, body, &ts)), &ts);
        deliver(URL, body, &headers, Checks::live(now()))
    }

    #[test]
    fn maps_contact_deal_stage_and_association() {
        let batch = signed(BATCH).unwrap();
        assert_valid(&batch);
        assert_eq!(
            batch.leads,
            vec![row(&[
                ("lead_id", "hubspot-contact-90817264510"),
                ("ts", "2026-11-01T10:00:00+00:00"),
                ("source", "hubspot"),
            ])]
        );
        assert!(batch.touchpoints.is_empty());
        assert_eq!(
            batch.deal_events,
            vec![
                row(&[
                    ("event_id", "hubspot-deal-27150394861-event-1832651035"),
                    ("deal_id", "hubspot-deal-27150394861"),
                    ("lead_id", "hubspot-contact-90817264510"),
                    ("ts", "2026-11-01T10:01:00+00:00"),
                    ("type", "created"),
                ]),
                row(&[
                    ("event_id", "hubspot-deal-27150394861-event-1832651040"),
                    ("deal_id", "hubspot-deal-27150394861"),
                    ("ts", "2026-11-02T10:00:00+00:00"),
                    ("type", "stage_changed"),
                    ("stage", "Presentation scheduled"),
                ]),
            ]
        );
        assert_eq!(batch.ignored, vec!["contact.propertyChange:lifecyclestage"]);
        let said = batch.not_in_payload.join("\n");
        assert!(
            said.contains("lead hubspot-contact-90817264510: e-mail"),
            "{said}"
        );
        assert!(
            said.contains("deal hubspot-deal-27150394861: amount, currency"),
            "{said}"
        );
        assert!(said.contains("amount changed to \"48500\""), "{said}");
        // The association linked the created event, so it is not repeated as missing.
        assert!(!said.contains("was linked to"), "{said}");
    }

    #[test]
    fn closed_stages_are_won_and_lost() {
        let batch = signed(CLOSED).unwrap();
        assert_valid(&batch);
        let kinds: Vec<(&str, &str, &str)> = batch
            .deal_events
            .iter()
            .map(|r| (r["deal_id"].as_str(), r["type"].as_str(), r["ts"].as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    "hubspot-deal-27150394861",
                    "won",
                    "2026-11-09T10:00:00+00:00"
                ),
                (
                    "hubspot-deal-27150398802",
                    "lost",
                    "2026-11-09T11:00:00+00:00"
                ),
                (
                    "hubspot-deal-27150401177",
                    "won",
                    "2026-11-09T12:00:00+00:00"
                ),
            ]
        );
        assert_eq!(batch.deal_events[0]["stage"], "closedwon");
        assert_eq!(
            batch.deal_events[0]["event_id"],
            "hubspot-deal-27150394861-event-1832660001"
        );
        assert!(batch.deal_events.iter().all(|r| !r.contains_key("amount")));
        let said = batch.not_in_payload.join("\n");
        assert!(said.contains("deal hubspot-deal-27150394861 won: amount and currency"));
        assert!(said.contains("deal hubspot-deal-27150398802 lost: the loss reason"));
    }

    #[test]
    fn generic_object_subscriptions() {
        let batch = signed(OBJECT_EVENTS).unwrap();
        assert_valid(&batch);
        assert_eq!(batch.leads[0]["lead_id"], "hubspot-contact-90817269999");
        assert_eq!(
            batch.deal_events,
            vec![row(&[
                ("event_id", "hubspot-deal-27150412000-event-3120477002"),
                ("deal_id", "hubspot-deal-27150412000"),
                ("ts", "2026-11-01T11:01:00+00:00"),
                ("type", "won"),
                ("stage", "closedwon"),
            ])]
        );
        // No created event in this delivery to carry the contact: said, not invented.
        assert!(batch.not_in_payload.iter().any(|s| s.contains(
            "deal hubspot-deal-27150412000 was linked to contact hubspot-contact-90817269999"
        )));
    }

    #[test]
    fn retried_delivery_gives_the_same_batch() {
        let first = signed(BATCH).unwrap();
        let ts = (now().timestamp_millis() - 1_000).to_string();
        let headers = headers(Some(sign("POST", URL, BATCH, &ts)), &ts);
        let retry = deliver(URL, BATCH, &headers, Checks::live(now())).unwrap();
        assert_eq!(first, retry);
    }

    #[test]
    fn rejects_bad_missing_and_stale_signatures() {
        let ts = (now().timestamp_millis() - 60_000).to_string();
        let live = Checks::live(now());
        let missing = headers(None, &ts);
        assert!(matches!(
            deliver(URL, BATCH, &missing, live),
            Err(CrmError::Unverified(_))
        ));
        let wrong = headers(Some(sign("POST", URL, CLOSED, &ts)), &ts);
        assert!(matches!(
            deliver(URL, BATCH, &wrong, live),
            Err(CrmError::Unverified(_))
        ));
        let other_url = headers(
            Some(sign("POST", "https://evil.example/hook", BATCH, &ts)),
            &ts,
        );
        assert!(matches!(
            deliver(URL, BATCH, &other_url, live),
            Err(CrmError::Unverified(_))
        ));
        let old = (now().timestamp_millis() - MAX_AGE_MILLIS - 1).to_string();
        let stale = headers(Some(sign("POST", URL, BATCH, &old)), &old);
        assert!(matches!(
            deliver(URL, BATCH, &stale, live),
            Err(CrmError::Stale(_))
        ));
        // Replaying a kept delivery: the signature still counts, the age does not.
        assert!(deliver(URL, BATCH, &stale, Checks::replay(now(), false)).is_ok());
        assert!(matches!(
            deliver(URL, BATCH, &wrong, Checks::replay(now(), false)),
            Err(CrmError::Unverified(_))
        ));
        // Verified when it arrived: the kept body is read without the secret.
        assert!(deliver(URL, BATCH, &missing, Checks::replay(now(), true)).is_ok());
        let empty: Settings = toml::from_str(r#"client_secret = """#).unwrap();
        let no_secret = headers(
            Some(base64_of(&hmac_sha256(
                b"",
                &[b"POST", URL.as_bytes(), BATCH.as_bytes(), ts.as_bytes()],
            ))),
            &ts,
        );
        let delivery = Delivery {
            method: "POST",
            url: URL,
            headers: &no_secret,
            body: BATCH.as_bytes(),
        };
        assert!(matches!(
            read(&empty, &delivery, &live),
            Err(CrmError::Unverified(_))
        ));
    }

    #[test]
    fn signs_the_url_with_hubspots_decoded_characters() {
        assert_eq!(
            signed_url("https://h.example/v1/webhooks/hubspot?tenant=acme%3Aeu%2c1%20x%zz%4"),
            "https://h.example/v1/webhooks/hubspot?tenant=acme:eu,1%20x%zz%4"
        );
        let sent = "https://collect.example.com/v1/webhooks/hubspot?tenant=acme%3Aeu";
        let signed_as = "https://collect.example.com/v1/webhooks/hubspot?tenant=acme:eu";
        let ts = (now().timestamp_millis() - 60_000).to_string();
        let headers = headers(Some(sign("POST", signed_as, BATCH, &ts)), &ts);
        assert!(deliver(sent, BATCH, &headers, Checks::live(now())).is_ok());
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let cases = [
            ("{\"eventId\":1}", "JSON array"),
            ("[{\"eventId\":1}]", "events[0].subscriptionType"),
            (
                r#"[{"subscriptionType":"deal.creation","occurredAt":1793527200000}]"#,
                "events[0].objectId",
            ),
            (
                r#"[{"subscriptionType":"contact.creation","objectId":5,"occurredAt":"soon"}]"#,
                "events[0].occurredAt",
            ),
            (
                r#"[{"subscriptionType":"deal.propertyChange","objectId":5,"occurredAt":1,"propertyName":"dealstage"}]"#,
                "events[0].propertyValue",
            ),
            ("[{", "not JSON"),
        ];
        for (body, field) in cases {
            match signed(body) {
                Err(CrmError::Malformed { reason, .. }) => {
                    assert!(reason.contains(field), "{body}: {reason}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_events_are_ignored() {
        let body = r#"[{"subscriptionType":"company.creation","objectId":1,"occurredAt":1},
                       {"subscriptionType":"contact.associationChange","associationType":"CONTACT_TO_COMPANY","fromObjectId":1,"toObjectId":2}, 7]"#;
        let batch = signed(body).unwrap();
        assert!(batch.is_empty());
        assert_eq!(
            batch.ignored,
            vec![
                "company.creation",
                "contact.associationChange",
                "events[2]: not an object"
            ]
        );
    }

    fn json() -> impl Strategy<Value = Value> {
        crate::crm::test_support::vendor_json(
            vec![
                "eventId",
                "subscriptionType",
                "objectId",
                "objectTypeId",
                "occurredAt",
                "propertyName",
                "propertyValue",
                "associationType",
                "fromObjectId",
                "toObjectId",
                "fromObjectTypeId",
                "toObjectTypeId",
                "associationRemoved",
            ],
            vec![
                "contact.creation",
                "deal.creation",
                "deal.propertyChange",
                "deal.associationChange",
                "object.creation",
                "object.propertyChange",
                "object.associationChange",
                "dealstage",
                "amount",
                "closedwon",
                "closedlost",
                "DEAL_TO_CONTACT",
                "CONTACT_TO_DEAL",
                "0-1",
                "0-3",
                "",
            ],
        )
    }

    proptest! {
        #[test]
        fn arbitrary_deliveries_never_panic(
            body in prop::collection::vec(any::<u8>(), 0..256),
            signature in ".{0,64}",
            timestamp in ".{0,20}",
            url in ".{0,80}",
        ) {
            let headers = headers(Some(signature), &timestamp);
            let delivery = Delivery { method: "POST", url: &url, headers: &headers, body: &body };
            let _ = read(&settings(), &delivery, &Checks::live(now()));
            let _ = signed_url(&url);
        }

        #[test]
        fn arbitrary_events_never_panic(events in prop::collection::vec(json(), 0..6)) {
            let _ = map_events(&settings(), &Value::Array(events));
        }
    }
}
