//! Table upkeep, run by the attribution job for its tenant and by `throughline lake
//! optimize|vacuum`:
//! - [`Lake::compact`]: drops rows a crashed and retried ingest stored twice, then
//!   bin-packs the many small files that per-request and group-commit writes make (Delta
//!   `OPTIMIZE`: one commit that adds the merged files and removes the small ones, which
//!   stay readable for older versions).
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
    /// Drops duplicate rows of the tenant's partitions that have more than one file, then
    /// bin-packs the tenant's small files (Delta `OPTIMIZE`).
    #[cfg(feature = "jobs")]
    pub async fn compact(&self, table: Table, tenant: &TenantId) -> Result<CompactionReport> {
        let Some(delta) = self.delta_table(table.name()).await? else {
            return Ok(CompactionReport::default());
        };
        let files_before = tenant_files(&delta, table.name(), tenant, None)?.len();
        let duplicates_dropped = self.drop_duplicates(table, tenant).await?;
        let delta = self
            .delta_table(table.name())
            .await?
            .expect("the table exists: it was just read");
        let filters = [(
            TENANT_COLUMN,
            deltalake_core::FilterOp::Eq,
            deltalake_core::FilterValue::Scalar(tenant.as_str()),
        )];
        let optimized = delta
            .optimize()
            .with_filters(&filters)
            .with_writer_properties(crate::parquet_io::writer_properties()?)
            .await;
        match optimized {
            Ok((delta, metrics)) => {
                if metrics.num_files_removed > 0 {
                    tracing::info!(table = table.name(), %tenant, added = metrics.num_files_added, removed = metrics.num_files_removed, "optimized");
                }
                self.snapshots().put(table.name(), delta);
            }
            // Another compaction of the same files won: theirs stands.
            Err(e) => tracing::warn!(table = table.name(), %tenant, error = %e, "optimize skipped"),
        }
        let files_after = match self.delta_table(table.name()).await? {
            Some(delta) => tenant_files(&delta, table.name(), tenant, None)?.len(),
            None => 0,
        };
        Ok(CompactionReport {
            files_before,
            files_after,
            duplicates_dropped,
        })
    }

    #[cfg(feature = "jobs")]
    /// Rewrites, in one commit, the partitions of the tenant where a row key repeats
    /// (only partitions with several files are read: one file was written at once).
    async fn drop_duplicates(&self, table: Table, tenant: &TenantId) -> Result<usize> {
        let Some(delta) = self.delta_table(table.name()).await? else {
            return Ok(0);
        };
        let mut partitions: BTreeMap<i32, Vec<TableFile>> = BTreeMap::new();
        for file in tenant_files(&delta, table.name(), tenant, None)? {
            if let Some(date) = file.date {
                partitions.entry(date).or_default().push(file);
            }
        }
        let mut rewritten = Vec::new();
        let mut replaced: HashSet<Path> = HashSet::new();
        let mut dropped = 0;
        for (date, files) in partitions.into_iter().filter(|(_, f)| f.len() > 1) {
            let schema = table.schema();
            let mut batches = Vec::new();
            for file in &files {
                for batch in read_parquet(self.get(&file.key).await?, None)? {
                    batches.push(
                        batch
                            .with_schema(schema.clone())
                            .map_err(|e| Error::Schema {
                                path: file.key.to_string(),
                                table: table.name().into(),
                                reason: e.to_string(),
                            })?,
                    );
                }
            }
            let merged = concat_batches(&schema, &batches)?;
            let keep = first_of_each_key(&merged, table);
            let repeated = merged.num_rows() - keep.true_count();
            if repeated == 0 {
                continue;
            }
            dropped += repeated;
            let unique = filter_record_batch(&merged, &keep)?;
            rewritten.push(
                self.write_data_file(table.name(), tenant, Some(date), &[unique])
                    .await?,
            );
            replaced.extend(files.into_iter().map(|f| f.key));
        }
        if rewritten.is_empty() {
            return Ok(0);
        }
        let committed = self
            .commit(
                table.name(),
                tenant,
                Some(delta),
                &rewritten,
                || DeltaOperation::Write {
                    mode: SaveMode::Overwrite,
                    partition_by: Some(partition_columns(true)),
                    predicate: Some(format!(
                        "{TENANT_COLUMN} = '{tenant}' (duplicates dropped by {DATE_COLUMN})"
                    )),
                },
                |current| {
                    // All the partitions' files as they were read, or another compaction won.
                    let now: Vec<Path> = current
                        .iter()
                        .filter(|f| replaced.contains(&f.key))
                        .map(|f| f.key.clone())
                        .collect();
                    (now.len() == replaced.len()).then_some(now)
                },
            )
            .await?;
        if committed.is_none() {
            tracing::info!(table = table.name(), %tenant, "duplicates left to the next compaction: the files changed meanwhile");
            return Ok(0);
        }
        tracing::info!(table = table.name(), %tenant, dropped, "duplicate rows dropped");
        Ok(dropped)
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

#[cfg(all(test, feature = "jobs"))]
mod tests {
    use super::*;
    use crate::AsOf;
    use object_store::ObjectStoreExt;
    use throughline_model::table::ParseOptions;

    fn cost(account: &str, cost: &str) -> throughline_model::Row {
        let record: std::collections::HashMap<String, String> = [
            ("date", "2026-11-01"),
            ("platform", "meta"),
            ("account_id", account),
            ("campaign_id", "c1"),
            ("cost", cost),
            ("currency", "USD"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Table::AdCosts
            .parse(&record, &ParseOptions::default())
            .unwrap()
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

    #[tokio::test]
    async fn compaction_drops_retried_rows_and_keeps_old_versions_readable_until_vacuum() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t").unwrap();
        let row = |id: &str| {
            let record: std::collections::HashMap<String, String> = [
                ("event_id", id),
                ("ts", "2026-08-01T10:00:00Z"),
                ("url", "https://k.ua/"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            Table::Touchpoints
                .parse(&record, &ParseOptions::default())
                .unwrap()
        };
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
        assert_eq!(gone.files_deleted, 3);
        assert_eq!(
            lake.compact(Table::Touchpoints, &tenant)
                .await
                .unwrap()
                .files_after,
            1
        );
    }
}
