//! HubSpot webhooks: the fuzzed bytes are the body of a delivery signed with a real
//! `X-HubSpot-Signature-v3` (HMAC-SHA256 of method, URL, body and timestamp, base64) and
//! a fresh timestamp; read live and as a replay, which must agree.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, header, live, now, replay, same_outcome, settings};
use throughline_sources::crm::hubspot::{self, SIGNATURE_HEADER, Settings, TIMESTAMP_HEADER};
use throughline_sources::crm::{base64_of, hmac_sha256};

const SECRET: &str = "fuzz-hubspot-client-secret";
const URL: &str = "https://collect.example.com/v1/webhooks/hubspot?tenant=acme";

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    settings(&format!(
        r#"
        client_secret = "{SECRET}"
        won_stages = ["118042934"]
        lost_stages = ["118042935"]
        [stages]
        presentationscheduled = "Presentation scheduled"
        "#
    ))
});

fuzz_target!(|body: &[u8]| {
    let timestamp = now().timestamp_millis().to_string();
    let signature = base64_of(&hmac_sha256(
        SECRET.as_bytes(),
        &[
            b"POST",
            hubspot::signed_url(URL).as_bytes(),
            body,
            timestamp.as_bytes(),
        ],
    ));
    let headers = [
        header("content-type", "application/json"),
        header(TIMESTAMP_HEADER, timestamp),
        header(SIGNATURE_HEADER, signature),
    ];
    let d = delivery(URL, &headers, body);
    let verified = hubspot::read(&SETTINGS, &d, &live());
    let replayed = hubspot::read(&SETTINGS, &d, &replay());
    same_outcome(&verified, &replayed);
});
