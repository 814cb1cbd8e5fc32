//! Table upkeep, run by the attribution job for its tenant and by `throughline lake
//! optimize|vacuum`:
//! - [`Lake::compact`]: merges the many small files that per-request and group-commit
//!   writes make, one file per partition, dropping rows a crashed and retried ingest
//!   stored twice: one commit that adds the merged files and removes the small ones,
//!   which stay readable for older versions.
//! - [`Lake::vacuum`]: deletes data files no version within the retention period needs
//!   (removed by a commit, or never committed by a job that died), so a reader that
//!   planned on an older version keeps its files for that long.

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::compute::{concat_batches, filter_record_batch};
use deltalake_core::operations::vacuum::VacuumMode;
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use object_store::path::Path;
use throughline_model::TenantId;
use throughline_model::table::{Table, join_key};

use crate::delta::{DATE_COLUMN, TENANT_COLUMN, TableFile, partition_columns, tenant_files};
use crate::parquet_io::read_parquet;
use crate::{Error, Lake, Result};

/// What a compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionReport {
    pub files_before: usize,
    pub files_after: usize,
    pub duplicates_dropped: usize,
}

/// What a vacuum deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VacuumReport {
    pub table: String,
    pub files_deleted: usize,
}

impl Lake {
    /// Merges each of the tenant's partitions that has several files into one file,
    /// dropping rows a retried ingest stored twice, in one commit. Two compactions at once
    /// (two jobs, a job and `lake optimize`) cannot both land: the commit removes exactly
    /// the files it read, and a commit that finds one of them gone plans again from the
    /// winner's files. (delta-rs's `OPTIMIZE` marks its removals as no data change, which
    /// its conflict check lets through: two of them at once left both merged copies live,
    /// every row twice.) Files appended meanwhile are left for the next compaction.
    #[cfg(feature = "jobs")]
    pub async fn compact(&self, table: Table, tenant: &TenantId) -> Result<CompactionReport> {
        let Some(delta) = self.delta_table(table.name()).await? else {
            return Ok(CompactionReport::default());
        };
        let files_before = tenant_files(&delta, table.name(), tenant, None)?.len();
        let mut duplicates_dropped = 0;
        for _ in 0..crate::store::REPLAN_ATTEMPTS {
            if let Some(dropped) = self.merge_partitions(table, tenant).await? {
                duplicates_dropped = dropped;
                break;
            }
            tracing::info!(table = table.name(), %tenant, "the files changed during compaction: planning again");
        }
        let files_after = match self.delta_table(table.name()).await? {
            Some(delta) => tenant_files(&delta, table.name(), tenant, None)?.len(),
            None => 0,
        };
        if files_after != files_before {
            tracing::info!(table = table.name(), %tenant, files_before, files_after, duplicates_dropped, "compacted");
        }
        Ok(CompactionReport {
            files_before,
            files_after,
            duplicates_dropped,
        })
    }

    #[cfg(feature = "jobs")]
    /// One compaction attempt: rewrites every partition of the tenant with several files as
    /// one file without repeated keys. `None`: a file it read was removed by another commit
    /// before its own (nothing committed; plan again).
    async fn merge_partitions(&self, table: Table, tenant: &TenantId) -> Result<Option<usize>> {
        let Some(delta) = self.delta_table(table.name()).await? else {
            return Ok(Some(0));
        };
        let mut partitions: BTreeMap<i32, Vec<TableFile>> = BTreeMap::new();
        for file in tenant_files(&delta, table.name(), tenant, None)? {
            if let Some(date) = file.date {
                partitions.entry(date).or_default().push(file);
            }
        }
        let mut merged_files = Vec::new();
        let mut replaced: HashSet<Path> = HashSet::new();
        let mut dropped = 0;
        let schema = table.schema();
        for (date, files) in partitions.into_iter().filter(|(_, f)| f.len() > 1) {
            let mut batches = Vec::new();
            for file in &files {
                for batch in read_parquet(self.get(&file.key).await?, None)? {
                    batches.push(conform(&batch, &schema).map_err(|reason| Error::Schema {
                        path: file.key.to_string(),
                        table: table.name().into(),
                        reason,
                    })?);
                }
            }
            let merged = concat_batches(&schema, &batches)?;
            let keep = first_of_each_key(&merged, table);
            dropped += merged.num_rows() - keep.true_count();
            let unique = filter_record_batch(&merged, &keep)?;
            merged_files.push(
                self.write_data_file(table.name(), tenant, Some(date), &[unique])
                    .await?,
            );
            replaced.extend(files.into_iter().map(|f| f.key));
        }
        if merged_files.is_empty() {
            return Ok(Some(0));
        }
        let committed = self
            .commit(
                table.name(),
                tenant,
                Some(delta),
                &merged_files,
                || DeltaOperation::Write {
                    mode: SaveMode::Overwrite,
                    partition_by: Some(partition_columns(true)),
                    predicate: Some(format!(
                        "{TENANT_COLUMN} = '{tenant}' (compacted: one file per {DATE_COLUMN}, duplicates dropped)"
                    )),
                },
                |current| {
                    // All the partitions' files as they were read, or another writer won.
                    let now: Vec<Path> = current
                        .iter()
                        .filter(|f| replaced.contains(&f.key))
                        .map(|f| f.key.clone())
                        .collect();
                    (now.len() == replaced.len()).then_some(now)
                },
            )
            .await?;
        // A lost race leaves the merged files uncommitted: VACUUM deletes them.
        Ok(committed.map(|_| dropped))
    }

    /// Deletes the files of `table` that no version committed within `retention` names
    /// (any tenant): removed files, and files of jobs that never committed.
    pub async fn vacuum(
        &self,
        table: &str,
        retention: std::time::Duration,
    ) -> Result<VacuumReport> {
        let Some(delta) = self.delta_table(table).await? else {
            return Ok(VacuumReport {
                table: table.to_owned(),
                files_deleted: 0,
            });
        };
        let retention =
            chrono::Duration::from_std(retention).map_err(|e| Error::Retention(e.to_string()))?;
        let (delta, metrics) = delta
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .with_mode(VacuumMode::Full)
            .await
            .map_err(|e| Error::delta(table, e))?;
        self.snapshots().put(table, delta);
        Ok(VacuumReport {
            table: table.to_owned(),
            files_deleted: metrics.files_deleted.len(),
        })
    }

    /// The tables the lake has (directories of `tables/` with a Delta log).
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let listed = self
            .store()
            .list_with_delimiter(Some(&Path::from("tables")))
            .await?;
        let mut names = Vec::new();
        for dir in listed.common_prefixes {
            let log = dir.clone().join("_delta_log");
            let entries = self.store().list_with_delimiter(Some(&log)).await?;
            if (!entries.objects.is_empty() || !entries.common_prefixes.is_empty())
                && let Some(name) = dir.filename()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// `true` for the first row of each key in `batch`.
#[cfg(feature = "jobs")]
fn first_of_each_key(batch: &arrow::record_batch::RecordBatch, table: Table) -> BooleanArray {
    let keys: Vec<&StringArray> = table
        .key_columns()
        .iter()
        .map(|k| {
            batch
                .column_by_name(k)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .expect("key columns are text in the table schema")
        })
        .collect();
    let mut seen = HashSet::with_capacity(batch.num_rows());
    (0..batch.num_rows())
        .map(|i| {
            let parts: Vec<&str> = keys
                .iter()
                .map(|c| if c.is_null(i) { "" } else { c.value(i) })
                .collect();
            Some(seen.insert(join_key(&parts)))
        })
        .collect()
}

/// `batch` as a batch of the stored `schema`, its columns found by name: files written by
/// other writers (Delta OPTIMIZE in delta-rs, pyarrow before a migration) mark every column
/// nullable and may order them otherwise, and files written before a nullable column was
/// added lack it (read as nulls). A required column missing or holding nulls is an error.
#[cfg(feature = "jobs")]
fn conform(
    batch: &arrow::record_batch::RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
) -> std::result::Result<arrow::record_batch::RecordBatch, String> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => Ok(column.clone()),
            None if field.is_nullable() => Ok(arrow::array::new_null_array(
                field.data_type(),
                batch.num_rows(),
            )),
            None => Err(format!("column {} is missing", field.name())),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

#[cfg(all(test, feature = "jobs"))]
mod tests {
    use super::*;
    use crate::AsOf;
    use object_store::ObjectStoreExt;
    use throughline_model::table::ParseOptions;

    /// A row of `table` parsed from `fields`, as an import reads it.
    fn parsed(table: Table, fields: &[(&str, &str)]) -> throughline_model::Row {
        let record: std::collections::HashMap<String, String> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        table.parse(&record, &ParseOptions::default()).unwrap()
    }

    fn touchpoint(id: &str, url: &str) -> throughline_model::Row {
        parsed(
            Table::Touchpoints,
            &[
                ("event_id", id),
                ("ts", "2026-08-01T10:00:00Z"),
                ("url", url),
            ],
        )
    }

    fn cost(account: &str, cost: &str) -> throughline_model::Row {
        parsed(
            Table::AdCosts,
            &[
                ("date", "2026-11-01"),
                ("platform", "meta"),
                ("account_id", account),
                ("campaign_id", "c1"),
                ("cost", cost),
                ("currency", "USD"),
            ],
        )
    }

    async fn costs_of(lake: &Lake, tenant: &TenantId, as_of: &AsOf) -> Vec<i128> {
        let mut costs = Vec::new();
        for file in lake
            .table_files("ad_costs", tenant, as_of)
            .await
            .unwrap()
            .files
        {
            for batch in read_parquet(lake.get(&file.key).await.unwrap(), Some(&["cost"])).unwrap()
            {
                let column = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Decimal128Array>()
                    .unwrap();
                costs.extend(column.iter().flatten());
            }
        }
        costs.sort();
        costs
    }

    #[tokio::test]
    async fn a_pulled_day_is_replaced_in_one_commit_even_after_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t").unwrap();
        let day = cost("42", "1").date;
        let meta_42 = [("platform", "meta"), ("account_id", "42")];
        lake.replace_rows(
            Table::AdCosts,
            &tenant,
            day,
            &meta_42,
            &[cost("42", "10.5")],
        )
        .await
        .unwrap();
        // Two other accounts' rows (a CSV import) land in the same partition.
        lake.write_rows(Table::AdCosts, &tenant, &[cost("7", "1")])
            .await
            .unwrap();
        lake.write_rows(Table::AdCosts, &tenant, &[cost("8", "2")])
            .await
            .unwrap();
        let report = lake.compact(Table::AdCosts, &tenant).await.unwrap();
        assert_eq!(
            (report.files_before, report.files_after),
            (3, 1),
            "{report:?}"
        );
        let compacted = lake.table_version("ad_costs").await.unwrap().unwrap();
        assert_eq!(
            costs_of(&lake, &tenant, &AsOf::Latest).await,
            [10_000, 20_000, 105_000]
        );

        // The platform restated the day: only account 42's rows change, inside the
        // merged file, in one version.
        lake.replace_rows(Table::AdCosts, &tenant, day, &meta_42, &[cost("42", "12")])
            .await
            .unwrap();
        assert_eq!(
            lake.table_version("ad_costs").await.unwrap(),
            Some(compacted + 1)
        );
        assert_eq!(
            costs_of(&lake, &tenant, &AsOf::Latest).await,
            [10_000, 20_000, 120_000]
        );
        // Restated to nothing, twice: the rows go, the second time changes nothing.
        for _ in 0..2 {
            lake.replace_rows(Table::AdCosts, &tenant, day, &meta_42, &[])
                .await
                .unwrap();
        }
        assert_eq!(
            costs_of(&lake, &tenant, &AsOf::Latest).await,
            [10_000, 20_000]
        );
        assert!(
            lake.replace_rows(Table::AdCosts, &tenant, day, &meta_42, &[cost("7", "1")])
                .await
                .is_err(),
            "a row of another account is refused"
        );
        // Vacuum with no retention deletes what no current version names; the current
        // rows stay readable.
        let vacuumed = lake
            .vacuum("ad_costs", std::time::Duration::ZERO)
            .await
            .unwrap();
        assert!(vacuumed.files_deleted >= 3, "{vacuumed:?}");
        assert_eq!(
            costs_of(&lake, &tenant, &AsOf::Latest).await,
            [10_000, 20_000]
        );
    }

    #[test]
    fn files_of_other_writers_conform_to_the_stored_schema() {
        use arrow::array::{ArrayRef, TimestampMicrosecondArray};
        use arrow::datatypes::{Field, Schema};
        use std::sync::Arc;
        let stored = Table::Touchpoints.schema();
        // Every column nullable and in reverse order, as another writer may leave them.
        let fields: Vec<Field> = stored
            .fields()
            .iter()
            .rev()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let column = |f: &Field, id: Option<&str>| -> ArrayRef {
            match f.name().as_str() {
                "ts" => Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_000_000)]).with_timezone("UTC"),
                ),
                "event_id" => Arc::new(StringArray::from(vec![id])),
                _ => Arc::new(StringArray::from(vec![None::<&str>])),
            }
        };
        let batch = |id| {
            let columns = fields.iter().map(|f| column(f, id)).collect();
            arrow::record_batch::RecordBatch::try_new(
                Arc::new(Schema::new(fields.clone())),
                columns,
            )
            .unwrap()
        };
        let conformed = conform(&batch(Some("e1")), &stored).unwrap();
        assert_eq!(conformed.schema(), stored);
        // `with_schema` refuses exactly this file: the stored schema is stricter.
        assert!(batch(Some("e1")).with_schema(stored.clone()).is_err());
        let error = conform(&batch(None), &stored).unwrap_err();
        assert!(error.contains("event_id"), "{error}");
    }

    /// A lake whose touchpoints table was created before `click_ids` existed: the next write
    /// adds the column to the table, older rows read it as null, and compaction merges old
    /// and new files.
    #[tokio::test]
    async fn a_column_added_to_the_stored_schema_reaches_an_existing_table() {
        use arrow::datatypes::Schema;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t").unwrap();
        let row = touchpoint;
        let stored = Table::Touchpoints.schema();
        let old_schema = Arc::new(Schema::new(
            stored
                .fields()
                .iter()
                .filter(|f| f.name() != "click_ids")
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let old_row = row("old", "https://k.ua/?gclid=G1&msclkid=M1");
        let old_batch = crate::rows_to_batch(Table::Touchpoints, &[&old_row])
            .unwrap()
            .project(&(0..old_schema.fields().len()).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(old_batch.schema().fields().len(), stored.fields().len() - 1);
        let file = lake
            .write_data_file("touchpoints", &tenant, Some(old_row.date), &[old_batch])
            .await
            .unwrap();
        lake.commit_append("touchpoints", &tenant, &old_schema, &[file])
            .await
            .unwrap();
        let columns = |lake: &Lake| {
            let lake = lake.clone();
            async move {
                let delta = lake.delta_table("touchpoints").await.unwrap().unwrap();
                let schema = delta.snapshot().unwrap().schema();
                schema
                    .fields()
                    .map(|f| f.name().clone())
                    .collect::<Vec<_>>()
            }
        };
        assert!(!columns(&lake).await.contains(&"click_ids".to_string()));

        lake.write_rows(
            Table::Touchpoints,
            &tenant,
            &[row("new", "https://k.ua/?gclid=G2&msclkid=M2")],
        )
        .await
        .unwrap();
        assert!(columns(&lake).await.contains(&"click_ids".to_string()));
        lake.compact(Table::Touchpoints, &tenant).await.unwrap();
        let files = lake
            .table_files("touchpoints", &tenant, &AsOf::Latest)
            .await
            .unwrap();
        assert_eq!(files.files.len(), 1, "old and new files merged");
        let body = lake
            .store()
            .get(&files.files[0].key)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let batches =
            crate::parquet_io::read_parquet(body, Some(&["event_id", "click_ids"])).unwrap();
        let merged = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&[merged])
            .unwrap()
            .to_string();
        assert!(
            text.contains("| new      | gclid=G2&msclkid=M2 |"),
            "{text}"
        );
        assert!(
            text.contains("| old      |                     |"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn compaction_drops_retried_rows_and_keeps_old_versions_readable_until_vacuum() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t").unwrap();
        let row = |id: &str| touchpoint(id, "https://k.ua/");
        for ids in [["a", "b"], ["b", "c"], ["c", "d"]] {
            lake.write_rows(Table::Touchpoints, &tenant, &ids.map(row))
                .await
                .unwrap();
        }
        let before = lake.table_version("touchpoints").await.unwrap().unwrap();
        let report = lake.compact(Table::Touchpoints, &tenant).await.unwrap();
        assert_eq!(
            report,
            CompactionReport {
                files_before: 3,
                files_after: 1,
                duplicates_dropped: 2
            }
        );
        let rows =
            |files: crate::TableFiles| files.files.iter().map(|f| f.rows.unwrap_or(0)).sum::<u64>();
        let now = lake
            .table_files("touchpoints", &tenant, &AsOf::Latest)
            .await
            .unwrap();
        assert_eq!(rows(now), 4);
        // An import reads the keys of the compacted file and stores only the new row.
        let appended = lake
            .append(Table::Touchpoints, &tenant, &["d", "e"].map(row))
            .await
            .unwrap();
        assert_eq!((appended.stored, appended.already_present), (1, 1));
        lake.compact(Table::Touchpoints, &tenant).await.unwrap();
        // An older version still reads its three files, and they are still there.
        let old = lake
            .table_files(
                "touchpoints",
                &tenant,
                &AsOf::Time(chrono::Utc::now() - chrono::Duration::hours(1)),
            )
            .await
            .unwrap();
        assert_eq!(old.version, None, "no version an hour ago");
        let mut at_before =
            crate::delta::tests_support::files_at(&lake, "touchpoints", &tenant, before).await;
        at_before.sort();
        assert_eq!(at_before.len(), 3);
        for key in &at_before {
            assert!(lake.store().head(key).await.is_ok());
        }
        let kept = lake
            .vacuum("touchpoints", std::time::Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(kept.files_deleted, 0, "within the retention period");
        let gone = lake
            .vacuum("touchpoints", std::time::Duration::ZERO)
            .await
            .unwrap();
        // The three small files, the first compaction's output and the appended file.
        assert_eq!(gone.files_deleted, 5);
        assert_eq!(
            lake.compact(Table::Touchpoints, &tenant)
                .await
                .unwrap()
                .files_after,
            1
        );
    }

    /// Two compactions of the same files at once (two jobs, or a job and `lake optimize`,
    /// each a process with its own view of the log): one lands, the other plans again
    /// from its result; every row stays visible once (#14, item 13).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_compactions_at_once_leave_every_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().to_str().unwrap().to_owned();
        let tenant = TenantId::parse("t").unwrap();
        let row = |id: String, day: u32| {
            let record: std::collections::HashMap<String, String> = [
                ("event_id".to_owned(), id),
                ("ts".to_owned(), format!("2026-08-{day:02}T10:00:00Z")),
                ("url".to_owned(), "https://k.ua/".to_owned()),
            ]
            .into_iter()
            .collect();
            Table::Touchpoints
                .parse(&record, &ParseOptions::default())
                .unwrap()
        };
        let writer = Lake::open(&location).unwrap();
        for batch in 0..6 {
            let rows: Vec<_> = (0..20)
                .map(|n| row(format!("e{batch}-{n}"), 1 + n % 5))
                .collect();
            writer
                .write_rows(Table::Touchpoints, &tenant, &rows)
                .await
                .unwrap();
        }
        let mut expected = 120;
        for round in 0..3 {
            // A small file on every day, written twice (a retried request).
            let more: Vec<_> = (0..5)
                .map(|n| row(format!("r{round}-{n}"), 1 + n))
                .collect();
            for _ in 0..2 {
                writer
                    .write_rows(Table::Touchpoints, &tenant, &more)
                    .await
                    .unwrap();
            }
            expected += 5;
            let (a, b) = (
                Lake::open(&location).unwrap(),
                Lake::open(&location).unwrap(),
            );
            let (first, second) = tokio::join!(
                a.compact(Table::Touchpoints, &tenant),
                b.compact(Table::Touchpoints, &tenant)
            );
            first.unwrap();
            second.unwrap();
            let files = Lake::open(&location)
                .unwrap()
                .table_files("touchpoints", &tenant, &AsOf::Latest)
                .await
                .unwrap();
            let rows: u64 = files.files.iter().map(|f| f.rows.unwrap_or(0)).sum();
            assert_eq!(rows, expected, "round {round}: every row once");
            assert_eq!(files.files.len(), 5, "round {round}: one file per day");
        }
    }
}
