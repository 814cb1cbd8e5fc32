//! Pipedrive webhooks (v1 and v2 payloads): the fuzzed bytes are the body of a delivery
//! with the right `Authorization: Basic` credentials; read verified and as a replay, which
//! must agree.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, header, live, replay, same_outcome, settings};
use throughline_sources::crm::base64_of;
use throughline_sources::crm::pipedrive::{self, Settings};

const URL: &str = "https://collect.example.com/v1/webhooks/pipedrive?tenant=acme";

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    settings(
        r#"
        username = "fuzz"
        password = "fuzz-pipedrive-password"
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
});

static AUTHORIZATION: LazyLock<String> =
    LazyLock::new(|| format!("Basic {}", base64_of(b"fuzz:fuzz-pipedrive-password")));

fuzz_target!(|body: &[u8]| {
    let headers = [
        header("content-type", "application/json"),
        header("authorization", AUTHORIZATION.as_str()),
    ];
    let d = delivery(URL, &headers, body);
    let verified = pipedrive::read(&SETTINGS, &d, &live());
    let replayed = pipedrive::read(&SETTINGS, &d, &replay());
    same_outcome(&verified, &replayed);
});
