//! Job outputs: the `attribution` table and the KPI rollups. A job writes its data files
//! first ([`Lake::write_data_file`], one partition at a time, so it can stream its result)
//! and publishes them in one commit that also removes what they replace: readers see the
//! old result or the new one, never a mix. Files of a job that fails or is killed before
//! its commit are never named by the log, so no reader counts them; VACUUM deletes them
//! after the retention period.

use std::collections::BTreeMap;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use object_store::path::Path;
use sha2::{Digest, Sha256};
use throughline_model::TenantId;
use throughline_model::field::date_string;
use throughline_model::table::Table;

use crate::delta::{DATE_COLUMN, DataFile, TENANT_COLUMN, TableFiles, partition_columns};
use crate::{Lake, Result};

pub const ATTRIBUTION_TABLE: &str = "attribution";

/// Input tables the rollups are summed from besides `attribution` (touchpoints only for a
/// campaign's channel and ad groups, so new visits do not count): a commit to one of these
/// for a tenant makes its rollups out of date.
pub const ROLLED_UP_TABLES: [Table; 3] = [Table::AdCosts, Table::FxRates, Table::AdClicks];

const ROLLUP_FILE_PREFIX: &str = "rollup-";

/// What the rollups were computed from: a digest of the tenant's data files of
/// `attribution` and [`ROLLED_UP_TABLES`] as one reader saw them. Any commit that changes
/// those files (a job, an import of costs or rates, a restated day) changes it, whatever
/// the clocks of the machines involved say.
pub fn rollup_inputs<'a>(inputs: impl IntoIterator<Item = (&'a str, &'a TableFiles)>) -> String {
    let mut digest = Sha256::new();
    for (table, files) in inputs {
        digest.update(table.as_bytes());
        digest.update(b"\n");
        for file in &files.files {
            digest.update(file.key.as_ref().as_bytes());
            digest.update(b"\n");
        }
    }
    hex::encode(&digest.finalize()[..8])
}

impl Lake {
    /// Publishes a job's written files in one commit: the tenant's partitions with dates
    /// in `replaced_dates` (or all, when `None`) are removed and `files` take their place.
    /// A commit that lost the race to another job's is retried against it; the table is
    /// created with `schema` (the files' columns) at the first commit. Returns the version.
    pub async fn commit_files(
        &self,
        table: &str,
        tenant: &TenantId,
        schema: &Schema,
        replaced_dates: Option<(i32, i32)>,
        files: &[DataFile],
    ) -> Result<u64> {
        let loaded = self.table_for_write(table, schema, true).await?;
        let predicate = match replaced_dates {
            None => format!("{TENANT_COLUMN} = '{tenant}'"),
            Some((from, to)) => format!(
                "{TENANT_COLUMN} = '{tenant}' AND {DATE_COLUMN} BETWEEN '{}' AND '{}'",
                date_string(from),
                date_string(to)
            ),
        };
        let in_window = |date: Option<i32>| match (replaced_dates, date) {
            (None, _) => true,
            (Some((from, to)), Some(date)) => (from..=to).contains(&date),
            (Some(_), None) => false,
        };
        self.commit(
            table,
            tenant,
            Some(loaded),
            files,
            || DeltaOperation::Write {
                mode: SaveMode::Overwrite,
                partition_by: Some(partition_columns(true)),
                predicate: Some(predicate.clone()),
            },
            |current| {
                Some(
                    current
                        .iter()
                        .filter(|f| in_window(f.date))
                        .map(|f| f.key.clone())
                        .collect(),
                )
            },
        )
        .await
        .map(|version| version.unwrap_or_default())
    }

    /// Writes and commits a job output's rows grouped by partition date (results small
    /// enough to hold; the attribution job streams through `write_data_file` instead).
    pub async fn commit_replace(
        &self,
        table: &str,
        tenant: &TenantId,
        schema: &Schema,
        replaced_dates: Option<(i32, i32)>,
        batches: BTreeMap<i32, Vec<RecordBatch>>,
    ) -> Result<u64> {
        let mut files = Vec::new();
        for (date, date_batches) in &batches {
            if date_batches.iter().all(|b| b.num_rows() == 0) {
                continue;
            }
            files.push(
                self.write_data_file(table, tenant, Some(*date), date_batches)
                    .await?,
            );
        }
        self.commit_files(table, tenant, schema, replaced_dates, &files)
            .await
    }

    /// Replaces the tenant's rollups: each `(name, rows)` becomes the one file of table
    /// `name` for the tenant, named after `inputs` ([`rollup_inputs`]). Each rollup table
    /// commits on its own; [`Lake::current_rollups`] takes a set only when all of them
    /// name the same inputs. Returns the versions committed.
    pub async fn commit_rollups(
        &self,
        tenant: &TenantId,
        inputs: &str,
        rollups: &[(&str, Vec<RecordBatch>)],
    ) -> Result<Vec<u64>> {
        let mut versions = Vec::with_capacity(rollups.len());
        for (name, batches) in rollups {
            let schema = batches.first().map(|b| b.schema()).ok_or_else(|| {
                parquet::errors::ParquetError::General(format!("{name}: no batches to write"))
            })?;
            let loaded = self.table_for_write(name, &schema, false).await?;
            let relative = format!(
                "{TENANT_COLUMN}={tenant}/{ROLLUP_FILE_PREFIX}{inputs}-{}.parquet",
                uuid::Uuid::now_v7()
            );
            let file = self
                .write_data_file_named(name, tenant, None, batches, relative)
                .await?;
            let predicate = format!("{TENANT_COLUMN} = '{tenant}'");
            versions.push(
                self.commit(
                    name,
                    tenant,
                    Some(loaded),
                    std::slice::from_ref(&file),
                    || DeltaOperation::Write {
                        mode: SaveMode::Overwrite,
                        partition_by: Some(partition_columns(false)),
                        predicate: Some(predicate.clone()),
                    },
                    |current| Some(current.iter().map(|f| f.key.clone()).collect()),
                )
                .await?
                .unwrap_or_default(),
            );
        }
        Ok(versions)
    }

    /// The tenant's rollup files, one per name, when every one of them was computed from
    /// `inputs`; `None` otherwise (a job or an import since, or a refresh half done).
    pub async fn current_rollups(
        &self,
        tenant: &TenantId,
        names: &[&str],
        inputs: &str,
    ) -> Result<Option<Vec<Path>>> {
        let wanted = format!("{ROLLUP_FILE_PREFIX}{inputs}-");
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let current = self.table_files(name, tenant, &crate::AsOf::Latest).await?;
            match current.files.as_slice() {
                [one] if one.key.filename().is_some_and(|f| f.starts_with(&wanted)) => {
                    files.push(one.key.clone());
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AsOf;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field};
    use object_store::ObjectStoreExt;
    use std::sync::Arc;

    fn schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
    }

    fn batch(values: &[i64]) -> RecordBatch {
        RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    async fn values(lake: &Lake, tenant: &TenantId, as_of: &AsOf) -> Vec<i64> {
        let mut values = Vec::new();
        for file in lake
            .table_files(ATTRIBUTION_TABLE, tenant, as_of)
            .await
            .unwrap()
            .files
        {
            for b in crate::read_parquet(lake.get(&file.key).await.unwrap(), None).unwrap() {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                values.extend(column.values().iter());
            }
        }
        values.sort();
        values
    }

    #[tokio::test]
    async fn a_job_replaces_its_window_in_one_version_and_old_versions_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        let other = TenantId::parse("t2").unwrap();
        let first = lake
            .commit_replace(
                ATTRIBUTION_TABLE,
                &tenant,
                &schema(),
                None,
                BTreeMap::from([(1, vec![batch(&[1])]), (2, vec![batch(&[2])])]),
            )
            .await
            .unwrap();
        lake.commit_replace(
            ATTRIBUTION_TABLE,
            &other,
            &schema(),
            None,
            BTreeMap::from([(2, vec![batch(&[20])])]),
        )
        .await
        .unwrap();
        // A streaming job writes a date, then fails: nothing shows.
        let orphan = lake
            .write_data_file(ATTRIBUTION_TABLE, &tenant, Some(2), &[batch(&[99])])
            .await
            .unwrap();
        assert_eq!(values(&lake, &tenant, &AsOf::Latest).await, [1, 2]);

        let day2 = lake
            .write_data_file(
                ATTRIBUTION_TABLE,
                &tenant,
                Some(2),
                &[batch(&[3]), batch(&[4])],
            )
            .await
            .unwrap();
        let second = lake
            .commit_files(ATTRIBUTION_TABLE, &tenant, &schema(), Some((2, 2)), &[day2])
            .await
            .unwrap();
        assert!(second > first);
        assert_eq!(
            values(&lake, &tenant, &AsOf::Latest).await,
            [1, 3, 4],
            "day 1 kept, day 2 replaced"
        );
        assert_eq!(
            values(&lake, &other, &AsOf::Latest).await,
            [20],
            "another tenant untouched"
        );
        assert_eq!(
            values(&lake, &tenant, &AsOf::Version(first)).await,
            [1, 2],
            "time travel"
        );
        let missing = lake
            .table_files(ATTRIBUTION_TABLE, &tenant, &AsOf::Version(second + 5))
            .await
            .unwrap_err();
        assert!(matches!(missing, crate::Error::AsOf(_)), "{missing:?}");
        let before = lake
            .table_files("kpi_none", &tenant, &AsOf::Version(second + 5))
            .await
            .unwrap_err();
        assert!(matches!(before, crate::Error::AsOf(_)), "{before:?}");
        assert!(
            lake.store().head(&orphan.key()).await.is_ok(),
            "the uncommitted file is on disk, unnamed"
        );
    }

    #[tokio::test]
    async fn rollups_are_current_only_for_the_inputs_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        let names = ["kpi_a", "kpi_b"];
        let rollups = [("kpi_a", vec![batch(&[1])]), ("kpi_b", vec![batch(&[2])])];
        assert_eq!(
            lake.current_rollups(&tenant, &names, "f1").await.unwrap(),
            None
        );
        lake.commit_rollups(&tenant, "f1", &rollups).await.unwrap();
        let current = lake
            .current_rollups(&tenant, &names, "f1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.len(), 2);
        assert_eq!(
            lake.current_rollups(&tenant, &names, "f2").await.unwrap(),
            None
        );
        // A refresh that committed one rollup of two is not taken.
        lake.commit_rollups(&tenant, "f2", &rollups[..1])
            .await
            .unwrap();
        assert_eq!(
            lake.current_rollups(&tenant, &names, "f2").await.unwrap(),
            None
        );
        assert_eq!(
            lake.current_rollups(&tenant, &names, "f1").await.unwrap(),
            None
        );
    }
}
