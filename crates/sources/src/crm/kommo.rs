//! Kommo (amoCRM) webhooks: form-encoded bodies such as `leads[add][0][id]=…`,
//! `leads[status][0][status_id]=…`, `contacts[add][0][custom_fields][0][code]=PHONE` and
//! `account[subdomain]=…`. Kommo does not sign deliveries, so the webhook URL carries a
//! `?token=` that is checked against the tenant's.
//!
//! A Kommo "lead" is a deal: `leads[add][i]` is both the first contact (a lead row
//! `kommo-lead-<id>`) and the deal's creation (`kommo-deal-<id>`). Times are Unix seconds.
//! The account's currency is not in the payload: amounts are used only when the tenant
//! configures `currency`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    Checks, Crm, CrmBatch, Delivery, Record, Result, Secret, TrackingFields, check_token,
    form_fields, malformed, rfc3339_from_secs,
};

const CRM: Crm = Crm::Kommo;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The token in the webhook URL (`?token=`): Kommo does not sign deliveries.
    pub token: Secret,
    /// Canonical tracking field → Kommo custom field id.
    #[serde(default)]
    pub tracking_fields: TrackingFields,
    /// The account's currency (ISO 4217), which the payload does not carry. Without it,
    /// lead prices are not used as amounts.
    #[serde(default)]
    pub currency: Option<String>,
    /// Status id → stage name (Kommo sends ids); unmapped ids are used as the stage.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
    /// The "closed - won" status id (142 in every Kommo account).
    #[serde(default = "default_won")]
    pub won_status_id: String,
    /// The "closed - lost" status id (143 in every Kommo account).
    #[serde(default = "default_lost")]
    pub lost_status_id: String,
    /// Loss reason id → name.
    #[serde(default)]
    pub loss_reasons: BTreeMap<String, String>,
    /// A lead custom field id holding the loss reason, for accounts that keep it there.
    #[serde(default)]
    pub loss_reason_field: Option<String>,
}

fn default_won() -> String {
    "142".into()
}

fn default_lost() -> String {
    "143".into()
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
    let fields = form_fields(delivery.body);
    let entries = group(&fields);
    if entries.is_empty() && !fields.keys().any(|k| k.starts_with("account[")) {
        return Err(malformed(
            CRM,
            "no leads[…], contacts[…] or account[…] fields in the body",
        ));
    }
    let payload_id = delivery.payload_id();
    let mut reader = Reader {
        settings,
        payload_id: &payload_id,
        batch: CrmBatch::default(),
        events: 0,
        arrived: checks.now,
    };
    for ((entity, action, index), entry) in &entries {
        let name = format!("{entity}[{action}][{index}]");
        match (entity.as_str(), action.as_str()) {
            ("leads", "add") => reader.lead_added(&name, entry)?,
            ("leads", "status") => reader.lead_status(&name, entry)?,
            ("leads", "update") => {
                let changed = entry
                    .get("old_status_id")
                    .zip(entry.get("status_id"))
                    .is_some_and(|(old, new)| !old.is_empty() && old != new);
                if changed {
                    reader.lead_status(&name, entry)?;
                } else {
                    reader
                        .batch
                        .ignored
                        .push(format!("{name}: a lead update without a status change"));
                }
            }
            ("contacts", "add") => reader.contact_added(&name, entry)?,
            _ => reader.batch.ignored.push(name),
        }
    }
    Ok(reader.batch)
}

/// One entity of the body: the fields after `entity[action][index]`, keys joined with
/// `.` (`id`, `custom_fields.0.values.0.value`).
type Entry = BTreeMap<String, String>;

/// Groups `entity[action][index][a][b]…=v` fields by (entity, action, index), in index
/// order. Keys of any other shape (e.g. `account[subdomain]`) are left out.
fn group(fields: &BTreeMap<String, String>) -> BTreeMap<(String, String, u32), Entry> {
    let mut entries: BTreeMap<(String, String, u32), Entry> = BTreeMap::new();
    for (key, value) in fields {
        let Some((head, segments)) = split_key(key) else {
            continue;
        };
        let [action, index, rest @ ..] = segments.as_slice() else {
            continue;
        };
        let Ok(index) = index.parse::<u32>() else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        entries
            .entry((head.to_owned(), (*action).to_owned(), index))
            .or_default()
            .insert(rest.join("."), value.clone());
    }
    entries
}

/// `leads[add][0][id]` → ("leads", ["add", "0", "id"]); None when not of that shape.
fn split_key(key: &str) -> Option<(&str, Vec<&str>)> {
    let (head, mut rest) = key.split_once('[')?;
    let mut segments = Vec::new();
    loop {
        let (segment, after) = rest.split_once(']')?;
        segments.push(segment);
        if after.is_empty() {
            break;
        }
        rest = after.strip_prefix('[')?;
    }
    Some((head, segments))
}

/// A custom field of an entry: its id, code (PHONE, EMAIL, …) and values in order.
struct CustomField {
    id: String,
    code: String,
    values: Vec<String>,
}

fn custom_fields(entry: &Entry) -> Vec<CustomField> {
    let mut by_index: BTreeMap<u32, CustomField> = BTreeMap::new();
    for (key, value) in entry {
        let Some(rest) = key.strip_prefix("custom_fields.") else {
            continue;
        };
        let mut parts = rest.split('.');
        let Some(index) = parts.next().and_then(|i| i.parse::<u32>().ok()) else {
            continue;
        };
        let field = by_index.entry(index).or_insert_with(|| CustomField {
            id: String::new(),
            code: String::new(),
            values: Vec::new(),
        });
        match (parts.next(), parts.next(), parts.next()) {
            (Some("id"), None, _) => field.id = value.clone(),
            (Some("code"), None, _) => field.code = value.clone(),
            (Some("values"), Some(_), Some("value")) if !value.trim().is_empty() => {
                field.values.push(value.clone())
            }
            _ => {}
        }
    }
    by_index.into_values().collect()
}

struct Reader<'a> {
    settings: &'a Settings,
    payload_id: &'a str,
    batch: CrmBatch,
    events: usize,
    /// When the delivery arrived: the time of a status change that carries none.
    arrived: chrono::DateTime<chrono::Utc>,
}

impl Reader<'_> {
    fn next_event_id(&mut self) -> String {
        let id = format!("kommo-{}-{}", self.payload_id, self.events);
        self.events += 1;
        id
    }

    fn stage(&self, status_id: &str) -> String {
        self.settings
            .statuses
            .get(status_id)
            .cloned()
            .unwrap_or_else(|| status_id.to_owned())
    }

    /// The price as an amount, when the tenant configured the account's currency; a
    /// sentence in `not_in_payload` otherwise.
    fn amount(&mut self, deal: &str, entry: &Entry) -> (Option<String>, Option<String>) {
        let Some(price) = entry.get("price").filter(|p| !p.trim().is_empty()) else {
            return (None, None);
        };
        match self.settings.currency.as_deref().filter(|c| !c.is_empty()) {
            Some(currency) => (Some(price.trim().to_owned()), Some(currency.to_owned())),
            None => {
                self.batch.not_in_payload.push(format!(
                    "{deal}: price {price} has no currency in the Kommo payload; set currency in [crm.kommo] to use it"
                ));
                (None, None)
            }
        }
    }

    fn tracking(&self, entry: &Entry) -> super::Tracking {
        let fields = custom_fields(entry);
        self.settings.tracking_fields.read(|key| {
            fields
                .iter()
                .find(|f| f.id == key)
                .and_then(|f| f.values.first().cloned())
        })
    }

    fn lead_added(&mut self, name: &str, entry: &Entry) -> Result<()> {
        let id = entity_id(name, entry)?;
        let ts = time(name, entry, &["date_create", "created_at"])?;
        let manager = nonempty(entry, "responsible_user_id");
        let lead_id = format!("kommo-lead-{id}");
        let deal_id = format!("kommo-deal-{id}");
        let lead = super::record([
            ("lead_id", Some(lead_id.clone())),
            ("ts", Some(ts.clone())),
            ("source", Some(CRM.name().to_owned())),
            ("manager", manager.clone()),
        ]);
        let tracking = self.tracking(entry);
        self.batch.add_lead(lead, &tracking);
        let (amount, currency) = self.amount(&deal_id, entry);
        let event_id = self.next_event_id();
        self.batch.deal_events.push(super::record([
            ("event_id", Some(event_id)),
            ("deal_id", Some(deal_id)),
            ("lead_id", Some(lead_id)),
            ("ts", Some(ts)),
            ("type", Some("created".to_owned())),
            (
                "stage",
                nonempty(entry, "status_id").map(|s| self.stage(&s)),
            ),
            ("amount", amount),
            ("currency", currency),
            ("manager", manager),
        ]));
        Ok(())
    }

    fn lead_status(&mut self, name: &str, entry: &Entry) -> Result<()> {
        let id = entity_id(name, entry)?;
        let status = nonempty(entry, "status_id")
            .ok_or_else(|| malformed(CRM, format!("{name}[status_id] is missing")))?;
        // Digital Pipeline's status webhook sends no time at all (id, status_id,
        // pipeline_id, old_status_id, old_pipeline_id): it is dated when it arrived.
        let keys = ["last_modified", "updated_at"];
        let ts = if keys.iter().any(|k| entry.contains_key(*k)) {
            time(name, entry, &keys)?
        } else {
            self.batch.not_in_payload.push(format!(
                "{name}: no last_modified in the payload; the status change is dated when the webhook arrived"
            ));
            self.arrived.to_rfc3339()
        };
        let deal_id = format!("kommo-deal-{id}");
        let mut record: Record = super::record([
            ("deal_id", Some(deal_id.clone())),
            ("lead_id", Some(format!("kommo-lead-{id}"))),
            ("ts", Some(ts)),
            ("stage", Some(self.stage(&status))),
            ("manager", nonempty(entry, "responsible_user_id")),
        ]);
        let kind = if status == self.settings.won_status_id {
            let (amount, currency) = self.amount(&deal_id, entry);
            for (column, value) in [("amount", amount), ("currency", currency)] {
                if let Some(value) = value {
                    record.insert(column.to_owned(), value);
                }
            }
            "won"
        } else if status == self.settings.lost_status_id {
            if let Some(reason) = self.loss_reason(entry) {
                record.insert("loss_reason".to_owned(), reason);
            }
            "lost"
        } else {
            "stage_changed"
        };
        record.insert("type".to_owned(), kind.to_owned());
        record.insert("event_id".to_owned(), self.next_event_id());
        self.batch.deal_events.push(record);
        Ok(())
    }

    fn loss_reason(&self, entry: &Entry) -> Option<String> {
        let from_field = self.settings.loss_reason_field.as_deref().and_then(|key| {
            custom_fields(entry)
                .into_iter()
                .find(|f| f.id == key)
                .and_then(|f| f.values.into_iter().next())
        });
        let id = nonempty(entry, "loss_reason_id").or(from_field)?;
        Some(self.settings.loss_reasons.get(&id).cloned().unwrap_or(id))
    }

    fn contact_added(&mut self, name: &str, entry: &Entry) -> Result<()> {
        let id = entity_id(name, entry)?;
        let ts = time(name, entry, &["date_create", "created_at"])?;
        let fields = custom_fields(entry);
        let by_code = |code: &str| {
            fields
                .iter()
                .find(|f| f.code.eq_ignore_ascii_case(code))
                .and_then(|f| f.values.first().cloned())
        };
        let lead = super::record([
            ("lead_id", Some(format!("kommo-contact-{id}"))),
            ("ts", Some(ts)),
            ("email", by_code("EMAIL")),
            ("phone", by_code("PHONE")),
            ("source", Some(CRM.name().to_owned())),
            ("manager", nonempty(entry, "responsible_user_id")),
        ]);
        let tracking = self.tracking(entry);
        self.batch.add_lead(lead, &tracking);
        Ok(())
    }
}

fn nonempty(entry: &Entry, key: &str) -> Option<String> {
    entry
        .get(key)
        .map(|v| v.trim())
        // Kommo sends 0 for "no responsible user".
        .filter(|v| !v.is_empty() && *v != "0")
        .map(str::to_owned)
}

/// The entity's id: digits only, as Kommo sends them.
fn entity_id(name: &str, entry: &Entry) -> Result<String> {
    let id = entry.get("id").map(|v| v.trim()).unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            CRM,
            format!("{name}[id] is missing or not a number"),
        ));
    }
    Ok(id.to_owned())
}

/// The first of `keys` present, as Unix seconds → RFC 3339.
fn time(name: &str, entry: &Entry, keys: &[&str]) -> Result<String> {
    let Some((key, value)) = keys.iter().find_map(|k| {
        entry
            .get(*k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (k, v.trim()))
    }) else {
        return Err(malformed(
            CRM,
            format!(
                "{name}[{}] is missing",
                keys.first().copied().unwrap_or("ts")
            ),
        ));
    };
    value
        .parse::<i64>()
        .ok()
        .and_then(rfc3339_from_secs)
        .ok_or_else(|| malformed(CRM, format!("{name}[{key}] {value:?} is not Unix seconds")))
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::crm::CrmError;
    use crate::crm::test_support::{assert_valid, record_of as rec};

    const LEAD_ADD: &str = include_str!("../../tests/fixtures/crm/kommo/lead_add.txt");
    const LEAD_STATUS: &str = include_str!("../../tests/fixtures/crm/kommo/lead_status.txt");
    const LEAD_WON: &str = include_str!("../../tests/fixtures/crm/kommo/lead_won.txt");
    const LEAD_LOST: &str = include_str!("../../tests/fixtures/crm/kommo/lead_lost.txt");
    const LEAD_UPDATE: &str = include_str!("../../tests/fixtures/crm/kommo/lead_update.txt");
    const CONTACT_ADD: &str = include_str!("../../tests/fixtures/crm/kommo/contact_add.txt");

    fn settings(currency: Option<&str>) -> Settings {
        let mut settings: Settings = toml::from_str(
            r#"
            token = "kommo-t0ken"
            [tracking_fields]
            utm_source = "812345"
            utm_campaign = "812347"
            gclid = "812349"
            [statuses]
            "61234561" = "Qualified"
            "61234562" = "Proposal"
            [loss_reasons]
            "9001" = "Too expensive"
            "#,
        )
        .unwrap();
        settings.currency = currency.map(str::to_owned);
        settings
    }

    fn deliver(settings: &Settings, body: &str, token: Option<&str>) -> Result<CrmBatch> {
        let url = match token {
            Some(t) => format!("https://example.test/v1/webhooks/kommo?tenant=acme&token={t}"),
            None => "https://example.test/v1/webhooks/kommo?tenant=acme".to_owned(),
        };
        let delivery = Delivery {
            method: "POST",
            url: &url,
            headers: &[],
            body: body.trim_end().as_bytes(),
        };
        read(settings, &delivery, &Checks::live(chrono::Utc::now()))
    }

    fn ok(settings: &Settings, body: &str) -> CrmBatch {
        let batch = deliver(settings, body, Some("kommo-t0ken")).unwrap();
        assert_valid(&batch);
        batch
    }

    #[test]
    fn lead_add_is_a_lead_a_created_deal_and_a_touch() {
        let s = settings(Some("UAH"));
        let batch = ok(&s, LEAD_ADD);
        assert_eq!(
            batch.leads,
            vec![rec(&[
                ("lead_id", "kommo-lead-3456789"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("source", "kommo"),
                ("manager", "7654321"),
                ("click_id", "Cj0KCQjw-test"),
                ("visitor_id", "kommo-lead-3456789-visitor"),
            ])]
        );
        let event_id = format!("kommo-{}-0", payload_id(LEAD_ADD));
        assert_eq!(
            batch.deal_events,
            vec![rec(&[
                ("event_id", &event_id),
                ("deal_id", "kommo-deal-3456789"),
                ("lead_id", "kommo-lead-3456789"),
                ("ts", "2026-08-03T09:15:42+00:00"),
                ("type", "created"),
                ("stage", "Qualified"),
                ("amount", "45800"),
                ("currency", "UAH"),
                ("manager", "7654321"),
            ])]
        );
        let touch = &batch.touchpoints[0];
        assert_eq!(touch["utm_source"], "google");
        assert_eq!(touch["utm_campaign"], "summer_sale");
        assert_eq!(touch["click_id"], "Cj0KCQjw-test");
        assert_eq!(touch["click_id_type"], "gclid");
        assert_eq!(touch["ts"], "2026-08-03T09:15:42+00:00");
        assert!(batch.not_in_payload.is_empty());
    }

    #[test]
    fn without_a_currency_the_price_is_not_an_amount() {
        let batch = ok(&settings(None), LEAD_ADD);
        let deal = &batch.deal_events[0];
        assert!(!deal.contains_key("amount") && !deal.contains_key("currency"));
        assert_eq!(
            batch.not_in_payload,
            vec![
                "kommo-deal-3456789: price 45800 has no currency in the Kommo payload; set currency in [crm.kommo] to use it"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn status_changes_map_to_stages_won_and_lost() {
        let s = settings(Some("UAH"));
        let batch = ok(&s, LEAD_STATUS);
        assert_eq!(
            batch.deal_events,
            vec![rec(&[
                ("event_id", &format!("kommo-{}-0", payload_id(LEAD_STATUS))),
                ("deal_id", "kommo-deal-3456789"),
                ("lead_id", "kommo-lead-3456789"),
                ("ts", "2026-08-04T12:00:00+00:00"),
                ("type", "stage_changed"),
                ("stage", "Proposal"),
                ("manager", "7654321"),
            ])]
        );

        let won = ok(&s, LEAD_WON);
        assert_eq!(
            won.deal_events,
            vec![rec(&[
                ("event_id", &format!("kommo-{}-0", payload_id(LEAD_WON))),
                ("deal_id", "kommo-deal-3456789"),
                ("lead_id", "kommo-lead-3456789"),
                ("ts", "2026-08-10T15:30:00+00:00"),
                ("type", "won"),
                ("stage", "142"),
                ("amount", "45800"),
                ("currency", "UAH"),
                ("manager", "7654321"),
            ])]
        );

        let lost = ok(&s, LEAD_LOST);
        assert_eq!(lost.deal_events.len(), 2);
        assert_eq!(lost.deal_events[0]["type"], "lost");
        assert_eq!(lost.deal_events[0]["deal_id"], "kommo-deal-3456790");
        assert_eq!(lost.deal_events[0]["loss_reason"], "Too expensive");
        assert_eq!(lost.deal_events[0]["ts"], "2026-08-11T08:00:00+00:00");
        assert!(!lost.deal_events[0].contains_key("amount"));
        assert_eq!(lost.deal_events[1]["type"], "stage_changed");
        assert_eq!(lost.deal_events[1]["deal_id"], "kommo-deal-3456791");
        assert_ne!(
            lost.deal_events[0]["event_id"],
            lost.deal_events[1]["event_id"]
        );
    }

    #[test]
    fn updates_without_a_status_change_are_ignored() {
        let batch = ok(&settings(Some("UAH")), LEAD_UPDATE);
        assert!(batch.is_empty());
        assert_eq!(
            batch.ignored,
            vec!["leads[update][0]: a lead update without a status change".to_owned()]
        );
    }

    #[test]
    fn contacts_are_leads_with_phone_and_email() {
        let batch = ok(&settings(None), CONTACT_ADD);
        assert_eq!(
            batch.leads,
            vec![rec(&[
                ("lead_id", "kommo-contact-9876543"),
                ("ts", "2026-08-03T09:15:40+00:00"),
                ("email", "olena.k@example.com"),
                ("phone", "+380671234567"),
                ("source", "kommo"),
                ("manager", "7654321"),
            ])]
        );
        assert!(batch.deal_events.is_empty() && batch.touchpoints.is_empty());
    }

    #[test]
    fn tokens_are_checked() {
        let s = settings(None);
        assert!(matches!(
            deliver(&s, LEAD_ADD, None),
            Err(CrmError::Unverified(_))
        ));
        assert!(matches!(
            deliver(&s, LEAD_ADD, Some("wrong")),
            Err(CrmError::Unverified(_))
        ));
        let delivery = Delivery {
            method: "POST",
            url: "https://example.test/v1/webhooks/kommo?tenant=acme",
            headers: &[],
            body: LEAD_ADD.trim_end().as_bytes(),
        };
        let replay = Checks::replay(chrono::Utc::now(), true);
        assert_eq!(read(&s, &delivery, &replay).unwrap(), ok(&s, LEAD_ADD));
    }

    #[test]
    fn a_digital_pipeline_status_webhook_is_dated_on_arrival() {
        // The Digital Pipeline's webhook action: the lead's id and statuses, the account,
        // and no time.
        let body = "leads%5Bstatus%5D%5B0%5D%5Bid%5D=25399013&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142\
            &leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=3104455&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=31044552\
            &leads%5Bstatus%5D%5B0%5D%5Bold_pipeline_id%5D=3104455\
            &account%5Bid%5D=29085955&account%5Bsubdomain%5D=acme";
        let arrived = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:07Z")
            .unwrap()
            .to_utc();
        let delivery = Delivery {
            method: "POST",
            url: "https://example.test/v1/webhooks/kommo?tenant=acme&token=kommo-t0ken",
            headers: &[],
            body: body.as_bytes(),
        };
        let batch = read(&settings(None), &delivery, &Checks::live(arrived)).unwrap();
        assert_valid(&batch);
        assert_eq!(batch.deal_events.len(), 1);
        let won = &batch.deal_events[0];
        assert_eq!(won["deal_id"], "kommo-deal-25399013");
        assert_eq!(won["type"], "won");
        assert_eq!(won["ts"], "2026-11-20T10:00:07+00:00");
        assert!(
            batch.not_in_payload[0].contains("dated when the webhook arrived"),
            "{:?}",
            batch.not_in_payload
        );
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let s = settings(None);
        let err = |body: &str| match deliver(&s, body, Some("kommo-t0ken")) {
            Err(CrmError::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(err("hello=world").contains("no leads"));
        assert!(
            err("leads[add][0][name]=x&leads[add][0][date_create]=1").contains("leads[add][0][id]")
        );
        assert!(
            err("leads[status][0][id]=5&leads[status][0][last_modified]=1").contains("status_id")
        );
        assert!(
            err("leads[status][0][id]=5&leads[status][0][status_id]=7&leads[status][0][last_modified]=soon")
                .contains("not Unix seconds")
        );
    }

    #[test]
    fn a_retried_delivery_is_the_same_batch() {
        let s = settings(Some("UAH"));
        for body in [LEAD_ADD, LEAD_STATUS, LEAD_WON, LEAD_LOST, CONTACT_ADD] {
            assert_eq!(ok(&s, body), ok(&s, body));
        }
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

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let s = settings(Some("UAH"));
            let url = "https://example.test/v1/webhooks/kommo?token=kommo-t0ken";
            let delivery = Delivery { method: "POST", url, headers: &[], body: &body };
            let _ = read(&s, &delivery, &Checks::live(chrono::Utc::now()));
        }

        #[test]
        fn arbitrary_form_fields_never_panic(
            pairs in proptest::collection::vec(
                ("(leads|contacts)\\[(add|status|update)\\]\\[[0-9]{1,2}\\](\\[[a-z_0-9]{0,12}\\]){0,4}", ".{0,12}"),
                0..12,
            )
        ) {
            let s = settings(Some("UAH"));
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            let url = "https://example.test/v1/webhooks/kommo?token=kommo-t0ken";
            let delivery = Delivery { method: "POST", url, headers: &[], body: body.as_bytes() };
            if let Ok(batch) = read(&s, &delivery, &Checks::live(chrono::Utc::now())) {
                for record in &batch.deal_events {
                    prop_assert!(record.contains_key("event_id") && record.contains_key("ts"));
                }
            }
        }
    }
}
