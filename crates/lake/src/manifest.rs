//! Job outputs are published by a manifest commit, the way table formats do it: data files
//! are written under unique names first, then a new manifest version naming the complete
//! file set is created with put-if-absent. Readers take the newest manifest, so they see
//! the old result or the new one, never a mix; a crash before the commit leaves only
//! unreferenced files. Files replaced by a commit are deleted after it.

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
    /// when `None`) are dropped and `batches` (grouped by partition date) take their place.
    pub async fn commit_replace(
        &self,
        table: &str,
        tenant: &TenantId,
        replaced_dates: Option<(i32, i32)>,
        batches: BTreeMap<i32, Vec<RecordBatch>>,
    ) -> Result<Manifest> {
        let mut new_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (date, date_batches) in &batches {
            if date_batches.iter().all(|b| b.num_rows() == 0) {
                continue;
            }
            let path = layout::new_part_file(table, tenant, *date);
            self.put(&path, write_parquet(date_batches)?).await?;
            new_files
                .entry(date_string(*date))
                .or_default()
                .push(path.to_string());
        }
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
                    self.delete_replaced(&previous, &next).await;
                    return Ok(next);
                }
                Err(object_store::Error::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::CommitConflict {
            table: table.into(),
            tenant: tenant.to_string(),
        })
    }

    /// Deletes files that the previous version referenced and the new one does not. A
    /// failed delete only leaves an unreferenced file behind, so it is logged, not raised.
    async fn delete_replaced(&self, previous: &Manifest, next: &Manifest) {
        use object_store::ObjectStoreExt;
        let kept: std::collections::HashSet<&str> = next.all_files().collect();
        for file in previous.all_files().filter(|f| !kept.contains(f)) {
            if let Err(e) = self.store().delete(&Path::from(file)).await {
                tracing::warn!(file, error = %e, "could not delete a replaced file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    #[tokio::test]
    async fn commits_replace_only_the_window_and_delete_old_files() {
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
