//! KPI rollups: small summary tables the job writes after each run (the engine's
//! `sql/rollups.sql`), committed together under one manifest so readers take a complete
//! set. The manifest's keys are the rollups' names instead of dates. Writing costs or
//! exchange rates makes the rollups out of date: the writers drop them (an empty commit),
//! and KPIs are computed from the tables until the next job writes them again.

use std::collections::BTreeMap;

use bytes::Bytes;
use object_store::path::Path;
use throughline_model::TenantId;
use throughline_model::table::Table;

use crate::{Lake, Manifest, Result, layout};

/// The manifest under which the rollups are committed.
pub const ROLLUPS_TABLE: &str = "kpi_rollups";

/// Input tables the rollups read as they were at the job (attribution by commit time, and
/// touchpoints only for a campaign's channel and ad groups, so new visits do not count):
/// writing one of these drops the rollups.
pub const ROLLED_UP_TABLES: [Table; 3] = [Table::AdCosts, Table::FxRates, Table::AdClicks];

impl Lake {
    /// Writes each `(name, Parquet file)` under `tables/<name>/tenant=<id>/` and commits
    /// them as the tenant's rollups, replacing the previous set — only if the newest
    /// rollups version is still `base` (read before the rollups' inputs were): a drop since
    /// means they miss rows, and `None` is returned with nothing committed.
    pub async fn commit_rollups(
        &self,
        tenant: &TenantId,
        base: u64,
        rollups: Vec<(String, Bytes)>,
    ) -> Result<Option<Manifest>> {
        let mut files = BTreeMap::new();
        for (name, body) in rollups {
            let path = rollup_file(&name, tenant);
            self.put(&path, body).await?;
            files.insert(name, vec![path.to_string()]);
        }
        let previous = self
            .current_manifest(ROLLUPS_TABLE, tenant)
            .await?
            .unwrap_or_default();
        let committed = match previous.version == base {
            true => {
                self.try_commit(ROLLUPS_TABLE, tenant, &previous, files.clone())
                    .await?
            }
            false => None,
        };
        if committed.is_none() {
            for path in files.values().flatten() {
                self.delete_unreferenced(path).await;
            }
        }
        Ok(committed)
    }

    /// Makes the tenant's rollups out of date (an empty commit), if it has any: called by
    /// every writer of a table in `ROLLED_UP_TABLES`.
    pub async fn drop_rollups(&self, tenant: &TenantId) -> Result<()> {
        let current = self.current_manifest(ROLLUPS_TABLE, tenant).await?;
        if current.is_some_and(|m| m.all_files().next().is_some()) {
            self.commit_files(ROLLUPS_TABLE, tenant, None, BTreeMap::new())
                .await?;
            tracing::info!(%tenant, "kpi rollups dropped: costs or rates changed since the job");
        }
        Ok(())
    }
}

fn rollup_file(name: &str, tenant: &TenantId) -> Path {
    layout::table_prefix(name, tenant).join(format!("rollup-{}.parquet", uuid::Uuid::now_v7()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup() -> Vec<(String, Bytes)> {
        vec![("kpi_cost_days".into(), Bytes::from_static(b"not read here"))]
    }

    #[tokio::test]
    async fn a_drop_while_rollups_are_computed_keeps_them_out() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        let first = lake
            .commit_rollups(&tenant, 0, rollup())
            .await
            .unwrap()
            .expect("nothing committed since version 0");
        assert_eq!((first.version, first.all_files().count()), (1, 1));

        // A job read version 1, then costs were imported: its rollups are not committed,
        // and their file is deleted.
        lake.drop_rollups(&tenant).await.unwrap();
        let stale = lake
            .commit_rollups(&tenant, first.version, rollup())
            .await
            .unwrap();
        assert_eq!(stale, None);
        let current = lake
            .current_manifest(ROLLUPS_TABLE, &tenant)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((current.version, current.all_files().count()), (2, 0));
        let stored = lake
            .list_files(&layout::table_prefix("kpi_cost_days", &tenant))
            .await
            .unwrap();
        assert!(stored.is_empty(), "{stored:?}");

        // Dropping again commits nothing; the next job commits over the empty version.
        lake.drop_rollups(&tenant).await.unwrap();
        let next = lake
            .commit_rollups(&tenant, current.version, rollup())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((next.version, next.all_files().count()), (3, 1));
    }
}
