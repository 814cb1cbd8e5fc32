//! The lake handle: one object store rooted at the lake's location, used the same way
//! whether it is a local directory or S3.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use throughline_model::table::Table;
use throughline_model::table::join_key;
use throughline_model::{Rejected, Row, TenantId};

use crate::layout;
use crate::parquet_io::{read_parquet, write_parquet};
use crate::{Error, Result, rows_to_batch};

#[derive(Debug, Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    location: String,
    /// The store at the bucket root and the lake's prefix in it, for DataFusion: object_store
    /// 0.13's `PrefixStore` returns unstripped locations from `head`, which hides files from
    /// DataFusion's listing, so the engine addresses the root store with full keys.
    root: Arc<dyn ObjectStore>,
    root_prefix: String,
}

/// What an append did: rows stored, and rows skipped because the lake already had them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendReport {
    pub stored: usize,
    pub already_present: usize,
}

impl Lake {
    /// Opens a lake: a local directory (created if missing) or `s3://bucket/prefix`, with
    /// S3 settings from the standard AWS environment (`AWS_REGION`, credentials,
    /// `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP` for a local emulator).
    pub fn open(location: &str) -> Result<Self> {
        if let Some(rest) = location.strip_prefix("s3://") {
            return Self::open_s3(location, rest);
        }
        let dir = location.strip_prefix("file://").unwrap_or(location);
        std::fs::create_dir_all(dir).map_err(|e| Error::Open {
            location: location.to_owned(),
            reason: e.to_string(),
        })?;
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::Open {
            location: location.to_owned(),
            reason: e.to_string(),
        })?;
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir)?);
        Ok(Self {
            root: store.clone(),
            root_prefix: String::new(),
            store,
            location: dir.display().to_string(),
        })
    }

    fn open_s3(location: &str, bucket_and_prefix: &str) -> Result<Self> {
        let (bucket, prefix) = bucket_and_prefix
            .split_once('/')
            .unwrap_or((bucket_and_prefix, ""));
        if bucket.is_empty() {
            return Err(Error::Open {
                location: location.to_owned(),
                reason: "expected s3://bucket/prefix".into(),
            });
        }
        let s3 = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // Manifest commits and state claims need put-if-absent (`If-None-Match: *`).
            .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
            .build()
            .map_err(|e| Error::Open {
                location: location.to_owned(),
                reason: e.to_string(),
            })?;
        let prefix = prefix.trim_matches('/');
        let root: Arc<dyn ObjectStore> = Arc::new(s3);
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            root.clone()
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(root.clone(), prefix))
        };
        Ok(Self {
            store,
            root,
            root_prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            location: location.trim_end_matches('/').to_owned(),
        })
    }

    /// A lake over any object store (S3, memory), rooted at the store's root.
    pub fn from_store(store: Arc<dyn ObjectStore>, location: impl Into<String>) -> Self {
        Self {
            root: store.clone(),
            root_prefix: String::new(),
            store,
            location: location.into(),
        }
    }

    /// The store at its root and the lake's key prefix (`""` or `"prefix/"`), for engines
    /// that address objects by full key.
    pub fn root_store(&self) -> (Arc<dyn ObjectStore>, &str) {
        (self.root.clone(), &self.root_prefix)
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// Human-readable location, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    pub async fn list_files(&self, prefix: &Path) -> Result<Vec<Path>> {
        let mut files: Vec<Path> = self
            .store
            .list(Some(prefix))
            .map_ok(|meta| meta.location)
            .try_filter(|p| futures::future::ready(p.extension() == Some("parquet")))
            .try_collect()
            .await?;
        files.sort();
        Ok(files)
    }

    pub async fn get(&self, path: &Path) -> Result<bytes::Bytes> {
        Ok(self.store.get(path).await?.bytes().await?)
    }

    /// An object that may be absent (a deployed config): `None` when there is none.
    pub async fn get_if_exists(&self, path: &Path) -> Result<Option<bytes::Bytes>> {
        match self.get(path).await {
            Ok(body) => Ok(Some(body)),
            Err(crate::Error::Store(object_store::Error::NotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn put(&self, path: &Path, body: bytes::Bytes) -> Result<()> {
        self.store.put(path, PutPayload::from(body)).await?;
        Ok(())
    }

    /// Appends validated rows to a table, one new file per date partition. Rows whose key
    /// is already in their partition (or earlier in `rows`) are skipped, so re-importing
    /// the same rows adds nothing. Each file is written atomically; a crash between
    /// partitions leaves the others to the next (idempotent) run.
    pub async fn append(
        &self,
        table: Table,
        tenant: &TenantId,
        rows: &[Row],
    ) -> Result<AppendReport> {
        let mut by_date: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
        for row in rows {
            by_date.entry(row.date).or_default().push(row);
        }
        let mut report = AppendReport::default();
        for (date, partition_rows) in by_date {
            let mut seen = self.partition_keys(table, tenant, date).await?;
            let received = partition_rows.len();
            let fresh: Vec<&Row> = partition_rows
                .into_iter()
                .filter(|row| seen.insert(table.row_key(row)))
                .collect();
            report.already_present += received - fresh.len();
            if fresh.is_empty() {
                continue;
            }
            let batch = rows_to_batch(table, &fresh)?;
            let path = layout::new_part_file(table.name(), tenant, date);
            self.put(&path, write_parquet(&[batch])?).await?;
            report.stored += fresh.len();
        }
        if report.stored > 0 {
            self.rows_changed(table, tenant).await?;
        }
        Ok(report)
    }

    /// Writes validated rows as new files, one per date partition, without checking what
    /// the partition holds: the ingest path, where the state store's idempotency keys stop
    /// retries and [`Lake::compact`] removes duplicates a crash could leave.
    pub async fn write_rows(
        &self,
        table: Table,
        tenant: &TenantId,
        rows: &[Row],
    ) -> Result<Vec<Path>> {
        let mut by_date: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
        for row in rows {
            by_date.entry(row.date).or_default().push(row);
        }
        let mut written = Vec::with_capacity(by_date.len());
        for (date, partition_rows) in by_date {
            let batch = rows_to_batch(table, &partition_rows)?;
            let path = layout::new_part_file(table.name(), tenant, date);
            self.put(&path, write_parquet(&[batch])?).await?;
            written.push(path);
        }
        if !written.is_empty() {
            self.rows_changed(table, tenant).await?;
        }
        Ok(written)
    }

    /// Replaces the rows a connector (`owner`, e.g. `google_ads-1234567890`) pulled for one
    /// day: its one file in the partition is overwritten whole, in one put, so readers see
    /// the old day or the new one, never a mix; no rows deletes it (the platform restated
    /// the day to nothing). Rows must all be of `date`.
    pub async fn replace_pulled_day(
        &self,
        table: Table,
        tenant: &TenantId,
        date: i32,
        owner: &str,
        rows: &[Row],
    ) -> Result<()> {
        let path = layout::pulled_file(table.name(), tenant, date, owner);
        if let Some(stray) = rows.iter().find(|r| r.date != date) {
            return Err(Error::Schema {
                path: path.to_string(),
                table: table.name().into(),
                reason: format!(
                    "a row of {} in the file of {}",
                    throughline_model::field::date_string(stray.date),
                    throughline_model::field::date_string(date)
                ),
            });
        }
        if rows.is_empty() {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            let refs: Vec<&Row> = rows.iter().collect();
            self.put(&path, write_parquet(&[rows_to_batch(table, &refs)?])?)
                .await?;
        }
        self.rows_changed(table, tenant).await
    }

    /// After rows of `table` were written: drops the KPI rollups when they sum that table
    /// (after the write, so a job that read the old rows cannot commit rollups over it).
    async fn rows_changed(&self, table: Table, tenant: &TenantId) -> Result<()> {
        if crate::rollups::ROLLED_UP_TABLES.contains(&table) {
            self.drop_rollups(tenant).await?;
        }
        Ok(())
    }

    /// Keys of the rows already stored in one date partition.
    async fn partition_keys(
        &self,
        table: Table,
        tenant: &TenantId,
        date: i32,
    ) -> Result<HashSet<String>> {
        let mut keys = HashSet::new();
        let names = table.key_columns();
        for path in self
            .list_files(&layout::partition_prefix(table.name(), tenant, date))
            .await?
        {
            for batch in read_parquet(self.get(&path).await?, Some(names))? {
                let columns: Vec<&StringArray> = names
                    .iter()
                    .map(|name| {
                        batch
                            .column_by_name(name)
                            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                            .ok_or_else(|| Error::Schema {
                                path: path.to_string(),
                                table: table.name().into(),
                                reason: format!("key column {name} missing or not text"),
                            })
                    })
                    .collect::<Result<_>>()?;
                for i in 0..batch.num_rows() {
                    let parts: Vec<&str> = columns
                        .iter()
                        .map(|c| if c.is_null(i) { "" } else { c.value(i) })
                        .collect();
                    keys.insert(join_key(&parts));
                }
            }
        }
        Ok(keys)
    }

    /// Keeps rejected records under `quarantine/<source>/tenant=<id>/`, returns the file.
    pub async fn quarantine(
        &self,
        source: &str,
        tenant: &TenantId,
        rejected: &[Rejected],
    ) -> Result<Option<Path>> {
        if rejected.is_empty() {
            return Ok(None);
        }
        let mut body = Vec::new();
        for r in rejected {
            serde_json::to_writer(&mut body, r).expect("a rejected record always serialises");
            body.push(b'\n');
        }
        let path = layout::quarantine_file(source, tenant, "ndjson");
        self.put(&path, body.into()).await?;
        Ok(Some(path))
    }

    /// Keeps a whole file that could not be read at all (e.g. a missing column), verbatim.
    pub async fn quarantine_file(
        &self,
        source: &str,
        tenant: &TenantId,
        file_name: &str,
        body: bytes::Bytes,
    ) -> Result<Path> {
        let safe: String = file_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = layout::quarantine_file(source, tenant, &safe);
        self.put(&path, body).await?;
        Ok(path)
    }
}
