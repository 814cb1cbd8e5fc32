//! Replaying what was kept in `quarantine/` after a fix (a mapping, a secret, a tenant's
//! phone country): `throughline replay --source … --from …`.
//!
//! - `webhook-<crm>`: each kept delivery runs through verify → read → validate → store
//!   again, with today's settings; stored ones leave the quarantine.
//! - a table name (`leads`, `touchpoints`, …): the rejected records of imports and of the
//!   collect routes are validated again; valid ones are stored, the rest stay.

use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::Serialize;
use throughline_model::table::Table;
use throughline_model::{Rejected, TenantId};

use crate::webhooks::QuarantinedDelivery;
use crate::{IngestError, IngestOutcome, Ingestor, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EntryResult {
    /// Everything in the entry is now stored (or was already).
    Stored(IngestOutcome),
    /// Some or all of it still fails; it stays in quarantine with this reason.
    StillFailing(String),
}

impl Ingestor {
    /// Quarantine entries of `source` kept on or after `from`, optionally of one tenant, oldest first.
    pub async fn quarantined(
        &self,
        source: &str,
        tenant: Option<&TenantId>,
        from: NaiveDate,
    ) -> Result<Vec<Path>> {
        let prefix = match tenant {
            Some(t) => Path::from(format!("quarantine/{source}/tenant={t}")),
            None => Path::from(format!("quarantine/{source}")),
        };
        let from = from.format("%Y%m%d").to_string();
        let mut entries: Vec<Path> = self
            .lake
            .store()
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            // Entries are named `<YYYYmmddTHHMMSS>-<uuid>.<suffix>`.
            .filter(|path| {
                path.filename()
                    .is_some_and(|name| name.get(..8) >= Some(from.as_str()))
            })
            .collect();
        entries.sort_by(|a, b| a.filename().cmp(&b.filename()));
        Ok(entries)
    }

    /// Replays one quarantine entry of `source`.
    pub async fn replay_entry(&self, source: &str, entry: &Path) -> Result<EntryResult> {
        if source.starts_with("webhook-") {
            return self.replay_webhook_entry(entry).await;
        }
        let table = Table::from_name(source).map_err(|_| {
            IngestError::Invalid(format!(
                "unknown source {source:?}: give webhook-<crm> or a table name"
            ))
        })?;
        self.replay_records(table, entry).await
    }

    async fn replay_webhook_entry(&self, entry: &Path) -> Result<EntryResult> {
        let body = self.lake.get(entry).await?;
        let delivery: QuarantinedDelivery = serde_json::from_slice(&body)
            .map_err(|e| IngestError::Invalid(format!("{entry}: not a kept delivery: {e}")))?;
        match self.replay_delivery(&delivery).await {
            Ok(outcome) => {
                self.forget(entry).await?;
                Ok(EntryResult::Stored(outcome))
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => Ok(EntryResult::StillFailing(e.detailed())),
        }
    }

    async fn replay_records(&self, table: Table, entry: &Path) -> Result<EntryResult> {
        let tenant = tenant_of(entry)?;
        let body = self.lake.get(entry).await?;
        let mut records = Vec::new();
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let rejected: Rejected = serde_json::from_slice(line).map_err(|e| {
                IngestError::Invalid(format!(
                    "{entry} line {}: not a rejected record: {e}",
                    i + 1
                ))
            })?;
            records.push(rejected);
        }
        let mut outcome = IngestOutcome::default();
        let mut still = Vec::new();
        for rejected in records {
            let record = rejected.record.clone().into_iter().collect();
            match self.validate(&tenant, table, &rejected.origin, vec![record]) {
                Ok(rows) => outcome += self.store(&tenant, table, "replay", rows).await?,
                Err(mut again) => {
                    for r in &mut again {
                        r.line = rejected.line;
                    }
                    still.append(&mut again);
                }
            }
        }
        // Keep what still fails in a new entry before dropping the old one: nothing is lost.
        if !still.is_empty() {
            self.lake.quarantine(table.name(), &tenant, &still).await?;
        }
        self.forget(entry).await?;
        Ok(match still.first() {
            None => EntryResult::Stored(outcome),
            Some(first) => EntryResult::StillFailing(format!(
                "{} record(s) still rejected ({} stored), e.g. line {}: {}",
                still.len(),
                outcome.accepted + outcome.duplicates,
                first.line,
                first.reason
            )),
        })
    }

    async fn forget(&self, entry: &Path) -> Result<()> {
        Ok(self.lake.store().delete(entry).await?)
    }
}

fn tenant_of(entry: &Path) -> Result<TenantId> {
    entry
        .parts()
        .find_map(|part| {
            part.as_ref()
                .strip_prefix("tenant=")
                .and_then(|t| TenantId::parse(t).ok())
        })
        .ok_or_else(|| IngestError::Invalid(format!("{entry}: no tenant in the path")))
}
