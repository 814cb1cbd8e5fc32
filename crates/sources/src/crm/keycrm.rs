//! KeyCRM webhooks, sent by the "Send Webhook" action of a trigger automation as JSON:
//! `{"event": "order.change_order_status" | "order.change_payment_status" |
//! "lead.change_lead_status", "context": {…the order or pipeline card…}}`. KeyCRM does not
//! sign deliveries, so the webhook URL carries a `?token=` that is checked against the
//! tenant's.
//!
//! A pipeline card is the first contact: every card event gives a lead row
//! `keycrm-lead-<id>` and the deal's `created` event (both keyed by the card, so they are
//! stored once however many events arrive), plus the status change when there was one.
//! Orders give the client's lead and, once completed or paid, an `orders` row. KeyCRM
//! times are UTC (`2026-08-03 09:15:42`, or RFC 3339).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Checks, Crm, CrmBatch, Delivery, Result, Secret, Tracking, TrackingFields, check_token,
    malformed, record,
};

const CRM: Crm = Crm::KeyCrm;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The token in the webhook URL (`?token=`): KeyCRM does not sign deliveries.
    pub token: Secret,
    /// Canonical tracking field → KeyCRM custom field uuid / name.
    #[serde(default)]
    pub tracking_fields: TrackingFields,
    /// The currency of orders whose payload has none (ISO 4217).
    #[serde(default)]
    pub currency: Option<String>,
    /// Pipeline status id → stage name (KeyCRM sends ids); unmapped ids are the stage.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
    /// Pipeline status ids that close a card as won.
    #[serde(default)]
    pub won_statuses: Vec<String>,
    /// Pipeline status ids that close a card as lost.
    #[serde(default)]
    pub lost_statuses: Vec<String>,
    /// Order status group of completed orders (5, "Виконано", by default).
    #[serde(default = "default_completed_group")]
    pub completed_status_group: String,
    /// Order status group of cancelled orders (6, "Скасовано", by default).
    #[serde(default = "default_cancelled_group")]
    pub cancelled_status_group: String,
    /// Source id → source name for leads (`source` is `keycrm` when unmapped).
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

fn default_completed_group() -> String {
    "5".into()
}

fn default_cancelled_group() -> String {
    "6".into()
}

pub fn read(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<CrmBatch> {
    // A replayed delivery that was verified on arrival is not checked again.
    if checks.verify {
        check_token(
            CRM,
            &settings.token,
            delivery.query_param("token").as_deref(),
        )?;
    }
    let payload: Value = serde_json::from_slice(delivery.body)
        .map_err(|e| malformed(CRM, format!("not JSON: {e}")))?;
    let event = payload
        .get("event")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| malformed(CRM, "event is missing or not a string"))?;
    let context = payload
        .get("context")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed(CRM, "context is missing or not an object"))?;
    let mut batch = CrmBatch::default();
    match event {
        "order.change_order_status" | "order.change_payment_status" => {
            order(settings, context, &mut batch)?
        }
        "lead.change_lead_status" => card(settings, delivery, checks, context, &mut batch)?,
        other => batch.ignored.push(other.to_owned()),
    }
    Ok(batch)
}

fn order(settings: &Settings, context: &Map<String, Value>, batch: &mut CrmBatch) -> Result<()> {
    let id = id(context, "id")?;
    let ts = time(context, "created_at")?;
    let contact = context.get("buyer").or_else(|| context.get("client"));
    let email = contact.and_then(|c| text(c.get("email")));
    let phone = contact.and_then(|c| text(c.get("phone")));
    let lead_id = text(context.get("client_id"))
        .or_else(|| contact.and_then(|c| text(c.get("id"))))
        .map(|client| format!("keycrm-client-{client}"));
    if let Some(lead_id) = &lead_id {
        let lead = record([
            ("lead_id", Some(lead_id.clone())),
            ("ts", Some(ts.clone())),
            ("email", email.clone()),
            ("phone", phone.clone()),
            ("source", Some(source(settings, context))),
            ("manager", text(context.get("manager_id"))),
        ]);
        let tracking = tracking(settings, context);
        batch.add_lead(lead, &tracking);
    }
    let group = text(context.get("status_group_id"));
    if group.as_deref() == Some(settings.cancelled_status_group.as_str()) {
        batch
            .ignored
            .push(format!("order {id} cancelled: no order row"));
        return Ok(());
    }
    let completed = group.as_deref() == Some(settings.completed_status_group.as_str());
    let paid = text(context.get("payment_status")).as_deref() == Some("paid");
    if !(completed || paid) {
        batch.ignored.push(format!(
            "order {id} in status {}: not completed or paid yet",
            text(context.get("status_id")).unwrap_or_else(|| "?".into())
        ));
        return Ok(());
    }
    let Some(amount) = text(context.get("grand_total")) else {
        batch.not_in_payload.push(format!(
            "order {id}: grand_total is not in the payload; no order row"
        ));
        return Ok(());
    };
    let currency = text(context.get("currency"))
        .or_else(|| settings.currency.clone().filter(|c| !c.trim().is_empty()));
    let Some(currency) = currency else {
        batch.not_in_payload.push(format!(
            "order {id}: the currency is not in the KeyCRM payload; set currency in [crm.keycrm] to record the order"
        ));
        return Ok(());
    };
    batch.orders.push(record([
        ("order_id", Some(format!("keycrm-order-{id}"))),
        ("ts", Some(ts)),
        ("lead_id", lead_id),
        ("email", email),
        ("phone", phone),
        ("amount", Some(amount)),
        ("currency", Some(currency)),
    ]));
    Ok(())
}

fn card(
    settings: &Settings,
    delivery: &Delivery,
    checks: &Checks,
    context: &Map<String, Value>,
    batch: &mut CrmBatch,
) -> Result<()> {
    let id = id(context, "id")?;
    let optional_time = |key| match context.get(key) {
        Some(Value::Null) | None => Ok(None),
        Some(_) => time(context, key).map(Some),
    };
    let changed = optional_time("status_changed_at")?;
    let lead_id = format!("keycrm-lead-{id}");
    let deal_id = format!("keycrm-deal-{id}");
    let manager = text(context.get("manager_id"));
    // A minimal card context (id and status, no created_at) is a status change of a card
    // whose lead came earlier: nothing is invented about its creation.
    let Some(created) = optional_time("created_at")? else {
        let status = text(context.get("status_id")).ok_or_else(|| {
            malformed(
                CRM,
                "context.created_at and context.status_id are both missing: the card event says nothing",
            )
        })?;
        let ts = changed.unwrap_or_else(|| {
            batch.not_in_payload.push(format!(
                "card {id}: no created_at or status_changed_at in the payload; the status change is dated when the webhook arrived"
            ));
            checks.now.to_rfc3339()
        });
        push_status_change(settings, delivery, batch, &id, ts, &status, manager);
        return Ok(());
    };
    let contact = context.get("contact");
    let lead = record([
        ("lead_id", Some(lead_id.clone())),
        ("ts", Some(created.clone())),
        ("email", contact.and_then(|c| text(c.get("email")))),
        ("phone", contact.and_then(|c| text(c.get("phone")))),
        ("source", Some(source(settings, context))),
        ("manager", manager.clone()),
    ]);
    let tracking = tracking(settings, context);
    batch.add_lead(lead, &tracking);
    if contact.is_none()
        && let Some(contact_id) = text(context.get("contact_id"))
    {
        batch.not_in_payload.push(format!(
            "card {id}: the contact's e-mail and phone are not in the payload (contact {contact_id}); fetch them with GET /pipelines/cards/{id}?include=contact"
        ));
    }
    let status = text(context.get("status_id"));
    let stage = status.as_deref().map(|s| stage_of(settings, s));
    // A card whose status never changed is a new card: its status is its first stage.
    let is_new = changed.as_ref().is_none_or(|c| same_instant(c, &created));
    batch.deal_events.push(record([
        ("event_id", Some(format!("{deal_id}-created"))),
        ("deal_id", Some(deal_id.clone())),
        ("lead_id", Some(lead_id.clone())),
        ("ts", Some(created)),
        ("type", Some("created".to_owned())),
        ("stage", stage.clone().filter(|_| is_new)),
        ("manager", manager.clone()),
    ]));
    if let (Some(ts), Some(status), false) = (changed, status, is_new) {
        push_status_change(settings, delivery, batch, &id, ts, &status, manager);
    }
    Ok(())
}

fn stage_of(settings: &Settings, status: &str) -> String {
    settings
        .statuses
        .get(status)
        .cloned()
        .unwrap_or_else(|| status.to_owned())
}

/// A card moved to `status` at `ts`: a won, lost or stage-changed deal event.
fn push_status_change(
    settings: &Settings,
    delivery: &Delivery,
    batch: &mut CrmBatch,
    id: &str,
    ts: String,
    status: &str,
    manager: Option<String>,
) {
    let kind = if settings.won_statuses.iter().any(|s| s == status) {
        batch.not_in_payload.push(format!(
            "card {id} won: its amount is not in the payload; fetch it with GET /pipelines/cards/{id}?include=products"
        ));
        "won"
    } else if settings.lost_statuses.iter().any(|s| s == status) {
        "lost"
    } else {
        "stage_changed"
    };
    batch.deal_events.push(record([
        (
            "event_id",
            Some(format!("keycrm-{}-0", delivery.payload_id())),
        ),
        ("deal_id", Some(format!("keycrm-deal-{id}"))),
        ("lead_id", Some(format!("keycrm-lead-{id}"))),
        ("ts", Some(ts)),
        ("type", Some(kind.to_owned())),
        ("stage", Some(stage_of(settings, status))),
        ("manager", manager),
    ]));
}

fn source(settings: &Settings, context: &Map<String, Value>) -> String {
    text(context.get("source_id"))
        .and_then(|id| settings.sources.get(&id).cloned())
        .unwrap_or_else(|| CRM.name().to_owned())
}

/// UTM tags from the record (`utm_source` … on cards, `marketing.utm_*` on orders), then
/// the tenant's custom fields (`custom_fields: [{uuid, name, value}]`), which win.
fn tracking(settings: &Settings, context: &Map<String, Value>) -> Tracking {
    let custom: Vec<&Value> = context
        .get("custom_fields")
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default();
    let mut tracking = settings.tracking_fields.read(|key| {
        custom
            .iter()
            .find(|f| {
                text(f.get("uuid")).as_deref() == Some(key)
                    || text(f.get("name")).as_deref() == Some(key)
            })
            .and_then(|f| text(f.get("value")))
    });
    let marketing = context.get("marketing").and_then(Value::as_object);
    for column in throughline_model::tracking::UTM_PARAMS {
        if tracking.utm.contains_key(column) {
            continue;
        }
        let value =
            text(context.get(column)).or_else(|| marketing.and_then(|m| text(m.get(column))));
        if let Some(value) = value {
            tracking.set(column, &value);
        }
    }
    tracking
}

/// A JSON scalar as trimmed text; empty strings, nulls, objects and arrays are nothing.
fn text(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

fn id(context: &Map<String, Value>, key: &str) -> Result<String> {
    text(context.get(key))
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| malformed(CRM, format!("context.{key} is missing or not a number")))
}

/// A KeyCRM time (UTC, `2026-08-03 09:15:42` or RFC 3339) as RFC 3339.
fn time(context: &Map<String, Value>, key: &str) -> Result<String> {
    let raw = text(context.get(key))
        .ok_or_else(|| malformed(CRM, format!("context.{key} is missing")))?;
    super::vendor_time(&raw)
        .map(|t| t.to_rfc3339())
        .ok_or_else(|| malformed(CRM, format!("context.{key} {raw:?} is not a time")))
}

fn same_instant(a: &str, b: &str) -> bool {
    super::vendor_time(a) == super::vendor_time(b)
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::crm::CrmError;
    use crate::crm::test_support::{assert_valid, record_of as rec};

    const ORDER_COMPLETED: &str =
        include_str!("../../tests/fixtures/crm/keycrm/order_completed.json");
    const ORDER_NEW: &str = include_str!("../../tests/fixtures/crm/keycrm/order_new.json");
    const ORDER_CANCELLED: &str =
        include_str!("../../tests/fixtures/crm/keycrm/order_cancelled.json");
    const ORDER_PAID: &str = include_str!("../../tests/fixtures/crm/keycrm/order_paid.json");
    const CARD_CREATED: &str = include_str!("../../tests/fixtures/crm/keycrm/card_created.json");
    const CARD_STAGE: &str = include_str!("../../tests/fixtures/crm/keycrm/card_stage.json");
    const CARD_WON: &str = include_str!("../../tests/fixtures/crm/keycrm/card_won.json");

    fn settings(currency: Option<&str>) -> Settings {
        let mut settings: Settings = toml::from_str(
            r#"
            token = "keycrm-t0ken"
            won_statuses = ["14"]
            lost_statuses = ["15"]
            [tracking_fields]
            fbclid = "LD_1001"
            [statuses]
            "11" = "New request"
            "12" = "Measured"
            "14" = "Paid"
            [sources]
            "3" = "instagram"
            "#,
        )
        .unwrap();
        settings.currency = currency.map(str::to_owned);
        settings
    }

    fn deliver(settings: &Settings, body: &str, token: Option<&str>) -> Result<CrmBatch> {
        let url = match token {
            Some(t) => format!("https://example.test/v1/webhooks/keycrm?tenant=acme&token={t}"),
            None => "https://example.test/v1/webhooks/keycrm?tenant=acme".to_owned(),
        };
        let delivery = Delivery {
            method: "POST",
            url: &url,
            headers: &[],
            body: body.as_bytes(),
        };
        read(settings, &delivery, &Checks::live(chrono::Utc::now()))
    }

    fn ok(settings: &Settings, body: &str) -> CrmBatch {
        let batch = deliver(settings, body, Some("keycrm-t0ken")).unwrap();
        assert_valid(&batch);
        batch
    }

    fn payload_id(body: &str) -> String {
        Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.as_bytes(),
        }
        .payload_id()
    }

    #[test]
    fn a_completed_order_is_an_order_row() {
        let batch = ok(&settings(Some("UAH")), ORDER_COMPLETED);
        assert_eq!(
            batch.orders,
            vec![rec(&[
                ("order_id", "keycrm-order-20417"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("lead_id", "keycrm-client-8812"),
                ("email", "olena.k@example.com"),
                ("phone", "+380671234567"),
                ("amount", "45800.5"),
                ("currency", "UAH"),
            ])]
        );
        assert_eq!(
            batch.leads,
            vec![rec(&[
                ("lead_id", "keycrm-client-8812"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("email", "olena.k@example.com"),
                ("phone", "+380671234567"),
                ("source", "keycrm"),
                ("manager", "5"),
            ])]
        );
        assert!(batch.deal_events.is_empty() && batch.not_in_payload.is_empty());
    }

    #[test]
    fn without_a_currency_no_order_is_invented() {
        let batch = ok(&settings(None), ORDER_COMPLETED);
        assert!(batch.orders.is_empty());
        assert_eq!(
            batch.not_in_payload,
            vec!["order 20417: the currency is not in the KeyCRM payload; set currency in [crm.keycrm] to record the order".to_owned()]
        );
    }

    #[test]
    fn new_paid_and_cancelled_orders() {
        let s = settings(Some("UAH"));
        let new = ok(&s, ORDER_NEW);
        assert!(new.orders.is_empty());
        assert_eq!(new.leads[0]["lead_id"], "keycrm-client-8840");
        assert_eq!(new.leads[0]["source"], "instagram");
        assert_eq!(new.touchpoints.len(), 1);
        assert_eq!(new.touchpoints[0]["utm_source"], "instagram");
        assert_eq!(new.touchpoints[0]["utm_medium"], "paid_social");
        assert_eq!(
            new.ignored,
            vec!["order 20431 in status 2: not completed or paid yet".to_owned()]
        );

        let paid = ok(&s, ORDER_PAID);
        assert_eq!(paid.orders.len(), 1);
        assert_eq!(paid.orders[0]["order_id"], "keycrm-order-20431");
        assert_eq!(paid.orders[0]["amount"], "1299.00");
        assert_eq!(paid.orders[0]["ts"], "2026-08-05T14:02:11+00:00");

        let cancelled = ok(&s, ORDER_CANCELLED);
        assert!(cancelled.orders.is_empty() && cancelled.deal_events.is_empty());
        assert_eq!(
            cancelled.ignored,
            vec!["order 20433 cancelled: no order row".to_owned()]
        );
    }

    #[test]
    fn a_new_card_is_a_lead_and_a_created_deal() {
        let batch = ok(&settings(None), CARD_CREATED);
        assert_eq!(
            batch.leads,
            vec![rec(&[
                ("lead_id", "keycrm-lead-3310"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("source", "instagram"),
                ("manager", "5"),
                ("click_id", "EAAGm0PX4ZCpsBA"),
                ("visitor_id", "keycrm-lead-3310-visitor"),
            ])]
        );
        assert_eq!(
            batch.deal_events,
            vec![rec(&[
                ("event_id", "keycrm-deal-3310-created"),
                ("deal_id", "keycrm-deal-3310"),
                ("lead_id", "keycrm-lead-3310"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("type", "created"),
                ("stage", "New request"),
                ("manager", "5"),
            ])]
        );
        let touch = &batch.touchpoints[0];
        assert_eq!(touch["utm_source"], "facebook");
        assert_eq!(touch["utm_campaign"], "sofa_launch");
        assert_eq!(touch["click_id"], "EAAGm0PX4ZCpsBA");
        assert_eq!(touch["click_id_type"], "fbclid");
        assert_eq!(
            batch.not_in_payload,
            vec!["card 3310: the contact's e-mail and phone are not in the payload (contact 7120); fetch them with GET /pipelines/cards/3310?include=contact".to_owned()]
        );
    }

    #[test]
    fn status_changes_are_stages_and_wins() {
        let s = settings(None);
        let stage = ok(&s, CARD_STAGE);
        assert_eq!(stage.deal_events.len(), 2);
        assert_eq!(stage.deal_events[0]["event_id"], "keycrm-deal-3310-created");
        assert!(!stage.deal_events[0].contains_key("stage"));
        assert_eq!(
            stage.deal_events[1],
            rec(&[
                ("event_id", &format!("keycrm-{}-0", payload_id(CARD_STAGE))),
                ("deal_id", "keycrm-deal-3310"),
                ("lead_id", "keycrm-lead-3310"),
                ("ts", "2026-08-04T12:00:00+00:00"),
                ("type", "stage_changed"),
                ("stage", "Measured"),
                ("manager", "5"),
            ])
        );
        let won = ok(&s, CARD_WON);
        assert_eq!(won.deal_events[1]["type"], "won");
        assert_eq!(won.deal_events[1]["stage"], "Paid");
        assert_eq!(won.deal_events[1]["ts"], "2026-08-10T15:30:00+00:00");
        assert!(!won.deal_events[1].contains_key("amount"));
        assert!(
            won.not_in_payload
                .iter()
                .any(|s| s.starts_with("card 3310 won: its amount is not in the payload"))
        );
    }

    #[test]
    fn a_minimal_card_context_is_a_status_change_at_arrival() {
        // KeyCRM's smallest card event: the card's id and its new status, nothing else.
        let body = r#"{"event":"lead.change_lead_status","context":{"id":3310,"status_id":14}}"#;
        let arrived = chrono::DateTime::parse_from_rfc3339("2026-08-10T15:30:05Z")
            .unwrap()
            .to_utc();
        let delivery = Delivery {
            method: "POST",
            url: "https://example.test/v1/webhooks/keycrm?tenant=acme&token=keycrm-t0ken",
            headers: &[],
            body: body.as_bytes(),
        };
        let batch = read(&settings(None), &delivery, &Checks::live(arrived)).unwrap();
        assert_valid(&batch);
        assert!(batch.leads.is_empty(), "{:?}", batch.leads);
        assert_eq!(
            batch.deal_events,
            vec![rec(&[
                ("event_id", &format!("keycrm-{}-0", payload_id(body))),
                ("deal_id", "keycrm-deal-3310"),
                ("lead_id", "keycrm-lead-3310"),
                ("ts", "2026-08-10T15:30:05+00:00"),
                ("type", "won"),
                ("stage", "Paid"),
            ])]
        );
        assert!(
            batch.not_in_payload[0].contains("dated when the webhook arrived"),
            "{:?}",
            batch.not_in_payload
        );
        // With status_changed_at, that time is the event's.
        let dated = r#"{"event":"lead.change_lead_status","context":{"id":3310,"status_id":12,"status_changed_at":"2026-08-04 12:00:00"}}"#;
        let batch = ok(&settings(None), dated);
        assert_eq!(batch.deal_events[0]["ts"], "2026-08-04T12:00:00+00:00");
        assert_eq!(batch.deal_events[0]["type"], "stage_changed");
    }

    #[test]
    fn tokens_are_checked() {
        let s = settings(None);
        assert!(matches!(
            deliver(&s, CARD_CREATED, None),
            Err(CrmError::Unverified(_))
        ));
        assert!(matches!(
            deliver(&s, CARD_CREATED, Some("nope")),
            Err(CrmError::Unverified(_))
        ));
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let s = settings(None);
        let err = |body: &str| match deliver(&s, body, Some("keycrm-t0ken")) {
            Err(CrmError::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(err("event=x").contains("not JSON"));
        assert!(err(r#"{"context":{}}"#).contains("event"));
        assert!(err(r#"{"event":"lead.change_lead_status","context":[]}"#).contains("context"));
        assert!(err(r#"{"event":"lead.change_lead_status","context":{"created_at":"2026-08-03 09:15:42"}}"#).contains("context.id"));
        assert!(
            err(r#"{"event":"lead.change_lead_status","context":{"id":7}}"#)
                .contains("context.status_id")
        );
        assert!(err(r#"{"event":"order.change_order_status","context":{"id":7,"created_at":"yesterday"}}"#).contains("context.created_at"));
        let ignored = ok(
            &s,
            r#"{"event":"order.change_delivery","context":{"id":7}}"#,
        );
        assert_eq!(ignored.ignored, vec!["order.change_delivery".to_owned()]);
    }

    #[test]
    fn a_retried_delivery_is_the_same_batch() {
        let s = settings(Some("UAH"));
        for body in [
            ORDER_COMPLETED,
            ORDER_NEW,
            ORDER_PAID,
            ORDER_CANCELLED,
            CARD_CREATED,
            CARD_STAGE,
            CARD_WON,
        ] {
            assert_eq!(ok(&s, body), ok(&s, body));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let s = settings(Some("UAH"));
            let url = "https://example.test/v1/webhooks/keycrm?token=keycrm-t0ken";
            let delivery = Delivery { method: "POST", url, headers: &[], body: &body };
            let _ = read(&s, &delivery, &Checks::live(chrono::Utc::now()));
        }

        #[test]
        fn arbitrary_contexts_never_panic(
            event in "(order\\.change_order_status|order\\.change_payment_status|lead\\.change_lead_status)",
            id in prop_oneof![Just(serde_json::json!(1)), Just(serde_json::json!("x")), Just(serde_json::json!(null)), Just(serde_json::json!(-3))],
            created in prop_oneof![Just(serde_json::json!("2026-08-03 09:15:42")), Just(serde_json::json!("")), Just(serde_json::json!(5)), ".{0,20}".prop_map(serde_json::Value::String)],
            changed in prop_oneof![Just(serde_json::json!("2026-08-04T00:00:00Z")), Just(serde_json::json!(null)), ".{0,20}".prop_map(serde_json::Value::String)],
            total in prop_oneof![Just(serde_json::json!(12.5)), Just(serde_json::json!("abc")), Just(serde_json::json!([1]))],
            group in 0u8..8,
        ) {
            let s = settings(Some("UAH"));
            let body = serde_json::json!({"event": event, "context": {
                "id": id, "created_at": created, "status_changed_at": changed, "grand_total": total,
                "status_group_id": group, "status_id": group, "client_id": 1, "custom_fields": [{"uuid": 1}, "x"],
                "marketing": "none", "buyer": [1]
            }}).to_string();
            let url = "https://example.test/v1/webhooks/keycrm?token=keycrm-t0ken";
            let delivery = Delivery { method: "POST", url, headers: &[], body: body.as_bytes() };
            let _ = read(&s, &delivery, &Checks::live(chrono::Utc::now()));
        }
    }
}
