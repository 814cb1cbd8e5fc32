//! Bitrix24 outgoing webhooks (form-encoded): the fuzzed bytes follow a first field
//! `auth[application_token]=<the right token>` (the first of a duplicated key wins), so
//! every delivery passes the in-body token check; read verified and as a replay, which
//! must agree.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, live, replay, same_outcome, settings};
use throughline_sources::crm::bitrix24::{self, Settings};

const URL: &str = "https://collect.example.com/v1/webhooks/bitrix24?tenant=acme";
const TOKEN_FIELD: &[u8] = b"auth%5Bapplication_token%5D=fuzz-bitrix24-t0ken&";

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    settings(
        r#"
        application_token = "fuzz-bitrix24-t0ken"
        [tracking_fields]
        utm_source = "UTM_SOURCE"
        gclid = "UF_CRM_GCLID"
        "#,
    )
});

fuzz_target!(|data: &[u8]| {
    let mut body = Vec::with_capacity(TOKEN_FIELD.len() + data.len());
    body.extend_from_slice(TOKEN_FIELD);
    body.extend_from_slice(data);
    let d = delivery(URL, &[], &body);
    let verified = bitrix24::read(&SETTINGS, &d, &live());
    let replayed = bitrix24::read(&SETTINGS, &d, &replay());
    same_outcome(&verified, &replayed);
});
