//! The lake handle: one object store rooted at the lake's location, used the same way
//! whether it is a local directory or S3.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use throughline_model::table::Table;
use throughline_model::table::join_key;
use throughline_model::{Rejected, Row, TenantId};

use crate::delta::{DATE_COLUMN, DataFile, TENANT_COLUMN, tenant_files};
use crate::layout;
use crate::parquet_io::read_parquet;
use crate::{Error, Result, rows_to_batch, table_prefix};

#[derive(Debug, Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    location: String,
    /// The store at the bucket root and the lake's prefix in it, for DataFusion: object_store
    /// 0.13's `PrefixStore` returns unstripped locations from `head`, which hides files from
    /// DataFusion's listing, so the engine addresses the root store with full keys.
    root: Arc<dyn ObjectStore>,
    root_prefix: String,
    /// The lake's URL (`file:///dir/`, `s3://bucket/prefix/`, `memory:///`) and the store
    /// that resolves its path from the filesystem or bucket root: Delta's log reader lists
    /// `<url path>/_delta_log/` on that store.
    delta_root: (Arc<dyn ObjectStore>, url::Url),
    /// Each table's newest loaded Delta snapshot, updated incrementally.
    snapshots: Arc<SnapshotCache>,
}

/// The newest snapshot a process has loaded of each table.
#[derive(Debug, Default)]
pub(crate) struct SnapshotCache(std::sync::Mutex<HashMap<String, deltalake_core::DeltaTable>>);

impl SnapshotCache {
    pub(crate) fn get(&self, table: &str) -> Option<deltalake_core::DeltaTable> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(table)
            .cloned()
    }

    pub(crate) fn put(&self, table: &str, delta: deltalake_core::DeltaTable) {
        let mut tables = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the newer of two concurrent updates.
        if tables
            .get(table)
            .is_none_or(|t| t.version() <= delta.version())
        {
            tables.insert(table.to_owned(), delta);
        }
    }
}

/// Plans of a replaced day made again when other commits keep changing its files.
pub(crate) const REPLAN_ATTEMPTS: usize = 5;

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
            delta_root: (
                Arc::new(LocalFileSystem::new()),
                url::Url::from_directory_path(&dir).map_err(|()| Error::Open {
                    location: location.to_owned(),
                    reason: "not an absolute directory".into(),
                })?,
            ),
            snapshots: Arc::default(),
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
        let root_prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let url =
            url::Url::parse(&format!("s3://{bucket}/{root_prefix}")).map_err(|e| Error::Open {
                location: location.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            store,
            delta_root: (root.clone(), url),
            root,
            root_prefix,
            snapshots: Arc::default(),
            location: location.trim_end_matches('/').to_owned(),
        })
    }

    /// A lake over any object store (S3, memory), rooted at the store's root; `location`
    /// is its URL (`s3://bucket`, `memory:///`).
    pub fn from_store(store: Arc<dyn ObjectStore>, location: &str) -> Result<Self> {
        let mut url = url::Url::parse(location).map_err(|e| Error::Open {
            location: location.to_owned(),
            reason: e.to_string(),
        })?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Ok(Self {
            root: store.clone(),
            root_prefix: String::new(),
            delta_root: (store.clone(), url),
            store,
            snapshots: Arc::default(),
            location: location.trim_end_matches('/').to_owned(),
        })
    }

    /// The store at its root and the lake's key prefix (`""` or `"prefix/"`), for engines
    /// that address objects by full key.
    pub fn root_store(&self) -> (Arc<dyn ObjectStore>, &str) {
        (self.root.clone(), &self.root_prefix)
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The store Delta's log reader resolves table URLs' paths on, and the lake's URL.
    pub(crate) fn delta_root(&self) -> (Arc<dyn ObjectStore>, &url::Url) {
        (self.delta_root.0.clone(), &self.delta_root.1)
    }

    pub(crate) fn snapshots(&self) -> &SnapshotCache {
        &self.snapshots
    }

    /// Human-readable location, for messages.
    pub fn location(&self) -> &str {
        &self.location
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

    /// Appends validated rows to a table in one commit, one new file per date partition.
    /// Rows whose key is already in their partition (or earlier in `rows`) are skipped, so
    /// re-importing the same rows adds nothing.
    pub async fn append(
        &self,
        table: Table,
        tenant: &TenantId,
        rows: &[Row],
    ) -> Result<AppendReport> {
        let mut report = AppendReport::default();
        let current = match self.delta_table(table.name()).await? {
            Some(delta) => tenant_files(&delta, table.name(), tenant, None)?,
            None => Vec::new(),
        };
        let mut files = Vec::new();
        for (date, partition_rows) in by_date(rows) {
            let in_partition: Vec<&Path> = current
                .iter()
                .filter(|f| f.date == Some(date))
                .map(|f| &f.key)
                .collect();
            let mut seen = self.partition_keys(table, &in_partition).await?;
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
            files.push(
                self.write_data_file(table.name(), tenant, Some(date), &[batch])
                    .await?,
            );
            report.stored += fresh.len();
        }
        if !files.is_empty() {
            self.commit_append(table.name(), tenant, &table.schema(), &files)
                .await?;
        }
        Ok(report)
    }

    /// Writes validated rows as new files, one per date partition, committed together,
    /// without checking what the partitions hold: the ingest path, where the state
    /// store's idempotency keys stop retries and [`Lake::compact`] removes duplicates a
    /// crash could leave. Returns the files' keys.
    pub async fn write_rows(
        &self,
        table: Table,
        tenant: &TenantId,
        rows: &[Row],
    ) -> Result<Vec<Path>> {
        let mut files = Vec::new();
        for (date, partition_rows) in by_date(rows) {
            let batch = rows_to_batch(table, &partition_rows)?;
            files.push(
                self.write_data_file(table.name(), tenant, Some(date), &[batch])
                    .await?,
            );
        }
        if !files.is_empty() {
            self.commit_append(table.name(), tenant, &table.schema(), &files)
                .await?;
        }
        Ok(files.iter().map(DataFile::key).collect())
    }

    /// Replaces the rows of one day that match `owner` (column = value pairs, e.g. a
    /// connector's platform and account) with `rows`, in one commit: a delete-and-add by
    /// predicate, so readers see the old day or the new one, never both; files holding
    /// other rows too are rewritten without the matched ones. No rows deletes them (the
    /// platform restated the day to nothing). Every row must be of `date` and match `owner`.
    pub async fn replace_rows(
        &self,
        table: Table,
        tenant: &TenantId,
        date: i32,
        owner: &[(&str, &str)],
        rows: &[Row],
    ) -> Result<()> {
        let schema = table.schema();
        let owner_columns: Vec<usize> = owner
            .iter()
            .map(|(name, _)| schema.index_of(name))
            .collect::<Result<_, _>>()?;
        if let Some(stray) = rows.iter().find(|r| {
            r.date != date
                || owner_columns.iter().zip(owner).any(|(i, (_, value))| {
                    !matches!(&r.values[*i], throughline_model::Value::Text(t) if t == value)
                })
        }) {
            return Err(Error::Schema {
                path: table_prefix(table.name(), tenant).to_string(),
                table: table.name().into(),
                reason: format!(
                    "a row of {} does not belong to the replaced day {} of {owner:?}",
                    throughline_model::field::date_string(stray.date),
                    throughline_model::field::date_string(date)
                ),
            });
        }
        self.table_for_write(table.name(), &schema, true).await?;
        let predicate = std::iter::once(format!("{TENANT_COLUMN} = '{tenant}'"))
            .chain(std::iter::once(format!(
                "{DATE_COLUMN} = '{}'",
                throughline_model::field::date_string(date)
            )))
            .chain(
                owner
                    .iter()
                    .map(|(c, v)| format!("{c} = '{}'", v.replace('\'', "''"))),
            )
            .collect::<Vec<_>>()
            .join(" AND ");
        // Planned against one snapshot; if a commit meanwhile removed a file the plan
        // rewrites (a compaction merged it), the plan is made again from the new files.
        for _ in 0..REPLAN_ATTEMPTS {
            let (touched, files) = self.plan_replace(table, tenant, date, owner, rows).await?;
            let committed = self
                .commit(
                    table.name(),
                    tenant,
                    None,
                    &files,
                    || deltalake_core::protocol::DeltaOperation::Write {
                        mode: deltalake_core::protocol::SaveMode::Overwrite,
                        partition_by: Some(crate::delta::partition_columns(true)),
                        predicate: Some(predicate.clone()),
                    },
                    |current| {
                        let now: Vec<Path> = current
                            .iter()
                            .filter(|f| touched.contains(&f.key))
                            .map(|f| f.key.clone())
                            .collect();
                        (now.len() == touched.len()).then_some(now)
                    },
                )
                .await?;
            if committed.is_some() {
                return Ok(());
            }
        }
        Err(Error::CommitConflict {
            table: table.name().into(),
            tenant: tenant.to_string(),
        })
    }

    /// Deletes a tenant's rows of `table` whose key is one of `keys` (tables keyed by one
    /// column: touchpoints and deal events by `event_id`, leads by `lead_id`, orders by
    /// `order_id`), one commit per row found: the operator's way to take out a row that
    /// should never have been stored. Earlier versions keep it for the retention period
    /// (`--as-of`). Returns each key found with its day; keys not found are left out.
    pub async fn delete_rows(
        &self,
        table: Table,
        tenant: &TenantId,
        keys: &[String],
    ) -> Result<Vec<(String, i32)>> {
        let &[key_column] = table.key_columns() else {
            return Err(Error::Unsupported(format!(
                "rows of {} are not deleted one by one: re-pull or re-import their day, which \
                 replaces it",
                table.name()
            )));
        };
        let Some(delta) = self.delta_table(table.name()).await? else {
            return Ok(Vec::new());
        };
        let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let mut found = Vec::new();
        for file in tenant_files(&delta, table.name(), tenant, None)? {
            let Some(date) = file.date else { continue };
            for key in self.partition_keys(table, &[&file.key]).await? {
                if wanted.contains(key.as_str()) && !found.contains(&(key.clone(), date)) {
                    found.push((key, date));
                }
            }
        }
        for (key, date) in &found {
            self.replace_rows(table, tenant, *date, &[(key_column, key)], &[])
                .await?;
        }
        Ok(found)
    }

    /// The files of the day holding rows of `owner` (to remove) and the files to add:
    /// those files' other rows, and `rows`.
    async fn plan_replace(
        &self,
        table: Table,
        tenant: &TenantId,
        date: i32,
        owner: &[(&str, &str)],
        rows: &[Row],
    ) -> Result<(Vec<Path>, Vec<DataFile>)> {
        let in_day = match self.delta_table(table.name()).await? {
            Some(delta) => tenant_files(&delta, table.name(), tenant, Some(date))?,
            None => Vec::new(),
        };
        let mut touched = Vec::new();
        let mut files = Vec::new();
        for file in &in_day {
            let (file_schema, batches) = crate::read_parquet_file(self.get(&file.key).await?)?;
            let merged = arrow::compute::concat_batches(&file_schema, &batches)?;
            let keep = owner_mismatch(&merged, owner, &file.key, table)?;
            if keep.true_count() == merged.num_rows() {
                continue;
            }
            touched.push(file.key.clone());
            let kept = arrow::compute::filter_record_batch(&merged, &keep)?;
            if kept.num_rows() > 0 {
                files.push(
                    self.write_data_file(table.name(), tenant, Some(date), &[kept])
                        .await?,
                );
            }
        }
        if !rows.is_empty() {
            let refs: Vec<&Row> = rows.iter().collect();
            files.push(
                self.write_data_file(
                    table.name(),
                    tenant,
                    Some(date),
                    &[rows_to_batch(table, &refs)?],
                )
                .await?,
            );
        }
        Ok((touched, files))
    }

    /// Keys of the rows stored in the given files (one date partition).
    async fn partition_keys(&self, table: Table, files: &[&Path]) -> Result<HashSet<String>> {
        let mut keys = HashSet::new();
        let names = table.key_columns();
        for path in files {
            for batch in read_parquet(self.get(path).await?, Some(names))? {
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

fn by_date(rows: &[Row]) -> BTreeMap<i32, Vec<&Row>> {
    let mut by_date: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by_date.entry(row.date).or_default().push(row);
    }
    by_date
}

/// `true` for the rows of `batch` that do not match every `(column, value)` of `owner`.
fn owner_mismatch(
    batch: &arrow::record_batch::RecordBatch,
    owner: &[(&str, &str)],
    path: &Path,
    table: Table,
) -> Result<arrow::array::BooleanArray> {
    let mut matched = arrow::array::BooleanArray::from(vec![true; batch.num_rows()]);
    for (name, value) in owner {
        let column = batch.column_by_name(name).ok_or_else(|| Error::Schema {
            path: path.to_string(),
            table: table.name().into(),
            reason: format!("column {name} missing"),
        })?;
        let column = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8)?;
        let equal = arrow::compute::kernels::cmp::eq(
            &column,
            &arrow::array::Scalar::new(StringArray::from(vec![*value])),
        )?;
        matched = arrow::compute::and_kleene(&matched, &equal)?;
    }
    // A null owner column is not a match (`prep_null_mask_filter` needs a null buffer).
    let matched = if matched.nulls().is_some() {
        arrow::compute::prep_null_mask_filter(&matched)
    } else {
        matched
    };
    Ok(arrow::compute::not(&matched)?)
}
