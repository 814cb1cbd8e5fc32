//! Bitrix24 outgoing webhooks (REST events): form-encoded bodies such as
//! `event=ONCRMDEALADD&data[FIELDS][ID]=42&ts=1785748542&auth[domain]=…&auth[application_token]=…`.
//! The `auth[application_token]` is checked against the tenant's.
//!
//! Bitrix24 events carry only the entity id and the time (`ts`, Unix seconds): stage,
//! amount, currency, contacts and UTM fields are fetched with `crm.deal.get`,
//! `crm.lead.get` and `crm.contact.get`, and are said so in `not_in_payload`.

use serde::Deserialize;

use super::{
    Checks, Crm, CrmBatch, Delivery, Result, Secret, Tracking, TrackingFields, check_token,
    form_fields, malformed, record, rfc3339_from_secs,
};

const CRM: Crm = Crm::Bitrix24;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The outgoing webhook's application token (`auth[application_token]`).
    pub application_token: Secret,
    /// Canonical tracking field → Bitrix24 field code (e.g. `UF_CRM_…`, `UTM_SOURCE`).
    /// Events carry no fields, so these are used when the entity is fetched from the API.
    #[serde(default)]
    pub tracking_fields: TrackingFields,
}

pub fn read(settings: &Settings, delivery: &Delivery, checks: &Checks) -> Result<CrmBatch> {
    let fields = form_fields(delivery.body);
    // A replayed delivery that was verified on arrival is not checked again.
    if checks.verify {
        check_token(
            CRM,
            &settings.application_token,
            fields.get("auth[application_token]").map(String::as_str),
        )?;
    }
    let event = fields
        .get("event")
        .map(|e| e.trim().to_ascii_uppercase())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| malformed(CRM, "event is missing"))?;
    let mut batch = CrmBatch::default();
    let entity = match event.as_str() {
        "ONCRMLEADADD" => "lead",
        "ONCRMDEALADD" => "deal",
        "ONCRMDEALUPDATE" => "deal update",
        "ONCRMCONTACTADD" => "contact",
        _ => {
            batch.ignored.push(event);
            return Ok(batch);
        }
    };
    let id = fields
        .get("data[FIELDS][ID]")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| malformed(CRM, "data[FIELDS][ID] is missing or not a number"))?
        .to_owned();
    let ts = fields
        .get("ts")
        .map(|v| v.trim())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(rfc3339_from_secs)
        .ok_or_else(|| malformed(CRM, "ts is missing or not Unix seconds"))?;
    match entity {
        "lead" => {
            let lead = record([
                ("lead_id", Some(format!("bitrix24-lead-{id}"))),
                ("ts", Some(ts)),
                ("source", Some(CRM.name().to_owned())),
            ]);
            batch.add_lead(lead, &Tracking::default());
            batch.not_in_payload.push(format!(
                "lead {id}: name, phone, e-mail, source, responsible user and UTM fields are not in the Bitrix24 event; fetch them with crm.lead.get"
            ));
        }
        "contact" => {
            let lead = record([
                ("lead_id", Some(format!("bitrix24-contact-{id}"))),
                ("ts", Some(ts)),
                ("source", Some(CRM.name().to_owned())),
            ]);
            batch.add_lead(lead, &Tracking::default());
            batch.not_in_payload.push(format!(
                "contact {id}: name, phone, e-mail, source, responsible user and UTM fields are not in the Bitrix24 event; fetch them with crm.contact.get"
            ));
        }
        "deal" => {
            batch.deal_events.push(record([
                (
                    "event_id",
                    Some(format!("bitrix24-{}-0", delivery.payload_id())),
                ),
                ("deal_id", Some(format!("bitrix24-deal-{id}"))),
                ("ts", Some(ts)),
                ("type", Some("created".to_owned())),
            ]));
            batch.not_in_payload.push(format!(
                "deal {id}: stage, amount, currency, responsible user and its lead or contact (LEAD_ID, CONTACT_ID) are not in the Bitrix24 event; fetch them with crm.deal.get"
            ));
        }
        _ => {
            batch.ignored.push(event);
            batch.not_in_payload.push(format!(
                "deal {id} was updated: the new stage, amount and currency are not in the Bitrix24 event; fetch them with crm.deal.get"
            ));
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::crm::CrmError;
    use crate::crm::test_support::{assert_valid, record_of as rec};

    const DEAL_ADD: &str = include_str!("../../tests/fixtures/crm/bitrix24/deal_add.txt");
    const DEAL_UPDATE: &str = include_str!("../../tests/fixtures/crm/bitrix24/deal_update.txt");
    const DEAL_DELETE: &str = include_str!("../../tests/fixtures/crm/bitrix24/deal_delete.txt");
    const LEAD_ADD: &str = include_str!("../../tests/fixtures/crm/bitrix24/lead_add.txt");
    const CONTACT_ADD: &str = include_str!("../../tests/fixtures/crm/bitrix24/contact_add.txt");

    const TOKEN: &str = "q8wz3xk1v9p2m7r4t6y0u5e3a1s8d2f4";

    fn settings() -> Settings {
        toml::from_str(&format!(
            "application_token = \"{TOKEN}\"\n[tracking_fields]\nutm_source = \"UTM_SOURCE\"\n"
        ))
        .unwrap()
    }

    fn deliver(settings: &Settings, body: &str) -> Result<CrmBatch> {
        let delivery = Delivery {
            method: "POST",
            url: "https://example.test/v1/webhooks/bitrix24?tenant=acme",
            headers: &[],
            body: body.trim_end().as_bytes(),
        };
        read(settings, &delivery, &Checks::live(chrono::Utc::now()))
    }

    fn ok(body: &str) -> CrmBatch {
        let batch = deliver(&settings(), body).unwrap();
        assert_valid(&batch);
        batch
    }

    fn payload_id(body: &str) -> String {
        Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.trim_end().as_bytes(),
        }
        .payload_id()
    }

    #[test]
    fn deal_add_is_a_created_event_with_ids_only() {
        let batch = ok(DEAL_ADD);
        assert_eq!(
            batch.deal_events,
            vec![rec(&[
                ("event_id", &format!("bitrix24-{}-0", payload_id(DEAL_ADD))),
                ("deal_id", "bitrix24-deal-1287"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("type", "created"),
            ])]
        );
        assert!(batch.leads.is_empty() && batch.orders.is_empty());
        assert_eq!(batch.not_in_payload.len(), 1);
        assert!(batch.not_in_payload[0].contains("crm.deal.get"));
    }

    #[test]
    fn deal_update_says_what_is_missing() {
        let batch = ok(DEAL_UPDATE);
        assert!(batch.is_empty());
        assert_eq!(batch.ignored, vec!["ONCRMDEALUPDATE".to_owned()]);
        assert_eq!(
            batch.not_in_payload,
            vec!["deal 1287 was updated: the new stage, amount and currency are not in the Bitrix24 event; fetch them with crm.deal.get".to_owned()]
        );
    }

    #[test]
    fn leads_and_contacts_are_ids_and_times() {
        let lead = ok(LEAD_ADD);
        assert_eq!(
            lead.leads,
            vec![rec(&[
                ("lead_id", "bitrix24-lead-5531"),
                ("ts", "2026-08-03T09:10:05+00:00"),
                ("source", "bitrix24"),
            ])]
        );
        assert!(lead.not_in_payload[0].contains("crm.lead.get"));
        let contact = ok(CONTACT_ADD);
        assert_eq!(
            contact.leads,
            vec![rec(&[
                ("lead_id", "bitrix24-contact-904"),
                ("ts", "2026-08-03T09:15:40+00:00"),
                ("source", "bitrix24"),
            ])]
        );
        assert!(contact.not_in_payload[0].contains("crm.contact.get"));
        assert!(contact.touchpoints.is_empty());
    }

    #[test]
    fn other_events_are_ignored() {
        let batch = ok(DEAL_DELETE);
        assert!(batch.is_empty() && batch.not_in_payload.is_empty());
        assert_eq!(batch.ignored, vec!["ONCRMDEALDELETE".to_owned()]);
    }

    #[test]
    fn the_application_token_is_checked() {
        let s = settings();
        let wrong = DEAL_ADD.replace(TOKEN, "not-the-token");
        assert!(matches!(deliver(&s, &wrong), Err(CrmError::Unverified(_))));
        let none = "event=ONCRMDEALADD&data%5BFIELDS%5D%5BID%5D=1&ts=1785748542";
        assert!(matches!(deliver(&s, none), Err(CrmError::Unverified(_))));
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let s = settings();
        let auth = format!("auth%5Bapplication_token%5D={TOKEN}");
        let err = |body: String| match deliver(&s, &body) {
            Err(CrmError::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(err(format!("ts=1785748542&{auth}")).contains("event"));
        assert!(
            err(format!("event=ONCRMDEALADD&ts=1785748542&{auth}")).contains("data[FIELDS][ID]")
        );
        assert!(
            err(format!(
                "event=ONCRMDEALADD&data%5BFIELDS%5D%5BID%5D=7&ts=later&{auth}"
            ))
            .contains("ts")
        );
    }

    #[test]
    fn a_retried_delivery_is_the_same_batch() {
        for body in [DEAL_ADD, DEAL_UPDATE, LEAD_ADD, CONTACT_ADD, DEAL_DELETE] {
            assert_eq!(ok(body), ok(body));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let s = settings();
            let mut with_token = format!("auth%5Bapplication_token%5D={TOKEN}&").into_bytes();
            with_token.extend_from_slice(&body);
            for body in [&body, &with_token] {
                let delivery = Delivery { method: "POST", url: "https://example.test/", headers: &[], body };
                let _ = read(&s, &delivery, &Checks::live(chrono::Utc::now()));
            }
        }

        #[test]
        fn arbitrary_events_never_panic(
            event in "(ONCRM[A-Z]{0,12}|.{0,8})",
            id in ".{0,8}",
            ts in "-?[0-9]{0,20}",
        ) {
            let s = settings();
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("event", event.as_str()),
                    ("data[FIELDS][ID]", id.as_str()),
                    ("ts", ts.as_str()),
                    ("auth[application_token]", TOKEN),
                ])
                .finish();
            let delivery = Delivery { method: "POST", url: "https://example.test/", headers: &[], body: body.as_bytes() };
            let _ = read(&s, &delivery, &Checks::live(chrono::Utc::now()));
        }
    }
}
