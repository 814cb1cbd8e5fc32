//! The generic JSON webhook: the fuzzed bytes are the body, mapped by three tenants'
//! settings (leads with tracking fields, deal events with value maps, orders). The deal
//! events delivery carries a real `X-Throughline-Signature: sha256=<hex HMAC>` and must
//! read as its replay does.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, header, live, replay, same_outcome, settings};
use throughline_sources::crm::generic::{self, SIGNATURE_HEADER, Settings};
use throughline_sources::crm::hmac_sha256;

const SECRET: &str = "fuzz-generic-s3cret";
const URL: &str = "https://collect.example.com/v1/webhooks/generic?tenant=acme";

static LEADS: LazyLock<Settings> = LazyLock::new(|| {
    settings(&format!(
        r#"
        secret = "{SECRET}"
        table = "leads"
        records = "/leads"
        [fields]
        lead_id = "/id"
        ts = "/created_at"
        visitor_id = "/visitor"
        email_sha256 = "/contact/email_sha256"
        source = "/source"
        utm_source = "/utm/source"
        utm_campaign = "/utm/campaign"
        gclid = "/gclid"
        landing_url = "/landing"
        [values.source]
        fb = "facebook"
        "#
    ))
});

static DEAL_EVENTS: LazyLock<Settings> = LazyLock::new(|| {
    settings(&format!(
        r#"
        secret = "{SECRET}"
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
        closed_lost = "lost"
        "#
    ))
});

static ORDERS: LazyLock<Settings> = LazyLock::new(|| {
    settings(&format!(
        r#"
        secret = "{SECRET}"
        table = "orders"
        [fields]
        order_id = "/order/id"
        ts = "/order/ts"
        amount = "/order/total"
        currency = "/order/currency"
        lead_id = "/0/lead"
        "#
    ))
});

fuzz_target!(|body: &[u8]| {
    let signature = format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), &[body])));
    let headers = [
        header("content-type", "application/json"),
        header(SIGNATURE_HEADER, signature),
    ];
    let d = delivery(URL, &headers, body);
    let verified = generic::read(&DEAL_EVENTS, &d, &live());
    let replayed = generic::read(&DEAL_EVENTS, &d, &replay());
    same_outcome(&verified, &replayed);
    let _ = generic::read(&LEADS, &d, &replay());
    let _ = generic::read(&ORDERS, &d, &replay());
});
