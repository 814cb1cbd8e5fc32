//! Compaction: per-request ingest writes many small files; the job must never read
//! thousands of tiny objects. Each partition with more than one file is rewritten as one
//! file, dropping rows whose key an earlier row already has (a retried delivery that
//! crashed between its write and its idempotency claim). Only files that were read are
//! deleted, so files written meanwhile survive.

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
