//! CRM webhooks: keep the delivery, verify it, read it with the vendor's connector,
//! validate every row, store. A delivery that fails to verify, read or validate is kept
//! under `quarantine/webhook-<crm>/` with its reason, and `throughline replay` runs it
//! through the same steps again after a fix ([`Ingestor::replay_webhooks`]).

use std::collections::HashMap;

use bytes::Bytes;
use chrono::Utc;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use throughline_model::table::Table;
use throughline_model::{Rejected, TenantId};
use throughline_sources::crm::{Checks, Crm, CrmBatch, CrmError, Delivery};

use crate::{IngestError, IngestOutcome, Ingestor, Result};

/// Headers never kept with a delivery: they carry secrets.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];
/// Query parameters never kept with a delivery, for the same reason.
const SECRET_PARAMS: [&str; 2] = ["token", "key"];

/// What is kept next to a delivery's body so it can be read again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryMeta {
    pub crm: String,
    pub method: String,
    /// The URL without secret parameters.
    pub url: String,
    /// Lower-case names, without secret headers.
    pub headers: Vec<(String, String)>,
    pub received_at: String,
    /// Whether its signature / token / credentials were good on arrival.
    pub verified: bool,
}

/// A quarantined delivery: `quarantine/webhook-<crm>/tenant=<id>/<time>-<uuid>.webhook.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantinedDelivery {
    pub tenant: String,
    /// The body, verbatim, under `raw/`.
    pub raw: String,
    pub meta: DeliveryMeta,
    /// The kind of failure ([`crate::IngestError::kind`]): `unverified`, `invalid`,
    /// `rejected` or `not_configured`. Entries kept before it existed read as empty.
    #[serde(default)]
    pub kind: String,
    /// Why it was not stored, e.g. `wrong kommo token` or `2 record(s) rejected: …`.
    pub reason: String,
    #[serde(default)]
    pub rejected: Vec<Rejected>,
}

/// Why a delivery was not stored.
enum Failure {
    /// Verification, reading or validation failed: kept for replay (with the rejected
    /// rows, if validation failed), answered 4xx.
    Kept(IngestError),
    /// Storage failed: the vendor retries.
    Retry(IngestError),
}

impl Ingestor {
    /// One webhook delivery for a tenant that has set up `crm`.
    pub async fn receive_webhook(
        &self,
        tenant: &TenantId,
        crm: Crm,
        delivery: &Delivery<'_>,
    ) -> Result<IngestOutcome> {
        let source = format!("webhook-{}", crm.name());
        let raw = self
            .keep_raw(
                &source,
                tenant,
                "body",
                Bytes::copy_from_slice(delivery.body),
            )
            .await?;
        let checks = Checks::live(Utc::now());
        let mut meta = DeliveryMeta {
            crm: crm.name().to_owned(),
            method: delivery.method.to_owned(),
            url: without_params(delivery.url, &SECRET_PARAMS),
            headers: delivery
                .headers
                .iter()
                .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
                .cloned()
                .collect(),
            received_at: checks.now.to_rfc3339(),
            verified: false,
        };
        match self
            .process_delivery(tenant, crm, delivery, &checks, &raw, &mut meta)
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(Failure::Retry(e)) => Err(e),
            Err(Failure::Kept(e)) => {
                self.keep_failed_delivery(tenant, &raw, meta, &e).await?;
                Err(e)
            }
        }
    }

    async fn process_delivery(
        &self,
        tenant: &TenantId,
        crm: Crm,
        delivery: &Delivery<'_>,
        checks: &Checks,
        raw: &Path,
        meta: &mut DeliveryMeta,
    ) -> std::result::Result<IngestOutcome, Failure> {
        let settings = self
            .config
            .tenant(tenant.as_str())
            .map(|t| &t.crm)
            .ok_or_else(|| Failure::Kept(not_configured(crm)))?;
        let batch = match settings.read(crm, delivery, checks) {
            None => return Err(Failure::Kept(not_configured(crm))),
            Some(Err(e @ (CrmError::Unverified(_) | CrmError::Stale(_)))) => {
                tracing::warn!(%tenant, crm = crm.name(), reason = %e, "webhook not verified");
                return Err(Failure::Kept(IngestError::Unverified(e.to_string())));
            }
            Some(Err(e)) => {
                meta.verified = true;
                return Err(Failure::Kept(IngestError::Invalid(e.to_string())));
            }
            Some(Ok(batch)) => batch,
        };
        meta.verified = true;
        self.store_batch(tenant, crm, batch, raw).await
    }

    /// Validates every row of the delivery first, so a delivery is stored whole or not at all.
    async fn store_batch(
        &self,
        tenant: &TenantId,
        crm: Crm,
        batch: CrmBatch,
        raw: &Path,
    ) -> std::result::Result<IngestOutcome, Failure> {
        let source = format!("webhook-{}", crm.name());
        let origin = format!("{source} {raw}");
        for note in &batch.not_in_payload {
            tracing::info!(%tenant, crm = crm.name(), note, "not in the payload");
        }
        let tables = [
            (Table::Touchpoints, batch.touchpoints),
            (Table::Leads, batch.leads),
            (Table::DealEvents, batch.deal_events),
            (Table::Orders, batch.orders),
        ];
        let mut validated = Vec::new();
        let mut rejected = Vec::new();
        for (table, records) in tables {
            if records.is_empty() {
                continue;
            }
            let records: Vec<HashMap<String, String>> = records
                .into_iter()
                .map(|r| r.into_iter().collect())
                .collect();
            match self.validate(tenant, table, &origin, records) {
                Ok(rows) => validated.push((table, rows)),
                Err(mut more) => rejected.append(&mut more),
            }
        }
        if !rejected.is_empty() {
            return Err(Failure::Kept(IngestError::Rejected(rejected)));
        }
        let mut outcome = IngestOutcome::default();
        for (table, rows) in validated {
            outcome += self
                .store(tenant, table, &source, rows)
                .await
                .map_err(Failure::Retry)?;
        }
        Ok(outcome)
    }

    async fn keep_failed_delivery(
        &self,
        tenant: &TenantId,
        raw: &Path,
        meta: DeliveryMeta,
        error: &IngestError,
    ) -> Result<()> {
        let rejected = match error {
            IngestError::Rejected(rejected) => rejected.clone(),
            _ => Vec::new(),
        };
        let entry = QuarantinedDelivery {
            tenant: tenant.to_string(),
            raw: raw.to_string(),
            kind: error.kind().to_owned(),
            reason: error.detailed(),
            meta,
            rejected,
        };
        let source = format!("webhook-{}", entry.meta.crm);
        let body = serde_json::to_vec_pretty(&entry).expect("an entry serialises");
        self.lake
            .quarantine_file(&source, tenant, "webhook.json", body.into())
            .await?;
        Ok(())
    }

    /// Reads a quarantined delivery again with today's settings; `Ok` when it is stored.
    pub async fn replay_delivery(&self, entry: &QuarantinedDelivery) -> Result<IngestOutcome> {
        let tenant = TenantId::parse(&entry.tenant)
            .map_err(|e| IngestError::Invalid(format!("quarantine entry: {e}")))?;
        let crm = Crm::from_name(&entry.meta.crm)
            .ok_or_else(|| IngestError::Invalid(format!("unknown CRM {}", entry.meta.crm)))?;
        let body = self.lake.get(&Path::from(entry.raw.as_str())).await?;
        let delivery = Delivery {
            method: &entry.meta.method,
            url: &entry.meta.url,
            headers: &entry.meta.headers,
            body: &body,
        };
        // Read as of its arrival: a payload without times is dated when it arrived.
        let arrived = chrono::DateTime::parse_from_rfc3339(&entry.meta.received_at)
            .map_or_else(|_| Utc::now(), |t| t.to_utc());
        let checks = Checks::replay(arrived, entry.meta.verified);
        let mut meta = entry.meta.clone();
        self.process_delivery(
            &tenant,
            crm,
            &delivery,
            &checks,
            &Path::from(entry.raw.as_str()),
            &mut meta,
        )
        .await
        .map_err(|f| match f {
            Failure::Kept(e) | Failure::Retry(e) => e,
        })
    }
}

/// The answer for a delivery to a tenant that has not set `crm` up: the same whether the
/// tenant exists or not, so a sender cannot probe for tenants.
fn not_configured(crm: Crm) -> IngestError {
    IngestError::NotConfigured(format!("no {} webhook is set up here", crm.name()))
}

/// `url` without the named query parameters.
pub fn without_params(url: &str, names: &[&str]) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !names.contains(&name)
        })
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_kept_in_urls() {
        assert_eq!(
            without_params(
                "https://h/v1/webhooks/kommo?tenant=a&token=s3&x=1",
                &SECRET_PARAMS
            ),
            "https://h/v1/webhooks/kommo?tenant=a&x=1"
        );
        assert_eq!(
            without_params("https://h/p?token=s", &SECRET_PARAMS),
            "https://h/p"
        );
        assert_eq!(without_params("https://h/p", &SECRET_PARAMS), "https://h/p");
    }
}
