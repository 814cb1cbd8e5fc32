//! Every table under `tables/<table>/` is a Delta Lake table (delta-rs): its `_delta_log/`
//! says which data files make up each version, commits are put-if-absent writes of the next
//! log entry (no lock service), and every reader — ours through [`Lake::table_files`],
//! Athena, Spark, Python's `deltalake` — sees committed versions only.
//!
//! Data files keep the Hive layout `tenant=<id>/date=<YYYY-MM-DD>/part-<uuid>.parquet`
//! (Parquet written by [`crate::write_parquet`]); `tenant` and `date` are the tables'
//! partition columns and are not stored in the files.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake_core::kernel::{Action, Add, Remove, StructType};
use deltalake_core::logstore::{LogStoreRef, StorageConfig, default_logstore};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::{DeltaTable, DeltaTableError};
use futures::StreamExt;
use object_store::ObjectMeta;
use object_store::path::Path;
use throughline_model::TenantId;
use throughline_model::field::date_string;
use url::Url;

use crate::parquet_io::write_parquet;
use crate::{Error, Lake, Result};

/// The partition column every table has.
pub const TENANT_COLUMN: &str = "tenant";
/// The partition column of dated tables (all but the KPI rollups).
pub const DATE_COLUMN: &str = "date";

/// Commits retried after a conflicting commit won (each retry rereads the log).
const COMMIT_ATTEMPTS: usize = 5;

/// Which version of the lake a reader asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsOf {
    #[default]
    Latest,
    /// A version of the `attribution` table; the other tables are read as they were when
    /// it was committed.
    Version(u64),
    /// Every table as it was at this time.
    Time(DateTime<Utc>),
}

impl std::str::FromStr for AsOf {
    type Err = Error;

    /// `12` (a version), `2026-11-30T18:00:00Z` (RFC 3339) or `2026-11-30` (the end of
    /// that UTC day).
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Ok(version) = text.parse::<u64>() {
            return Ok(Self::Version(version));
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::Time(time.with_timezone(&Utc)));
        }
        if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let end = day
                .and_hms_milli_opt(23, 59, 59, 999)
                .expect("a valid time of day");
            return Ok(Self::Time(end.and_utc()));
        }
        Err(Error::AsOf(text.to_owned()))
    }
}

/// A data file a version of a table names.
#[derive(Debug, Clone, PartialEq)]
pub struct TableFile {
    /// Key from the lake root (`tables/<table>/tenant=…/date=…/part-….parquet`).
    pub key: Path,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// The `date` partition (days since the epoch), for dated tables.
    pub date: Option<i32>,
    /// Rows in the file, when the log's statistics say.
    pub rows: Option<u64>,
}

/// One tenant's files of a table at one version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableFiles {
    /// `None`: the table had no commit (yet, or at the time asked for).
    pub version: Option<u64>,
    pub files: Vec<TableFile>,
}

impl TableFiles {
    /// The files' object metadata, for a [`crate::SnapshotStore`] keyed as the lake's root
    /// store addresses objects (`root_prefix` + key).
    pub fn object_metas(&self, root_prefix: &str) -> Vec<ObjectMeta> {
        self.files
            .iter()
            .map(|f| ObjectMeta {
                location: Path::from(format!("{root_prefix}{}", f.key)),
                last_modified: f.modified,
                size: f.size,
                e_tag: None,
                version: None,
            })
            .collect()
    }
}

/// A data file written and not yet committed: invisible to every reader until a commit
/// names it (and deleted by VACUUM after the retention period if none ever does).
#[derive(Debug, Clone)]
pub struct DataFile {
    pub(crate) add: Add,
    pub(crate) table: String,
    pub date: Option<i32>,
    pub rows: usize,
}

impl DataFile {
    /// Key from the lake root.
    pub fn key(&self) -> Path {
        Path::from(format!("tables/{}/{}", self.table, self.add.path))
    }
}

pub(crate) fn table_root(table: &str) -> String {
    format!("tables/{table}")
}

fn partition_dir(tenant: &TenantId, date: Option<i32>) -> String {
    match date {
        Some(date) => format!(
            "{TENANT_COLUMN}={tenant}/{DATE_COLUMN}={}",
            date_string(date)
        ),
        None => format!("{TENANT_COLUMN}={tenant}"),
    }
}

/// No table at the location yet (no directory, or no log entry).
fn absent(error: &DeltaTableError) -> bool {
    matches!(error, DeltaTableError::NotATable(_))
        || matches!(error, DeltaTableError::KernelError(e) if e.to_string().contains("does not exist"))
}

/// A version the table does not have (never committed, or its log entry cleaned up).
fn missing_version(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::NotATable(_) | DeltaTableError::InvalidVersion(_)
    )
}

fn no_version(version: u64) -> Error {
    Error::AsOf(format!(
        "{version} (the attribution table has no such version, or it is older than the log keeps)"
    ))
}

fn is_conflict(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_)
                    | TransactionError::MaxCommitAttempts(_)
                    | TransactionError::VersionAlreadyExists(_)
            }
    )
}

impl Lake {
    fn table_url(&self, table: &str) -> Url {
        let (_, lake_url) = self.delta_root();
        lake_url
            .join(&format!("{}/", table_root(table)))
            .expect("table names are URL-safe")
    }

    /// The log store of one table: the lake's own object store (so S3 settings, the local
    /// emulator and conditional puts are the lake's), rooted at the table.
    fn log_store(&self, table: &str) -> LogStoreRef {
        let prefixed: Arc<dyn object_store::ObjectStore> = Arc::new(
            object_store::prefix::PrefixStore::new(self.store(), table_root(table).as_str()),
        );
        let (root, _) = self.delta_root();
        default_logstore(
            prefixed,
            root,
            &self.table_url(table),
            &StorageConfig::default(),
        )
    }

    /// The newest version of a table (`None` before its first commit). A process keeps the
    /// loaded snapshot and reads only the log entries committed since.
    pub(crate) async fn delta_table(&self, table: &str) -> Result<Option<DeltaTable>> {
        let cached = self.snapshots().get(table);
        // The log reader reports a missing table as an error log line: look first.
        if cached.is_none() && !self.has_log(table).await? {
            return Ok(None);
        }
        let mut delta = cached.unwrap_or_else(|| DeltaTable::new(self.log_store(table)));
        let loaded = if delta.version().is_some() {
            delta.update_incremental(None).await
        } else {
            delta.load().await
        };
        match loaded {
            Ok(()) => {
                self.snapshots().put(table, delta.clone());
                Ok(Some(delta))
            }
            Err(e) if absent(&e) => Ok(None),
            Err(e) => Err(Error::delta(table, e)),
        }
    }

    /// Whether the table's `_delta_log/` has an object (one listing request).
    async fn has_log(&self, table: &str) -> Result<bool> {
        let log = Path::from(format!("{}/_delta_log", table_root(table)));
        match self.store().list(Some(&log)).next().await {
            None | Some(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// A table as of a version or time (`None`: no commit at that point).
    async fn delta_table_as_of(&self, table: &str, as_of: &AsOf) -> Result<Option<DeltaTable>> {
        let time = match as_of {
            AsOf::Latest => return self.delta_table(table).await,
            AsOf::Version(version) if table == crate::ATTRIBUTION_TABLE => {
                return match self.attribution_version(*version).await? {
                    Some(delta) => Ok(Some(delta)),
                    None => Err(no_version(*version)),
                };
            }
            AsOf::Version(version) => match self.version_time(*version).await? {
                Some(time) => time,
                None => return Err(no_version(*version)),
            },
            AsOf::Time(time) => *time,
        };
        if self.delta_table(table).await?.is_none() {
            return Ok(None);
        }
        let mut delta = DeltaTable::new(self.log_store(table));
        delta
            .load_with_datetime(time)
            .await
            .map_err(|e| Error::delta(table, e))?;
        // Asked for a time before the table's first commit, delta-rs loads that commit.
        if committed_at(&delta, table)?.is_some_and(|at| at > time) {
            return Ok(None);
        }
        Ok(Some(delta))
    }

    /// When a version of `attribution` was committed.
    async fn version_time(&self, version: u64) -> Result<Option<DateTime<Utc>>> {
        match self.attribution_version(version).await? {
            Some(delta) => committed_at(&delta, crate::ATTRIBUTION_TABLE),
            None => Ok(None),
        }
    }

    /// `attribution` at `version` (`None`: not committed yet, or its log entry is gone).
    async fn attribution_version(&self, version: u64) -> Result<Option<DeltaTable>> {
        let table = crate::ATTRIBUTION_TABLE;
        // The log reader reports a version past the newest as a generic error: ask first.
        match self.delta_table(table).await?.and_then(|t| t.version()) {
            Some(newest) if version <= newest => {}
            _ => return Ok(None),
        }
        let mut delta = DeltaTable::new(self.log_store(table));
        match delta.load_version(version).await {
            Ok(()) => Ok(Some(delta)),
            Err(e) if missing_version(&e) => Ok(None),
            Err(e) => Err(Error::delta(table, e)),
        }
    }

    /// The version a table is at (`None` before its first commit).
    pub async fn table_version(&self, table: &str) -> Result<Option<u64>> {
        Ok(self.delta_table(table).await?.and_then(|t| t.version()))
    }

    /// One tenant's data files of a table, as of a version or time.
    pub async fn table_files(
        &self,
        table: &str,
        tenant: &TenantId,
        as_of: &AsOf,
    ) -> Result<TableFiles> {
        let Some(delta) = self.delta_table_as_of(table, as_of).await? else {
            return Ok(TableFiles::default());
        };
        Ok(TableFiles {
            version: delta.version(),
            files: tenant_files(&delta, table, tenant, None)?,
        })
    }

    /// Writes rows as a new data file of `table` in the partition of `tenant` (and `date`),
    /// not yet committed. `batches` must not be empty.
    pub async fn write_data_file(
        &self,
        table: &str,
        tenant: &TenantId,
        date: Option<i32>,
        batches: &[RecordBatch],
    ) -> Result<DataFile> {
        let relative = format!(
            "{}/part-{}.parquet",
            partition_dir(tenant, date),
            uuid::Uuid::now_v7()
        );
        self.write_data_file_named(table, tenant, date, batches, relative)
            .await
    }

    pub(crate) async fn write_data_file_named(
        &self,
        table: &str,
        tenant: &TenantId,
        date: Option<i32>,
        batches: &[RecordBatch],
        relative: String,
    ) -> Result<DataFile> {
        let body = write_parquet(batches)?;
        let size = body.len() as i64;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        self.put(
            &Path::from(format!("{}/{relative}", table_root(table))),
            body,
        )
        .await?;
        let mut partition_values =
            HashMap::from([(TENANT_COLUMN.to_owned(), Some(tenant.to_string()))]);
        if let Some(date) = date {
            partition_values.insert(DATE_COLUMN.to_owned(), Some(date_string(date)));
        }
        Ok(DataFile {
            add: Add {
                path: relative,
                partition_values,
                size,
                modification_time: Utc::now().timestamp_millis(),
                data_change: true,
                stats: Some(format!("{{\"numRecords\":{rows}}}")),
                ..Default::default()
            },
            table: table.to_owned(),
            date,
            rows,
        })
    }

    /// The table, created with `schema` (the files' columns; `tenant` and `date` are added
    /// as partition columns) at its first write.
    pub(crate) async fn table_for_write(
        &self,
        table: &str,
        schema: &Schema,
        dated: bool,
    ) -> Result<DeltaTable> {
        if let Some(delta) = self.delta_table(table).await? {
            return self.with_columns_of(table, delta, schema).await;
        }
        let mut fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let mut partitions = vec![TENANT_COLUMN];
        fields.push(Field::new(TENANT_COLUMN, DataType::Utf8, true));
        if dated {
            fields.push(Field::new(DATE_COLUMN, DataType::Date32, true));
            partitions.push(DATE_COLUMN);
        }
        let kernel: StructType = (&Schema::new(fields))
            .try_into_kernel()
            .map_err(|e| Error::delta(table, DeltaTableError::from(e)))?;
        let created = deltalake_core::operations::create::CreateBuilder::new()
            .with_log_store(self.log_store(table))
            .with_table_name(table)
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(partitions)
            .with_save_mode(SaveMode::ErrorIfExists)
            // Losing the race for version 0, delta-rs would retry the create as the next
            // version (a second table id and schema in the log): fail instead.
            .with_commit_properties(CommitProperties::default().with_max_retries(0))
            .await;
        match created {
            Ok(_) => {}
            // Another writer created it first: use theirs. (Seeing the table already there,
            // delta-rs answers a `GenericError` wrapping its "table already exists".)
            Err(e)
                if is_conflict(&e)
                    || matches!(
                        e,
                        DeltaTableError::Generic(_) | DeltaTableError::GenericError { .. }
                    ) =>
            {
                tracing::debug!(table, error = %e, "table created concurrently");
            }
            Err(e) => return Err(Error::delta(table, e)),
        }
        self.delta_table(table)
            .await?
            .ok_or_else(|| Error::delta(table, DeltaTableError::NotInitialized))
    }

    /// `delta` with every column of the stored `schema`: a table created before a column
    /// was added to its schema (e.g. `touchpoints.click_ids`) gets it, nullable, in one
    /// commit before the write that needs it; older files read it as null.
    async fn with_columns_of(
        &self,
        table: &str,
        mut delta: DeltaTable,
        schema: &Schema,
    ) -> Result<DeltaTable> {
        for _ in 0..COMMIT_ATTEMPTS {
            let current = delta
                .snapshot()
                .map_err(|e| Error::delta(table, e))?
                .schema();
            let missing: Vec<Field> = schema
                .fields()
                .iter()
                .filter(|f| current.field(f.name()).is_none())
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect();
            if missing.is_empty() {
                return Ok(delta);
            }
            let kernel: StructType = (&Schema::new(missing))
                .try_into_kernel()
                .map_err(|e| Error::delta(table, DeltaTableError::from(e)))?;
            tracing::info!(table, columns = ?kernel.fields().map(|f| f.name()).collect::<Vec<_>>(),
                "adding the stored schema's new columns to the table");
            match delta
                .add_columns()
                .with_fields(kernel.fields().cloned().collect::<Vec<_>>())
                .await
            {
                Ok(updated) => return Ok(updated),
                // Another writer changed the table (perhaps adding the same column): look again.
                Err(e) if is_conflict(&e) => {
                    tracing::info!(table, error = %e, "table changed while adding columns, retrying");
                    delta = self
                        .delta_table(table)
                        .await?
                        .ok_or_else(|| Error::delta(table, DeltaTableError::NotInitialized))?;
                }
                Err(e) => return Err(Error::delta(table, e)),
            }
        }
        Err(Error::CommitConflict {
            table: table.into(),
            tenant: "every tenant".into(),
        })
    }

    /// Commits `files` as new data of `table`, plus the removal of the files `remove`
    /// picks from the tenant's current files (recomputed on every retry, after a
    /// conflicting commit). `remove` answers `None` when a file it planned on is gone
    /// (another commit removed it): nothing is committed and `Ok(None)` tells the caller
    /// to plan again. Returns the version committed.
    /// `loaded` is the table as the caller just loaded it (tried first, saving a read of
    /// the log); retries read the log again.
    pub(crate) async fn commit(
        &self,
        table: &str,
        tenant: &TenantId,
        mut loaded: Option<DeltaTable>,
        files: &[DataFile],
        operation: impl Fn() -> DeltaOperation,
        remove: impl Fn(&[TableFile]) -> Option<Vec<Path>>,
    ) -> Result<Option<u64>> {
        let mut last_error = None;
        for _ in 0..COMMIT_ATTEMPTS {
            let delta = match loaded.take() {
                Some(delta) => delta,
                None => self
                    .delta_table(table)
                    .await?
                    .ok_or_else(|| Error::delta(table, DeltaTableError::NotInitialized))?,
            };
            let current = tenant_files(&delta, table, tenant, None)?;
            let Some(removed) = remove(&current) else {
                return Ok(None);
            };
            let removed: std::collections::HashSet<Path> = removed.into_iter().collect();
            let snapshot = delta.snapshot().map_err(|e| Error::delta(table, e))?;
            let mut actions: Vec<Action> = Vec::with_capacity(files.len() + removed.len());
            let root = table_root(table);
            for view in snapshot.log_data().iter() {
                let key = Path::from(format!("{root}/{}", view.object_store_path()));
                if removed.contains(&key) {
                    actions.push(Action::Remove(Remove {
                        deletion_timestamp: Some(Utc::now().timestamp_millis()),
                        ..view.remove_action(true)
                    }));
                }
            }
            actions.extend(files.iter().map(|f| Action::Add(f.add.clone())));
            if actions.is_empty() {
                return Ok(Some(delta.version().unwrap_or_default()));
            }
            let committed = CommitBuilder::from(CommitProperties::default())
                .with_actions(actions)
                .with_max_retries(15)
                .build(Some(snapshot), delta.log_store(), operation())
                .await;
            match committed {
                Ok(done) => return Ok(Some(done.version())),
                Err(e) if is_conflict(&e) => {
                    tracing::info!(table, %tenant, error = %e, "commit conflict, retrying");
                    last_error = Some(e);
                }
                Err(e) => return Err(Error::delta(table, e)),
            }
        }
        tracing::warn!(table, %tenant, error = ?last_error, "commit kept conflicting");
        Err(Error::CommitConflict {
            table: table.into(),
            tenant: tenant.to_string(),
        })
    }

    /// Appends `files` to `table` (created with `schema` at its first write) in one commit.
    pub async fn commit_append(
        &self,
        table: &str,
        tenant: &TenantId,
        schema: &Schema,
        files: &[DataFile],
    ) -> Result<u64> {
        let dated = files.iter().all(|f| f.date.is_some());
        let loaded = self.table_for_write(table, schema, dated).await?;
        self.commit(
            table,
            tenant,
            Some(loaded),
            files,
            || append_operation(dated),
            |_| Some(Vec::new()),
        )
        .await
        .map(|version| version.unwrap_or_default())
    }
}

/// When the loaded version of a table was committed.
fn committed_at(delta: &DeltaTable, table: &str) -> Result<Option<DateTime<Utc>>> {
    let snapshot = delta.snapshot().map_err(|e| Error::delta(table, e))?;
    Ok(snapshot
        .version_timestamp(snapshot.version())
        .and_then(DateTime::from_timestamp_millis))
}

pub(crate) fn append_operation(dated: bool) -> DeltaOperation {
    DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: Some(partition_columns(dated)),
        predicate: None,
    }
}

pub(crate) fn partition_columns(dated: bool) -> Vec<String> {
    let mut columns = vec![TENANT_COLUMN.to_owned()];
    if dated {
        columns.push(DATE_COLUMN.to_owned());
    }
    columns
}

/// The tenant's files of a loaded table, optionally of one date partition.
pub(crate) fn tenant_files(
    delta: &DeltaTable,
    table: &str,
    tenant: &TenantId,
    date: Option<i32>,
) -> Result<Vec<TableFile>> {
    let snapshot = delta.snapshot().map_err(|e| Error::delta(table, e))?;
    let tenant = tenant.as_str();
    let root = table_root(table);
    let wanted_date = date.map(date_string);
    let mut files = Vec::new();
    for view in snapshot.log_data().iter() {
        let partitions = view.partition_values_map();
        if partitions.get(TENANT_COLUMN).and_then(Option::as_deref) != Some(tenant) {
            continue;
        }
        let day = partitions.get(DATE_COLUMN).and_then(Option::as_deref);
        if wanted_date.is_some() && day != wanted_date.as_deref() {
            continue;
        }
        files.push(TableFile {
            key: Path::from(format!("{root}/{}", view.object_store_path())),
            size: u64::try_from(view.size()).unwrap_or_default(),
            modified: DateTime::from_timestamp_millis(view.modification_time()).unwrap_or_default(),
            date: day.and_then(|d| throughline_model::field::parse_date(DATE_COLUMN, d).ok()),
            rows: view.num_records().map(|n| n as u64),
        });
    }
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The tenant's file keys of a table at a version.
    pub(crate) async fn files_at(
        lake: &Lake,
        table: &str,
        tenant: &TenantId,
        version: u64,
    ) -> Vec<Path> {
        let mut delta = DeltaTable::new(lake.log_store(table));
        delta.load_version(version).await.unwrap();
        tenant_files(&delta, table, tenant, None)
            .unwrap()
            .into_iter()
            .map(|f| f.key)
            .collect()
    }
}
