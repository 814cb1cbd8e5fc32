//! Kommo webhooks (form-encoded `leads[…]`, `contacts[…]`): the fuzzed bytes are the body,
//! read as a replay of a verified delivery (the `?token=` scheme is exercised for real by
//! `crm_keycrm`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, replay, settings};
use throughline_sources::crm::kommo::{self, Settings};

const URL: &str = "https://collect.example.com/v1/webhooks/kommo?tenant=acme";

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    settings(
        r#"
        token = "fuzz-kommo-t0ken"
        currency = "UAH"
        loss_reason_field = "812350"
        [tracking_fields]
        utm_source = "812345"
        utm_campaign = "812347"
        gclid = "812349"
        landing_url = "812351"
        [statuses]
        "61234561" = "Qualified"
        "61234562" = "Proposal"
        [loss_reasons]
        "9001" = "Too expensive"
        "#,
    )
});

fuzz_target!(|body: &[u8]| {
    let d = delivery(URL, &[], body);
    let _ = kommo::read(&SETTINGS, &d, &replay());
});
