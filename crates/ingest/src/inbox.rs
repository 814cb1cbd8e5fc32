//! Files dropped in the lake's inbox (`inbox/<table>/tenant=<id>/<file>.csv|ndjson|parquet`),
//! e.g. cost reports agencies and offline media send as CSV, are imported like
//! `throughline import`. A file is imported once: its path is claimed in the state store
//! after its rows are stored, and it stays in the inbox as the original.

use std::time::Duration;

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use serde::Serialize;
use throughline_lake::{AppendReport, Lake};
use throughline_model::table::{ParseOptions, Table};
use throughline_model::{Rejected, TenantId};
use throughline_sources::import::{FileRecords, Format, read_bytes, validate};

use crate::{Ingestor, Result};

const INBOX_MEMORY: Duration = Duration::from_secs(400 * 24 * 3600);

/// What storing one file's records did.
#[derive(Debug)]
pub struct FileImport {
    pub appended: AppendReport,
    /// Every rejected record (unreadable lines and failed validation), by line.
    pub rejected: Vec<Rejected>,
    /// Where the rejected records are kept, if any were.
    pub quarantined: Option<Path>,
}

/// The import step shared by `throughline import` and the inbox: validate a file's records,
/// append the valid ones idempotently, keep the rejected ones in quarantine with reasons.
pub async fn store_file_records(
    lake: &Lake,
    tenant: &TenantId,
    table: Table,
    name: &str,
    records: FileRecords,
    options: &ParseOptions,
    progress: impl FnMut(usize),
) -> throughline_lake::Result<FileImport> {
    let validated = validate(name, table, records.records, options, progress);
    let appended = lake.append(table, tenant, &validated.rows).await?;
    let mut rejected = records.unreadable;
    rejected.extend(validated.rejected);
    rejected.sort_by_key(|r| r.line);
    let quarantined = lake.quarantine(table.name(), tenant, &rejected).await?;
    Ok(FileImport {
        appended,
        rejected,
        quarantined,
    })
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct InboxReport {
    pub files: usize,
    pub stored: usize,
    pub already_present: usize,
    pub rejected: usize,
    pub failed_files: Vec<String>,
}

impl Ingestor {
    pub async fn import_inbox(&self, tenant: &TenantId, table: Table) -> Result<InboxReport> {
        let prefix = Path::from(format!("inbox/{}/tenant={tenant}", table.name()));
        let files: Vec<Path> = self
            .lake
            .store()
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        let scope = format!("inbox/{tenant}/{}", table.name());
        let mut report = InboxReport::default();
        for path in files {
            let name = path.to_string();
            if self.state.has_key(&scope, &name).await? {
                continue;
            }
            report.files += 1;
            let format = match Format::of(std::path::Path::new(&name)) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(file = name, error = %e, "skipping inbox file");
                    report.failed_files.push(format!("{e}"));
                    continue;
                }
            };
            let body = self.lake.get(&path).await?;
            let records = match read_bytes(&name, format, body, table) {
                Ok(r) => r,
                Err(e) => {
                    // Unreadable as a whole: the original stays in the inbox; say why and move on.
                    tracing::warn!(file = name, error = %e, "cannot import inbox file");
                    report.failed_files.push(e.to_string());
                    self.state.claim_key(&scope, &name, INBOX_MEMORY).await?;
                    continue;
                }
            };
            let FileImport {
                appended, rejected, ..
            } = store_file_records(
                &self.lake,
                tenant,
                table,
                &name,
                records,
                &self.options,
                |_| {},
            )
            .await?;
            self.state.claim_key(&scope, &name, INBOX_MEMORY).await?;
            report.stored += appended.stored;
            report.already_present += appended.already_present;
            report.rejected += rejected.len();
            tracing::info!(
                file = name,
                stored = appended.stored,
                rejected = rejected.len(),
                "inbox file imported"
            );
        }
        Ok(report)
    }
}
