//! Job outputs are published by a manifest commit, the way table formats do it: data files
//! are written under unique names first (`Lake::write_part`, one partition at a time, so a
//! job can stream its result), then a new manifest version naming the complete file set is
//! created with put-if-absent (`Lake::commit_files`). Readers take the newest manifest, so
//! they see the old result or the new one, never a mix. A crash or an error between the
//! writes and the commit (the job failing, the commit losing every retry) leaves the
//! written files behind unreferenced: invisible to readers, and not cleaned up here. Files
//! replaced by a commit are deleted after it.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use throughline_model::TenantId;
use throughline_model::field::date_string;

use crate::parquet_io::write_parquet;
use crate::{Error, Lake, Result, layout};

const COMMIT_ATTEMPTS: usize = 5;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: u64,
    pub committed_at: String,
    /// Partition date (`YYYY-MM-DD`) -> data files (object keys from the lake root).
    pub files: BTreeMap<String, Vec<String>>,
}

impl Manifest {
    pub fn all_files(&self) -> impl Iterator<Item = &str> {
        self.files.values().flatten().map(String::as_str)
    }
}

fn version_path(table: &str, tenant: &TenantId, version: u64) -> Path {
    layout::manifest_prefix(table, tenant).join(format!("{version:020}.json"))
}

impl Lake {
    /// The newest committed manifest of a job output, if any job has committed.
    pub async fn current_manifest(
        &self,
        table: &str,
        tenant: &TenantId,
    ) -> Result<Option<Manifest>> {
        use futures::TryStreamExt;
        let prefix = layout::manifest_prefix(table, tenant);
        let newest = self
            .store()
            .list(Some(&prefix))
            .try_filter(|m| futures::future::ready(m.location.extension() == Some("json")))
            .try_fold(None::<Path>, |best, m| async move {
                Ok(match best {
                    Some(b) if b >= m.location => Some(b),
                    _ => Some(m.location),
                })
            })
            .await?;
        let Some(path) = newest else { return Ok(None) };
        let manifest =
            serde_json::from_slice(&self.get(&path).await?).map_err(|e| Error::Manifest {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Some(manifest))
    }

    /// Replaces a job output's partitions atomically. Partitions in `replaced_dates` (or all,
    /// when `None`) are dropped and `batches` (grouped by partition date) take their place:
    /// `write_part` for each date, then `commit_files`, for results small enough to hold.
    pub async fn commit_replace(
        &self,
        table: &str,
        tenant: &TenantId,
        replaced_dates: Option<(i32, i32)>,
        batches: BTreeMap<i32, Vec<RecordBatch>>,
    ) -> Result<Manifest> {
        let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (date, date_batches) in &batches {
            if date_batches.iter().all(|b| b.num_rows() == 0) {
                continue;
            }
            let path = self.write_part(table, tenant, *date, date_batches).await?;
            files
                .entry(date_string(*date))
                .or_default()
                .push(path.to_string());
        }
        self.commit_files(table, tenant, replaced_dates, files)
            .await
    }

    /// Writes one partition's rows of a job output as a new part file (`batches` must not
    /// be empty) and returns its key. Nobody reads it until `commit_files` names it; if that
    /// never happens the file stays behind unreferenced.
    pub async fn write_part(
        &self,
        table: &str,
        tenant: &TenantId,
        date: i32,
        batches: &[RecordBatch],
    ) -> Result<Path> {
        let path = layout::new_part_file(table, tenant, date);
        self.put(&path, write_parquet(batches)?).await?;
        Ok(path)
    }

    /// Publishes already-written files in one atomic commit: the partitions (keys, dates as
    /// `YYYY-MM-DD`) of the newest manifest in `replaced_dates` (or all, when `None`) are
    /// dropped and `new_files` (partition -> object keys) take their place. Retries when another commit wins the
    /// race to the next version; files the new version no longer names are deleted after it.
    pub async fn commit_files(
        &self,
        table: &str,
        tenant: &TenantId,
        replaced_dates: Option<(i32, i32)>,
        new_files: BTreeMap<String, Vec<String>>,
    ) -> Result<Manifest> {
        let in_scope = |date: &str| match replaced_dates {
            None => true,
            Some((from, to)) => {
                date >= date_string(from).as_str() && date <= date_string(to).as_str()
            }
        };
        for _ in 0..COMMIT_ATTEMPTS {
            let previous = self
                .current_manifest(table, tenant)
                .await?
                .unwrap_or_default();
            let mut files: BTreeMap<String, Vec<String>> = previous
                .files
                .iter()
                .filter(|(date, _)| !in_scope(date))
                .map(|(d, f)| (d.clone(), f.clone()))
                .collect();
            files.extend(new_files.clone());
            if let Some(next) = self.try_commit(table, tenant, &previous, files).await? {
                return Ok(next);
            }
        }
        Err(Error::CommitConflict {
            table: table.into(),
            tenant: tenant.to_string(),
        })
    }

    /// Creates the version after `previous` naming exactly `files`, then deletes what only
    /// `previous` named. `None` when another commit created that version first.
    pub(crate) async fn try_commit(
        &self,
        table: &str,
        tenant: &TenantId,
        previous: &Manifest,
        files: BTreeMap<String, Vec<String>>,
    ) -> Result<Option<Manifest>> {
        let next = Manifest {
            version: previous.version + 1,
            committed_at: chrono::Utc::now().to_rfc3339(),
            files,
        };
        let body = serde_json::to_vec_pretty(&next).expect("a manifest always serialises");
        let put = self
            .store()
            .put_opts(
                &version_path(table, tenant, next.version),
                PutPayload::from(body),
                PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                },
            )
            .await;
        match put {
            Ok(_) => {
                self.delete_replaced(previous, &next).await;
                Ok(Some(next))
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes files that the previous version referenced and the new one does not. A
    /// failed delete only leaves an unreferenced file behind, so it is logged, not raised.
    async fn delete_replaced(&self, previous: &Manifest, next: &Manifest) {
        let kept: std::collections::HashSet<&str> = next.all_files().collect();
        for file in previous.all_files().filter(|f| !kept.contains(f)) {
            self.delete_unreferenced(file).await;
        }
    }

    /// Deletes a file no manifest names (any more); a failure is logged, not raised.
    pub(crate) async fn delete_unreferenced(&self, file: &str) {
        use object_store::ObjectStoreExt;
        if let Err(e) = self.store().delete(&Path::from(file)).await {
            tracing::warn!(file, error = %e, "could not delete an unreferenced file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet_io::read_parquet;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    /// A lake whose attribution has days 1 and 2 committed (version 1).
    async fn two_committed_days() -> (tempfile::TempDir, Lake, TenantId, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        let first = lake
            .commit_replace(
                "attribution",
                &tenant,
                None,
                BTreeMap::from([(1, vec![batch(&[1])]), (2, vec![batch(&[2])])]),
            )
            .await
            .unwrap();
        (dir, lake, tenant, first)
    }

    #[tokio::test]
    async fn commits_replace_only_the_window_and_delete_old_files() {
        let (_dir, lake, tenant, first) = two_committed_days().await;
        assert_eq!(first.version, 1);
        assert_eq!(first.files.len(), 2);

        let second = lake
            .commit_replace(
                "attribution",
                &tenant,
                Some((2, 2)),
                BTreeMap::from([(2, vec![batch(&[3])])]),
            )
            .await
            .unwrap();
        assert_eq!(second.version, 2);
        assert_eq!(
            second.files["1970-01-02"], first.files["1970-01-02"],
            "outside the window: kept"
        );
        assert_ne!(
            second.files["1970-01-03"], first.files["1970-01-03"],
            "inside the window: replaced"
        );
        let on_disk = lake
            .list_files(&layout::table_prefix("attribution", &tenant))
            .await
            .unwrap();
        assert_eq!(on_disk.len(), 2, "the replaced file is deleted");
        assert_eq!(
            lake.current_manifest("attribution", &tenant).await.unwrap(),
            Some(second)
        );
    }

    #[tokio::test]
    async fn written_parts_are_invisible_until_committed_and_replace_the_window() {
        let (_dir, lake, tenant, first) = two_committed_days().await;

        // A streaming job writes its dates one by one: nothing shows until the commit.
        let day2 = lake
            .write_part("attribution", &tenant, 2, &[batch(&[3]), batch(&[4])])
            .await
            .unwrap();
        let day3 = lake
            .write_part("attribution", &tenant, 3, &[batch(&[5])])
            .await
            .unwrap();
        assert!(
            day2.as_ref()
                .starts_with("tables/attribution/tenant=t1/date=1970-01-03/")
        );
        assert_eq!(
            lake.current_manifest("attribution", &tenant).await.unwrap(),
            Some(first.clone()),
            "written, not committed: readers still see the previous version"
        );

        let committed = lake
            .commit_files(
                "attribution",
                &tenant,
                Some((2, 3)),
                BTreeMap::from([
                    ("1970-01-03".to_owned(), vec![day2.to_string()]),
                    ("1970-01-04".to_owned(), vec![day3.to_string()]),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(committed.version, 2);
        assert_eq!(committed.files["1970-01-02"], first.files["1970-01-02"]);
        assert_eq!(committed.files["1970-01-03"], vec![day2.to_string()]);
        assert_eq!(committed.files["1970-01-04"], vec![day3.to_string()]);
        let body = lake.get(&day2).await.unwrap();
        let rows: usize = read_parquet(body, None)
            .unwrap()
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows, 2, "all of a date's batches in its one file");
        let on_disk: Vec<String> = lake
            .list_files(&layout::table_prefix("attribution", &tenant))
            .await
            .unwrap()
            .iter()
            .map(Path::to_string)
            .collect();
        let mut named: Vec<String> = committed.all_files().map(str::to_owned).collect();
        named.sort();
        assert_eq!(on_disk, named, "the replaced day-2 file is deleted");

        // A job that fails after writing leaves its file unreferenced, and no new version.
        let orphan = lake
            .write_part("attribution", &tenant, 1, &[batch(&[6])])
            .await
            .unwrap();
        let current = lake.current_manifest("attribution", &tenant).await.unwrap();
        assert_eq!(current, Some(committed));
        assert!(!current.unwrap().all_files().any(|f| f == orphan.as_ref()));
    }

    #[tokio::test]
    async fn a_crash_before_commit_is_invisible() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        // Data written but never committed, as after a crash mid-job.
        let orphan = layout::new_part_file("attribution", &tenant, 1);
        lake.put(&orphan, write_parquet(&[batch(&[9])]).unwrap())
            .await
            .unwrap();
        assert_eq!(
            lake.current_manifest("attribution", &tenant).await.unwrap(),
            None
        );
    }
}
