//! Which views exist, where they are defined, and what an answer needs installed.
//!
//! The engine's session holds the tenant's tables and the views every answer shares
//! (journeys, attribution, customers: planned once per engine, at first use). An answer
//! (a KPI report, the funnel, an ad-hoc query) runs in a *scope* of its own: a session
//! that reads the engine's tables and views and keeps what the answer installs — its
//! one-row parameter table, the lookups and views planned with them — to itself. So
//! answers never change the engine's session, and two answers cannot see each other's
//! parameters.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use crate::sql_files::SqlFile;
use crate::{Engine, Error, Result};

/// The files whose views the engine's session shares, in install order.
pub(crate) const SHARED: [SqlFile; 3] =
    [SqlFile::Journeys, SqlFile::Attribution, SqlFile::Customers];

/// The files a file's views read, besides the tables (which are always there).
fn reads(file: SqlFile) -> &'static [SqlFile] {
    match file {
        SqlFile::Journeys => &[],
        SqlFile::Attribution => &[SqlFile::Journeys],
        SqlFile::Customers => &[SqlFile::Journeys, SqlFile::Attribution],
        SqlFile::Rollups => &[SqlFile::Journeys],
        // From the rollups' views when live; from the registered rollup files otherwise.
        SqlFile::Kpi => &[SqlFile::Rollups],
        SqlFile::Funnel => &[SqlFile::Journeys],
    }
}

/// The views each file creates, read from the files themselves.
fn views_of(file: SqlFile) -> &'static [String] {
    static VIEWS: [OnceLock<Vec<String>>; SqlFile::ALL.len()] =
        [const { OnceLock::new() }; SqlFile::ALL.len()];
    VIEWS[file as usize].get_or_init(|| {
        file.text()
            .match_indices("CREATE OR REPLACE VIEW ")
            .map(|(at, prefix)| {
                file.text()[at + prefix.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    })
}

/// The file that defines a view, if any does.
pub(crate) fn file_of(view: &str) -> Option<SqlFile> {
    SqlFile::ALL
        .into_iter()
        .find(|file| views_of(*file).iter().any(|v| v == view))
}

/// `files` and every file they read, in install order.
pub(crate) fn with_dependencies(files: impl IntoIterator<Item = SqlFile>) -> BTreeSet<SqlFile> {
    let mut all = BTreeSet::new();
    let mut todo: Vec<SqlFile> = files.into_iter().collect();
    while let Some(file) = todo.pop() {
        if all.insert(file) {
            todo.extend(reads(file));
        }
    }
    all
}

impl Engine {
    /// A session for one answer over the engine's tables and shared views (see the module's doc).
    pub(crate) fn scope(&self) -> Result<SessionContext> {
        let state = self.ctx.state();
        let options = state.config().options();
        let (catalog_name, schema_name) = (
            options.catalog.default_catalog.clone(),
            options.catalog.default_schema.clone(),
        );
        let base = state
            .catalog_list()
            .catalog(&catalog_name)
            .and_then(|c| c.schema(&schema_name))
            .ok_or_else(|| Error::Settings(format!("no schema {catalog_name}.{schema_name}")))?;
        let catalog = MemoryCatalogProvider::new();
        catalog.register_schema(
            &schema_name,
            Arc::new(Overlay {
                own: MemorySchemaProvider::new(),
                base,
            }),
        )?;
        let catalogs = MemoryCatalogProviderList::new();
        catalogs.register_catalog(catalog_name, Arc::new(catalog));
        let state = SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(Arc::new(catalogs))
            .build();
        Ok(SessionContext::new_with_state(state))
    }
}

/// The answer's own tables and views first, then the engine's.
#[derive(Debug)]
struct Overlay {
    own: MemorySchemaProvider,
    base: Arc<dyn SchemaProvider>,
}

#[async_trait]
impl SchemaProvider for Overlay {
    fn table_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.base.table_names().into_iter().collect();
        names.extend(self.own.table_names());
        names.into_iter().collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        match self.own.table(name).await? {
            Some(table) => Ok(Some(table)),
            None => self.base.table(name).await,
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        self.own.register_table(name, table)
    }

    fn deregister_table(
        &self,
        name: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        self.own.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.own.table_exist(name) || self.base.table_exist(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_has_one_home_and_reports_pull_in_what_they_read() {
        let mut seen = BTreeSet::new();
        for file in SqlFile::ALL {
            assert!(!views_of(file).is_empty(), "{file:?}");
            for view in views_of(file) {
                assert!(seen.insert(view.clone()), "{view} is defined twice");
            }
        }
        assert_eq!(file_of("touchpoint_facts"), Some(SqlFile::Journeys));
        assert_eq!(file_of("kpi_report"), Some(SqlFile::Kpi));
        assert_eq!(file_of("touchpoints"), None, "a table, not a view");
        // The views the engine names in Rust exist where it expects them.
        let named = crate::job::NAMED_VIEWS
            .iter()
            .flat_map(|views| views.iter())
            .chain(crate::rollups::ROLLUPS.iter().map(|(view, _)| view))
            .filter(|view| **view != "kpi_fx_rates");
        for view in named {
            assert!(file_of(view).is_some(), "{view} is no view of sql/");
        }
        for (view, source) in crate::KPI_LOOKUPS {
            assert!(file_of(view).is_none(), "{view} is installed by the engine");
            let table = throughline_model::table::Table::from_name(source).is_ok();
            assert!(
                table || file_of(source).is_some(),
                "{source} is no view of sql/"
            );
        }
        assert_eq!(
            with_dependencies([SqlFile::Kpi]),
            BTreeSet::from([SqlFile::Journeys, SqlFile::Rollups, SqlFile::Kpi])
        );
    }

    #[tokio::test]
    async fn answers_install_into_their_own_scope_and_ad_hoc_sql_finds_report_views() {
        let dir = tempfile::tempdir().unwrap();
        let lake = throughline_lake::Lake::open(&dir.path().display().to_string()).unwrap();
        let tenant = throughline_model::TenantId::parse("t").unwrap();
        let rules = Arc::new(throughline_model::channel::ChannelRules::builtin());
        let engine = Engine::open(&lake, &tenant, rules, &Default::default())
            .await
            .unwrap();
        engine
            .funnel(crate::FunnelGroup::Manager)
            .await
            .expect("a funnel of no deals");
        for query in [
            "SELECT count(*) FROM funnel_report",
            "SELECT count(*) FROM kpi_report",
            "SELECT count(*) FROM kpi_cost_days",
            "SELECT count(*) FROM ltv_report",
        ] {
            engine
                .sql(query)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
        }
        let shared = engine.context();
        for private in [
            "funnel_params",
            "kpi_params",
            "funnel_report",
            "kpi_report",
            "kpi_fx_rates",
        ] {
            assert!(
                !shared.table_exist(private).unwrap(),
                "{private} leaked into the engine's session"
            );
        }
        assert!(
            shared.table_exist("touchpoint_facts").unwrap(),
            "shared views stay"
        );
        let e = engine
            .sql("SELECT 1; SELECT 2")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly one"), "{e}");
        let e = engine
            .sql("CREATE VIEW x AS SELECT 1")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("read-only"), "{e}");
    }
}
