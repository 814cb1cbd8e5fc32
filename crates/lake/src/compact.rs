//! Compaction: per-request ingest writes many small files; the job must never read
//! thousands of tiny objects. Each partition with more than one file is rewritten as one
//! file, dropping rows whose key an earlier row already has (a retried delivery that
//! crashed between its write and its idempotency claim). Only files that were read are
//! deleted, so files written meanwhile survive. Connectors' pulled files
//! ([`crate::layout::pulled_file`]) are not compacted: each pull replaces them.

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, BooleanArray, StringArray};
use arrow::compute::{concat_batches, filter_record_batch};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use throughline_model::TenantId;
use throughline_model::table::{Table, join_key};

use crate::parquet_io::{read_parquet, write_parquet};
use crate::{Error, Lake, Result, layout};

/// What a compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionReport {
    pub partitions: usize,
    pub files_before: usize,
    pub files_after: usize,
    pub duplicates_dropped: usize,
}

impl Lake {
    pub async fn compact(&self, table: Table, tenant: &TenantId) -> Result<CompactionReport> {
        let mut partitions: BTreeMap<String, Vec<Path>> = BTreeMap::new();
        for file in self
            .list_files(&layout::table_prefix(table.name(), tenant))
            .await?
        {
            // A connector's pulled file is replaced whole by its next pull: merged into a
            // part file, its rows would outlive a restatement.
            if file
                .filename()
                .is_some_and(|f| f.starts_with(layout::PULLED_FILE_PREFIX))
            {
                continue;
            }
            let dir = file
                .as_ref()
                .rsplit_once('/')
                .map_or("", |(d, _)| d)
                .to_owned();
            partitions.entry(dir).or_default().push(file);
        }
        let mut report = CompactionReport::default();
        for (dir, files) in partitions {
            report.files_before += files.len();
            if files.len() < 2 {
                report.files_after += files.len();
                continue;
            }
            let dropped = self.compact_partition(table, &dir, &files).await?;
            report.partitions += 1;
            report.files_after += 1;
            report.duplicates_dropped += dropped;
        }
        if report.partitions > 0 {
            tracing::info!(table = table.name(), %tenant, ?report, "compacted");
        }
        Ok(report)
    }

    async fn compact_partition(&self, table: Table, dir: &str, files: &[Path]) -> Result<usize> {
        let schema = table.schema();
        let mut batches = Vec::new();
        for file in files {
            for batch in read_parquet(self.get(file).await?, None)? {
                batches.push(
                    batch
                        .with_schema(schema.clone())
                        .map_err(|e| Error::Schema {
                            path: file.to_string(),
                            table: table.name().into(),
                            reason: e.to_string(),
                        })?,
                );
            }
        }
        let merged = concat_batches(&schema, &batches)?;
        let keys: Vec<&StringArray> = table
            .key_columns()
            .iter()
            .map(|k| {
                merged
                    .column_by_name(k)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .expect("key columns are text in the table schema")
            })
            .collect();
        let mut seen = HashSet::with_capacity(merged.num_rows());
        let keep: BooleanArray = (0..merged.num_rows())
            .map(|i| {
                let parts: Vec<&str> = keys
                    .iter()
                    .map(|c| if c.is_null(i) { "" } else { c.value(i) })
                    .collect();
                Some(seen.insert(join_key(&parts)))
            })
            .collect();
        let unique = filter_record_batch(&merged, &keep)?;
        let dropped = merged.num_rows() - unique.num_rows();
        let target = Path::from(dir).join(format!("part-{}.parquet", uuid::Uuid::now_v7()));
        self.put(&target, write_parquet(&[unique])?).await?;
        for file in files {
            self.store().delete(file).await?;
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use throughline_model::table::ParseOptions;

    fn cost(cost: &str) -> throughline_model::Row {
        let record: std::collections::HashMap<String, String> = [
            ("date", "2026-11-01"),
            ("platform", "meta"),
            ("account_id", "42"),
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

    async fn costs_of(lake: &Lake, tenant: &TenantId) -> Vec<i128> {
        let mut costs = Vec::new();
        for file in lake
            .list_files(&layout::table_prefix("ad_costs", tenant))
            .await
            .unwrap()
        {
            for batch in read_parquet(lake.get(&file).await.unwrap(), Some(&["cost"])).unwrap() {
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
    async fn pulled_days_are_replaced_whole_and_never_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t").unwrap();
        let day = cost("1").date;
        lake.replace_pulled_day(Table::AdCosts, &tenant, day, "meta-42", &[cost("10.5")])
            .await
            .unwrap();
        // A CSV import of another campaign lands beside it as a part file.
        lake.write_rows(Table::AdCosts, &tenant, &[cost("1")])
            .await
            .unwrap();
        lake.write_rows(Table::AdCosts, &tenant, &[cost("1")])
            .await
            .unwrap();
        let report = lake.compact(Table::AdCosts, &tenant).await.unwrap();
        assert_eq!((report.files_before, report.files_after), (2, 1));
        assert_eq!(costs_of(&lake, &tenant).await, [10_000, 105_000]);

        // The platform restated the day: the pulled file is replaced, the import stays.
        lake.replace_pulled_day(Table::AdCosts, &tenant, day, "meta-42", &[cost("12")])
            .await
            .unwrap();
        assert_eq!(costs_of(&lake, &tenant).await, [10_000, 120_000]);
        // Restated to nothing: the pulled file goes; deleting twice is fine.
        for _ in 0..2 {
            lake.replace_pulled_day(Table::AdCosts, &tenant, day, "meta-42", &[])
                .await
                .unwrap();
        }
        assert_eq!(costs_of(&lake, &tenant).await, [10_000]);
        assert!(
            lake.replace_pulled_day(Table::AdCosts, &tenant, day + 1, "meta-42", &[cost("1")])
                .await
                .is_err(),
            "a row of another day is refused"
        );
    }

    #[tokio::test]
    async fn merges_small_files_and_drops_retried_rows() {
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
        let report = lake.compact(Table::Touchpoints, &tenant).await.unwrap();
        assert_eq!(
            report,
            CompactionReport {
                partitions: 1,
                files_before: 3,
                files_after: 1,
                duplicates_dropped: 2
            }
        );
        let files = lake
            .list_files(&layout::table_prefix("touchpoints", &tenant))
            .await
            .unwrap();
        assert_eq!(files.len(), 1);
        let rows: usize = read_parquet(lake.get(&files[0]).await.unwrap(), None)
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 4);
        assert_eq!(
            lake.compact(Table::Touchpoints, &tenant)
                .await
                .unwrap()
                .partitions,
            0,
            "nothing left to do"
        );
    }
}
