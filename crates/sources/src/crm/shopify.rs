//! Shopify webhooks: orders.
//!
//! Every delivery is signed: `X-Shopify-Hmac-Sha256` is the base64 of
//! HMAC-SHA256(secret, raw body). The topic is in `X-Shopify-Topic`; `orders/create` and
//! `orders/paid` carry the whole order and become one `orders` row (keyed by the order id,
//! so the same order delivered twice is stored once) and a lead for its customer, with the
//! click that brought them from `landing_site` and the cart's `note_attributes` (where
//! Throughline's snippet puts the visitor id and click ids). Other topics are ignored.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Checks, Crm, CrmBatch, CrmError, Delivery, Result, Secret, Tracking, base64_of, hmac_sha256,
    is_tracking_field, malformed, record, secure_eq,
};

pub const SIGNATURE_HEADER: &str = "x-shopify-hmac-sha256";
pub const TOPIC_HEADER: &str = "x-shopify-topic";
pub const SHOP_HEADER: &str = "x-shopify-shop-domain";

/// Topics whose body is an order that becomes a row.
const ORDER_TOPICS: [&str; 2] = ["orders/create", "orders/paid"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The app's client secret (or the shop's webhook signing secret).
    pub secret: Secret,
}

pub fn read(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<CrmBatch> {
    if checks.verify {
        verify(settings, delivery)?;
    }
    let topic = delivery
        .header(TOPIC_HEADER)
        .map(str::trim)
        .ok_or_else(|| malformed(Crm::Shopify, "no X-Shopify-Topic header"))?;
    if !ORDER_TOPICS.contains(&topic) {
        return Ok(CrmBatch {
            ignored: vec![topic.to_owned()],
            ..CrmBatch::default()
        });
    }
    let order: Value = serde_json::from_slice(delivery.body)
        .map_err(|e| malformed(Crm::Shopify, format!("not JSON: {e}")))?;
    map_order(&order, delivery.header(SHOP_HEADER))
}

fn verify(settings: &Settings, delivery: &Delivery) -> Result<()> {
    let secret = settings.secret.expose();
    let given = delivery
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| CrmError::Unverified(format!("no {SIGNATURE_HEADER} header")))?;
    let expected = base64_of(&hmac_sha256(secret.as_bytes(), &[delivery.body]));
    if secret.is_empty() || !secure_eq(expected.as_bytes(), given.trim().as_bytes()) {
        return Err(CrmError::Unverified(
            "X-Shopify-Hmac-Sha256 does not match".into(),
        ));
    }
    Ok(())
}

/// An order's row and its customer's lead. `shop` (the `X-Shopify-Shop-Domain`) makes the
/// relative `landing_site` a URL.
pub(crate) fn map_order(order: &Value, shop: Option<&str>) -> Result<CrmBatch> {
    let order = order
        .as_object()
        .ok_or_else(|| malformed(Crm::Shopify, "the body is not an order object"))?;
    let id = order
        .get("id")
        .and_then(id_text)
        .ok_or_else(|| malformed(Crm::Shopify, "id is missing"))?;
    let order_id = format!("shopify-order-{id}");
    // The order's own time, the same in every topic, so create and paid are one row.
    let ts = ["processed_at", "created_at"]
        .iter()
        .find_map(|f| order.get(*f).and_then(time))
        .ok_or_else(|| malformed(Crm::Shopify, "processed_at and created_at are missing"))?;
    let amount = order
        .get("total_price")
        .and_then(id_text)
        .ok_or_else(|| malformed(Crm::Shopify, "total_price is missing"))?;
    let currency = order
        .get("currency")
        .and_then(id_text)
        .ok_or_else(|| malformed(Crm::Shopify, "currency is missing"))?;
    let customer = order.get("customer").and_then(Value::as_object);
    let customer_id = customer.and_then(|c| c.get("id")).and_then(id_text);
    let lead_id = customer_id.map(|c| format!("shopify-customer-{c}"));
    let email = first_text(order, customer, &["email", "contact_email"], "email");
    let phone = first_text(order, customer, &["phone"], "phone");

    let mut batch = CrmBatch::default();
    batch.orders.push(record([
        ("order_id", Some(order_id.clone())),
        ("ts", Some(ts)),
        ("lead_id", lead_id.clone()),
        ("email", email.clone()),
        ("phone", phone.clone()),
        ("amount", Some(amount)),
        ("currency", Some(currency)),
    ]));
    match lead_id {
        Some(lead_id) => {
            let lead_ts = order
                .get("created_at")
                .and_then(time)
                .ok_or_else(|| malformed(Crm::Shopify, "created_at is missing"))?;
            let lead = record([
                ("lead_id", Some(lead_id)),
                ("ts", Some(lead_ts)),
                ("email", email),
                ("phone", phone),
                ("source", Some(Crm::Shopify.name().to_owned())),
            ]);
            batch.add_lead(lead, &tracking(order, shop));
        }
        None => batch.not_in_payload.push(format!(
            "order {order_id}: no customer id in the payload, so no lead (its landing_site and note_attributes are not kept as a touch)"
        )),
    }
    batch.not_in_payload.push(format!(
        "order {order_id}: margin is not in Shopify order webhooks; import it if needed"
    ));
    Ok(batch)
}

/// The click that brought the order: the cart's note attributes (as Throughline's snippet
/// names them: `tl_vid`, `visitor_id`, `gclid`, `utm_source`, …, optionally with a leading
/// `_` so the checkout hides them), then `landing_site` for whatever is still empty.
fn tracking(order: &Map<String, Value>, shop: Option<&str>) -> Tracking {
    let mut tracking = Tracking::default();
    let attributes = order
        .get("note_attributes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for attribute in attributes {
        let (Some(name), Some(value)) = (
            attribute.get("name").and_then(Value::as_str),
            attribute.get("value").and_then(id_text),
        ) else {
            continue;
        };
        let name = name.trim().trim_start_matches('_').to_ascii_lowercase();
        let name = name.strip_prefix("tl_").unwrap_or(&name);
        let field = match name {
            "vid" => "visitor_id",
            other => other,
        };
        if is_tracking_field(field) {
            tracking.set(field, &value);
        }
    }
    if let Some(url) = tracking.landing_url.clone() {
        tracking.fill_from_url(&url);
    }
    if let Some(site) = order.get("landing_site").and_then(Value::as_str) {
        let site = site.trim();
        if !site.is_empty() {
            let url = if site.starts_with("http://") || site.starts_with("https://") {
                site.to_owned()
            } else {
                let host = shop
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .unwrap_or("shop.invalid");
                let slash = if site.starts_with('/') { "" } else { "/" };
                format!("https://{host}{slash}{site}")
            };
            tracking.fill_from_url(&url);
        }
    }
    tracking
}

/// The first of the order's `fields`, else the customer's `customer_field`.
fn first_text(
    order: &Map<String, Value>,
    customer: Option<&Map<String, Value>>,
    fields: &[&str],
    customer_field: &str,
) -> Option<String> {
    fields
        .iter()
        .find_map(|f| order.get(*f).and_then(id_text))
        .or_else(|| customer?.get(customer_field).and_then(id_text))
}

/// A non-empty string or number as text.
fn id_text(value: &Value) -> Option<String> {
    let s = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// An RFC 3339 time, kept with its offset.
fn time(value: &Value) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(value.as_str()?.trim())
        .ok()
        .map(|t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {

    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;
    use crate::crm::test_support::{assert_valid, record_of as row};

    const SECRET: &str = "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";
    const CREATE: &str = include_str!("../../tests/fixtures/crm/shopify/orders_create.json");
    const PAID: &str = include_str!("../../tests/fixtures/crm/shopify/orders_paid.json");

    fn settings() -> Settings {
        toml::from_str(&format!("secret = \"{SECRET}\"")).unwrap()
    }

    fn sign(body: &str) -> String {
        base64_of(&hmac_sha256(SECRET.as_bytes(), &[body.as_bytes()]))
    }

    fn deliver(
        topic: &str,
        body: &str,
        signature: Option<String>,
        webhook_id: &str,
    ) -> Result<CrmBatch> {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (TOPIC_HEADER.to_owned(), topic.to_owned()),
            (SHOP_HEADER.to_owned(), "doshky.myshopify.com".to_owned()),
            ("x-shopify-api-version".to_owned(), "2025-10".to_owned()),
            ("x-shopify-webhook-id".to_owned(), webhook_id.to_owned()),
        ];
        if let Some(signature) = signature {
            headers.push((SIGNATURE_HEADER.to_owned(), signature));
        }
        let delivery = Delivery {
            method: "POST",
            url: "https://collect.example.com/v1/webhooks/shopify?tenant=acme",
            headers: &headers,
            body: body.as_bytes(),
        };
        read(&settings(), &delivery, &Checks::live(Utc::now()))
    }

    fn signed(topic: &str, body: &str) -> Result<CrmBatch> {
        deliver(
            topic,
            body,
            Some(sign(body)),
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        )
    }

    #[test]
    fn order_becomes_an_order_a_lead_and_a_touch() {
        let batch = signed("orders/create", CREATE).unwrap();
        assert_valid(&batch);
        assert_eq!(
            batch.orders,
            vec![row(&[
                ("order_id", "shopify-order-5839201947735"),
                ("ts", "2026-11-03T12:41:05+02:00"),
                ("lead_id", "shopify-customer-7210394857261"),
                ("email", "Maria.Lysenko@example.com"),
                ("phone", "+380631234567"),
                ("amount", "3550.00"),
                ("currency", "UAH"),
            ])]
        );
        assert_eq!(
            batch.leads,
            vec![row(&[
                ("lead_id", "shopify-customer-7210394857261"),
                ("ts", "2026-11-03T12:41:07+02:00"),
                ("email", "Maria.Lysenko@example.com"),
                ("phone", "+380631234567"),
                ("source", "shopify"),
                ("visitor_id", "tlv_91c4e07a"),
                ("click_id", "EAIaIQobChMI-tl-order"),
            ])]
        );
        assert_eq!(
            batch.touchpoints,
            vec![row(&[
                ("event_id", "shopify-customer-7210394857261-touch"),
                ("ts", "2026-11-03T12:41:07+02:00"),
                ("visitor_id", "tlv_91c4e07a"),
                (
                    "url",
                    "https://doshky.myshopify.com/products/oak-cutting-board?utm_source=google&utm_medium=cpc&utm_campaign=boards_nov&gclid=EAIaIQobChMI-tl-order"
                ),
                ("utm_source", "google"),
                ("utm_medium", "cpc"),
                ("utm_campaign", "boards_nov"),
                ("click_id", "EAIaIQobChMI-tl-order"),
                ("click_id_type", "gclid"),
            ])]
        );
        assert!(batch.ignored.is_empty());
    }

    #[test]
    fn create_then_paid_is_one_order() {
        let created = signed("orders/create", CREATE).unwrap();
        let paid = signed("orders/paid", PAID).unwrap();
        assert_valid(&paid);
        assert_eq!(created.orders, paid.orders);
        assert_eq!(created.leads, paid.leads);
        assert_eq!(created.touchpoints, paid.touchpoints);
    }

    #[test]
    fn retried_delivery_gives_the_same_batch() {
        let first = signed("orders/paid", PAID).unwrap();
        let retry = deliver(
            "orders/paid",
            PAID,
            Some(sign(PAID)),
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        )
        .unwrap();
        assert_eq!(first, retry);
    }

    #[test]
    fn note_attributes_win_over_landing_site() {
        let body = r#"{"id":1,"created_at":"2026-11-03T10:00:00Z","total_price":"10.00","currency":"usd",
            "landing_site":"/?utm_source=google&gclid=G1",
            "note_attributes":[{"name":"utm_source","value":"newsletter"},{"name":"tl_fbclid","value":"F1"},
                               {"name":"visitor_id","value":"v9"},{"name":"size","value":"L"}],
            "customer":{"id":2}}"#;
        let batch = signed("orders/create", body).unwrap();
        assert_valid(&batch);
        let touch = &batch.touchpoints[0];
        assert_eq!(touch["utm_source"], "newsletter");
        assert_eq!(touch["click_id"], "F1");
        assert_eq!(touch["click_id_type"], "fbclid");
        assert_eq!(touch["visitor_id"], "v9");
        assert_eq!(batch.orders[0]["ts"], "2026-11-03T10:00:00+00:00");
        assert!(!batch.orders[0].contains_key("email"));
    }

    #[test]
    fn order_without_customer_has_no_lead() {
        let body = r#"{"id":3,"processed_at":"2026-11-03T10:00:00Z","total_price":"5.50","currency":"EUR","email":"a@b.example","customer":null}"#;
        let batch = signed("orders/paid", body).unwrap();
        assert_valid(&batch);
        assert!(batch.leads.is_empty() && batch.touchpoints.is_empty());
        assert!(!batch.orders[0].contains_key("lead_id"));
        assert!(batch.not_in_payload[0].contains("no customer id"));
    }

    #[test]
    fn other_topics_are_ignored() {
        let batch = signed("refunds/create", "{\"id\":1}").unwrap();
        assert!(batch.is_empty());
        assert_eq!(batch.ignored, vec!["refunds/create"]);
    }

    #[test]
    fn rejects_missing_and_wrong_signatures() {
        assert!(matches!(
            deliver("orders/create", CREATE, None, "w1"),
            Err(CrmError::Unverified(_))
        ));
        assert!(matches!(
            deliver("orders/create", CREATE, Some(sign(PAID)), "w1"),
            Err(CrmError::Unverified(_))
        ));
        let empty: Settings = toml::from_str("secret = \"\"").unwrap();
        let headers = vec![
            (TOPIC_HEADER.to_owned(), "orders/create".to_owned()),
            (
                SIGNATURE_HEADER.to_owned(),
                base64_of(&hmac_sha256(b"", &[CREATE.as_bytes()])),
            ),
        ];
        let delivery = Delivery {
            method: "POST",
            url: "https://h/x",
            headers: &headers,
            body: CREATE.as_bytes(),
        };
        assert!(matches!(
            read(&empty, &delivery, &Checks::live(Utc::now())),
            Err(CrmError::Unverified(_))
        ));
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let cases = [
            ("[]", "order object"),
            ("{\"total_price\":\"1\"}", "id"),
            (
                "{\"id\":1,\"total_price\":\"1\",\"currency\":\"UAH\"}",
                "processed_at",
            ),
            (
                "{\"id\":1,\"created_at\":\"2026-11-03T10:00:00Z\",\"currency\":\"UAH\"}",
                "total_price",
            ),
            (
                "{\"id\":1,\"created_at\":\"2026-11-03T10:00:00Z\",\"total_price\":\"1\"}",
                "currency",
            ),
            ("{", "not JSON"),
        ];
        for (body, field) in cases {
            match signed("orders/create", body) {
                Err(CrmError::Malformed { reason, .. }) => {
                    assert!(reason.contains(field), "{body}: {reason}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let no_topic = Delivery {
            method: "POST",
            url: "https://h/x",
            headers: &[(SIGNATURE_HEADER.to_owned(), sign(CREATE))],
            body: CREATE.as_bytes(),
        };
        assert!(matches!(
            read(&settings(), &no_topic, &Checks::live(Utc::now())),
            Err(CrmError::Malformed { .. })
        ));
    }

    fn json() -> impl Strategy<Value = Value> {
        crate::crm::test_support::vendor_json(
            vec![
                "id",
                "created_at",
                "processed_at",
                "total_price",
                "currency",
                "email",
                "contact_email",
                "phone",
                "customer",
                "landing_site",
                "note_attributes",
                "name",
                "value",
            ],
            vec![
                "2026-11-03T12:41:05+02:00",
                "UAH",
                "10.00",
                "_tl_vid",
                "gclid",
                "utm_source",
                "landing_url",
                "/p?utm_source=x&gclid=y",
                "http://[::1",
                "",
                "%",
            ],
        )
    }

    proptest! {
        #[test]
        fn arbitrary_deliveries_never_panic(
            body in prop::collection::vec(any::<u8>(), 0..256),
            signature in ".{0,64}",
            topic in prop_oneof![Just("orders/create".to_owned()), ".{0,20}"],
        ) {
            let headers = vec![
                (TOPIC_HEADER.to_owned(), topic),
                (SIGNATURE_HEADER.to_owned(), signature),
            ];
            let delivery = Delivery { method: "POST", url: "https://h/x", headers: &headers, body: &body };
            let _ = read(&settings(), &delivery, &Checks::live(Utc::now()));
        }

        #[test]
        fn arbitrary_orders_never_panic(order in json(), shop in prop::option::of(".{0,20}")) {
            let _ = map_order(&order, shop.as_deref());
        }
    }
}
