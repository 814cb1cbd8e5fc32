//! `throughline lake migrate`: turns a lake written before Delta Lake (plain Hive
//! partitioned Parquet under `tables/`, and manifests under `_manifests/` naming the
//! committed files of job outputs) into Delta tables in place. No data file is rewritten:
//! each table's first commit adds the files it had (for `attribution`, only those its
//! newest manifest names per tenant, so a crashed job's leftovers stay out). A table that
//! already has a Delta log is left alone, so running it twice changes nothing. The KPI
//! rollups are not migrated: the next job computes them again.

use std::collections::{BTreeMap, HashMap};

use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake_core::kernel::{Action, Add};
use futures::TryStreamExt;
use object_store::ObjectMeta;
use object_store::path::Path;
use throughline_model::table::Table;

use crate::delta::{DATE_COLUMN, TENANT_COLUMN, append_operation, table_root};
use crate::jobs::ATTRIBUTION_TABLE;
use crate::{Error, Lake, Result};

/// What migrating one table did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// The first commit added this many existing files.
    Converted { files: usize },
    /// The table already had a Delta log: nothing was done.
    AlreadyDelta,
    /// Not a table this version knows how to convert (e.g. old KPI rollups): left as is.
    Skipped { reason: String },
}

impl Lake {
    /// Converts every table under `tables/` that has no Delta log yet.
    pub async fn migrate(&self) -> Result<Vec<(String, Migration)>> {
        let listed = self
            .store()
            .list_with_delimiter(Some(&Path::from("tables")))
            .await?;
        let mut outcomes = Vec::new();
        for dir in listed.common_prefixes {
            let Some(name) = dir.filename().map(str::to_owned) else {
                continue;
            };
            let outcome = self.migrate_table(&name).await?;
            tracing::info!(table = name, ?outcome, "migrated");
            outcomes.push((name, outcome));
        }
        Ok(outcomes)
    }

    async fn migrate_table(&self, name: &str) -> Result<Migration> {
        if self.delta_table(name).await?.is_some() {
            return Ok(Migration::AlreadyDelta);
        }
        let root = table_root(name);
        let files: Vec<ObjectMeta> = self
            .store()
            .list(Some(&Path::from(root.as_str())))
            .try_filter(|m| futures::future::ready(m.location.extension() == Some("parquet")))
            .try_collect()
            .await?;
        let (schema, files) = if let Some(table) = Table::ALL.iter().find(|t| t.name() == name) {
            (table.schema(), files)
        } else if name == ATTRIBUTION_TABLE {
            let named = self.manifest_files(name).await?;
            let files: Vec<ObjectMeta> = files
                .into_iter()
                .filter(|m| named.contains(m.location.as_ref()))
                .collect();
            let Some(first) = files.first() else {
                return Ok(Migration::Skipped {
                    reason: "no committed files".into(),
                });
            };
            let (schema, _) = crate::read_parquet_file(self.get(&first.location).await?)?;
            (schema, files)
        } else {
            return Ok(Migration::Skipped {
                reason:
                    "not an input table or attribution (KPI rollups are recomputed by the next job)"
                        .into(),
            });
        };
        let adds = files
            .iter()
            .map(|meta| existing_file(&root, meta))
            .collect::<Result<Vec<Add>>>()?;
        let delta = self.table_for_write(name, &schema, true).await?;
        let snapshot = delta.snapshot().map_err(|e| Error::delta(name, e))?;
        let count = adds.len();
        if count > 0 {
            CommitBuilder::from(CommitProperties::default())
                .with_actions(adds.into_iter().map(Action::Add).collect())
                .build(Some(snapshot), delta.log_store(), append_operation(true))
                .await
                .map_err(|e| Error::delta(name, e))?;
        }
        Ok(Migration::Converted { files: count })
    }

    /// The files the newest manifest of each tenant names (`_manifests/<table>/tenant=<id>/
    /// <version>.json`, `{"files": {"<date>": ["<key>", …]}}`).
    async fn manifest_files(&self, table: &str) -> Result<std::collections::HashSet<String>> {
        let manifests: Vec<ObjectMeta> = self
            .store()
            .list(Some(&Path::from(format!("_manifests/{table}"))))
            .try_collect()
            .await?;
        let mut newest: BTreeMap<String, Path> = BTreeMap::new();
        for meta in manifests {
            let tenant_dir = meta
                .location
                .as_ref()
                .rsplit_once('/')
                .map(|(d, _)| d.to_owned());
            if let Some(dir) = tenant_dir {
                let entry = newest.entry(dir).or_insert_with(|| meta.location.clone());
                if meta.location > *entry {
                    *entry = meta.location.clone();
                }
            }
        }
        #[derive(serde::Deserialize)]
        struct Manifest {
            files: BTreeMap<String, Vec<String>>,
        }
        let mut named = std::collections::HashSet::new();
        for path in newest.values() {
            let manifest: Manifest =
                serde_json::from_slice(&self.get(path).await?).map_err(|e| Error::Migration {
                    path: path.to_string(),
                    reason: e.to_string(),
                })?;
            named.extend(manifest.files.into_values().flatten());
        }
        Ok(named)
    }
}

/// The add action of a file already in the table's directory, its partition values read
/// from its path (`tenant=<id>/date=<YYYY-MM-DD>/…`).
fn existing_file(root: &str, meta: &ObjectMeta) -> Result<Add> {
    let relative = meta
        .location
        .as_ref()
        .strip_prefix(&format!("{root}/"))
        .unwrap_or(meta.location.as_ref())
        .to_owned();
    let mut partition_values = HashMap::new();
    for part in relative.split('/') {
        if let Some((column, value)) = part.split_once('=')
            && (column == TENANT_COLUMN || column == DATE_COLUMN)
        {
            partition_values.insert(column.to_owned(), Some(value.to_owned()));
        }
    }
    if partition_values.len() != 2 {
        return Err(Error::Migration {
            path: meta.location.to_string(),
            reason: "not under tenant=<id>/date=<YYYY-MM-DD>/".into(),
        });
    }
    Ok(Add {
        path: relative,
        partition_values,
        size: i64::try_from(meta.size).unwrap_or(i64::MAX),
        modification_time: meta.last_modified.timestamp_millis(),
        data_change: true,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsOf, rows_to_batch, write_parquet};
    use throughline_model::TenantId;
    use throughline_model::table::ParseOptions;

    #[tokio::test]
    async fn converts_plain_parquet_in_place_once_leaving_uncommitted_job_files_out() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t").unwrap();
        let record: HashMap<String, String> = [
            ("event_id", "e1"),
            ("ts", "2026-08-01T10:00:00Z"),
            ("url", "https://k.ua/"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let row = Table::Touchpoints
            .parse(&record, &ParseOptions::default())
            .unwrap();
        let body = write_parquet(&[rows_to_batch(Table::Touchpoints, &[&row]).unwrap()]).unwrap();
        let old = |table: &str, name: &str| {
            Path::from(format!("tables/{table}/tenant=t/date=2026-08-01/{name}"))
        };
        lake.put(&old("touchpoints", "part-1.parquet"), body.clone())
            .await
            .unwrap();
        // The job's committed file and one it left behind before its manifest.
        lake.put(&old("attribution", "part-2.parquet"), body.clone())
            .await
            .unwrap();
        lake.put(&old("attribution", "part-3.parquet"), body.clone())
            .await
            .unwrap();
        let manifest = serde_json::json!({
            "version": 1,
            "committed_at": "2026-08-02T00:00:00Z",
            "files": {"2026-08-01": [old("attribution", "part-2.parquet").to_string()]}
        });
        lake.put(
            &Path::from("_manifests/attribution/tenant=t/00000000000000000001.json"),
            serde_json::to_vec(&manifest).unwrap().into(),
        )
        .await
        .unwrap();
        lake.put(
            &Path::from("tables/kpi_cost_days/tenant=t/part-4.parquet"),
            body,
        )
        .await
        .unwrap();

        let outcomes: BTreeMap<String, Migration> =
            lake.migrate().await.unwrap().into_iter().collect();
        assert_eq!(outcomes["touchpoints"], Migration::Converted { files: 1 });
        assert_eq!(outcomes["attribution"], Migration::Converted { files: 1 });
        assert!(matches!(
            outcomes["kpi_cost_days"],
            Migration::Skipped { .. }
        ));
        let files = |table: &'static str| {
            let lake = lake.clone();
            let tenant = tenant.clone();
            async move {
                lake.table_files(table, &tenant, &AsOf::Latest)
                    .await
                    .unwrap()
                    .files
            }
        };
        let attribution = files("attribution").await;
        assert_eq!(attribution.len(), 1);
        assert_eq!(attribution[0].key, old("attribution", "part-2.parquet"));
        assert_eq!(attribution[0].date, Some(row.date));
        assert_eq!(
            files("touchpoints").await[0].key,
            old("touchpoints", "part-1.parquet")
        );

        let again: BTreeMap<String, Migration> =
            lake.migrate().await.unwrap().into_iter().collect();
        assert_eq!(again["touchpoints"], Migration::AlreadyDelta);
        assert_eq!(again["attribution"], Migration::AlreadyDelta);
        assert_eq!(files("touchpoints").await.len(), 1, "nothing added twice");
    }
}
