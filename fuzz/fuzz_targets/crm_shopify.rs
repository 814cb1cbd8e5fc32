//! Shopify order webhooks: the fuzzed bytes are the body of an `orders/create` delivery
//! with a real `X-Shopify-Hmac-Sha256` (HMAC-SHA256 of the body, base64); read verified
//! and as a replay, which must agree.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, header, live, replay, same_outcome, settings};
use throughline_sources::crm::shopify::{self, SHOP_HEADER, SIGNATURE_HEADER, Settings, TOPIC_HEADER};
use throughline_sources::crm::{base64_of, hmac_sha256};

const SECRET: &str = "shpss_fuzz_secret";
const URL: &str = "https://collect.example.com/v1/webhooks/shopify?tenant=acme";

static SETTINGS: LazyLock<Settings> =
    LazyLock::new(|| settings(&format!("secret = \"{SECRET}\"")));

fuzz_target!(|body: &[u8]| {
    let signature = base64_of(&hmac_sha256(SECRET.as_bytes(), &[body]));
    let headers = [
        header("content-type", "application/json"),
        header(TOPIC_HEADER, "orders/create"),
        header(SHOP_HEADER, "fuzz.myshopify.com"),
        header(SIGNATURE_HEADER, signature),
    ];
    let d = delivery(URL, &headers, body);
    let verified = shopify::read(&SETTINGS, &d, &live());
    let replayed = shopify::read(&SETTINGS, &d, &replay());
    same_outcome(&verified, &replayed);
});
