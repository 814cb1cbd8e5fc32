//! KeyCRM webhooks (orders and pipeline cards): the fuzzed bytes are the body of a
//! delivery whose URL carries the right `?token=`; read verified and as a replay, which
//! must agree.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throughline_fuzz::{delivery, live, replay, same_outcome, settings};
use throughline_sources::crm::keycrm::{self, Settings};

const URL: &str = "https://collect.example.com/v1/webhooks/keycrm?tenant=acme&token=fuzz-keycrm-t0ken";

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    settings(
        r#"
        token = "fuzz-keycrm-t0ken"
        currency = "UAH"
        won_statuses = ["14"]
        lost_statuses = ["15"]
        [tracking_fields]
        fbclid = "LD_1001"
        utm_source = "OR_1002"
        landing_url = "OR_1003"
        [statuses]
        "11" = "New request"
        "12" = "Measured"
        "14" = "Paid"
        [sources]
        "3" = "instagram"
        "#,
    )
});

fuzz_target!(|body: &[u8]| {
    let d = delivery(URL, &[], body);
    let verified = keycrm::read(&SETTINGS, &d, &live());
    let replayed = keycrm::read(&SETTINGS, &d, &replay());
    same_outcome(&verified, &replayed);
});
