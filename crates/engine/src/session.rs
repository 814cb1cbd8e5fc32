//! One tenant's view of the lake as a DataFusion session: the input tables (partitioned
//! by date), the committed attribution output, the channel functions and the SQL views.
//! Each table is registered over one Delta snapshot of the tenant's files (a
//! [`SnapshotStore`]): no query can read another tenant's files, files a commit has not
//! named, or files of a version other than the one the session was opened at.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use throughline_lake::{ATTRIBUTION_TABLE, AsOf, Lake, SnapshotStore, TableFiles, table_prefix};
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::table::Table;
use throughline_settings::EngineSettings;
use url::Url;

use crate::reports::set_params;
use crate::sql_files::{SqlFile, install_sql};
use crate::{Error, JobSettings, Result, register_channel_functions, register_models};

/// Each table's snapshot store is registered under `throughline://<table>-v<version>/`,
/// whatever the lake's backend: a new version is a new URL, so no listing cached for an
/// older one is reused.
const SNAPSHOT_SCHEME: &str = "throughline";

pub struct Engine {
    pub(crate) ctx: SessionContext,
    pub(crate) lake: Lake,
    pub(crate) tenant: TenantId,
    /// The version of the lake this session reads.
    pub(crate) as_of: AsOf,
    /// The tenant's files of each registered table (inputs and `attribution`), as the
    /// session reads them: what the KPI rollups are checked against.
    pub(crate) files: std::collections::HashMap<String, TableFiles>,
    /// The views of journeys.sql, attribution.sql and customers.sql, installed at their
    /// first use ([`Engine::views`]): planning them is most of opening an engine, and a
    /// KPI answer from the rollups needs none of them.
    pub(crate) views: tokio::sync::OnceCell<()>,
    /// How long [`Engine::sql`] may plan and run a query (`None`: no limit).
    pub(crate) sql_time_limit: Option<std::time::Duration>,
}

/// The schema of `attribution_result`, the same for every tenant (it depends on the SQL
/// and on whether text is planned as Utf8View, which a memory limit turns off): worked
/// out once per process and setting.
static ATTRIBUTION_SCHEMA: [std::sync::OnceLock<SchemaRef>; 2] =
    [std::sync::OnceLock::new(), std::sync::OnceLock::new()];

impl Engine {
    /// Opens a tenant's tables. `rules` are the channel rules and `limits` the memory
    /// settings, both from the settings the binary loaded.
    pub async fn open(
        lake: &Lake,
        tenant: &TenantId,
        rules: Arc<ChannelRules>,
        limits: &EngineSettings,
    ) -> Result<Self> {
        Self::open_as_of(lake, tenant, rules, limits, AsOf::Latest).await
    }

    /// Opens a tenant's tables as they were at a version of `attribution` or a time
    /// (Delta time travel): a client report that stays put when costs are restated.
    pub async fn open_as_of(
        lake: &Lake,
        tenant: &TenantId,
        rules: Arc<ChannelRules>,
        limits: &EngineSettings,
        as_of: AsOf,
    ) -> Result<Self> {
        let mut config = session_config();
        if let Some(pool_bytes) = limits.memory_limit {
            tune_for_memory_limit(&mut config, pool_bytes);
        }
        let ctx = SessionContext::new_with_config_rt(config, runtime(limits)?);
        register_channel_functions(&ctx, rules);
        crate::built_size::register_size_checks(&ctx);
        let mut engine = Self {
            ctx,
            lake: lake.clone(),
            tenant: tenant.clone(),
            as_of,
            files: std::collections::HashMap::new(),
            views: tokio::sync::OnceCell::new(),
            sql_time_limit: limits.sql_time_limit(),
        };
        engine.register_inputs().await?;
        set_params(&engine.ctx, JobSettings::default().params_batch()?)?;
        register_models(&engine.ctx)?;
        engine.register_attribution().await?;
        Ok(engine)
    }

    /// Registers the input tables at the session's version (again after a compaction).
    pub(crate) async fn register_inputs(&mut self) -> Result<()> {
        // The tables' logs are read concurrently: each is a round trip or more on S3.
        let snapshots = futures::future::try_join_all(Table::ALL.iter().map(|table| {
            self.lake
                .table_files(table.name(), &self.tenant, &self.as_of)
        }))
        .await?;
        for (table, files) in Table::ALL.into_iter().zip(snapshots) {
            let url = self.register_snapshot(table.name(), &files)?;
            let provider = input_table(&url, table)?;
            self.ctx.deregister_table(table.name())?;
            self.ctx.register_table(table.name(), provider)?;
            self.files.insert(table.name().to_owned(), files);
        }
        Ok(())
    }

    /// Registers a snapshot store over the tenant's `files` of `table` and returns the
    /// URL of the tenant's directory in it.
    fn register_snapshot(&self, table: &str, files: &TableFiles) -> Result<ListingTableUrl> {
        let (root, prefix) = self.lake.root_store();
        let host = format!(
            "{}-v{}",
            table.replace('_', "-"),
            files
                .version
                .map_or_else(|| "none".to_owned(), |v| v.to_string())
        );
        let label = format!("{table}@{}", host.rsplit_once("-v").map_or("", |(_, v)| v));
        let store = SnapshotStore::new(root, files.object_metas(prefix), label);
        let base = Url::parse(&format!("{SNAPSHOT_SCHEME}://{host}/")).expect("valid URL");
        self.ctx.register_object_store(&base, Arc::new(store));
        Ok(ListingTableUrl::parse(format!(
            "{base}{prefix}{}/",
            table_prefix(table, &self.tenant)
        ))?)
    }

    /// Installs the views every answer shares ([`crate::views::SHARED`]: journeys.sql,
    /// attribution.sql, customers.sql), once.
    pub(crate) async fn views(&self) -> Result<()> {
        self.views
            .get_or_try_init(|| async {
                for file in crate::views::SHARED {
                    install_sql(&self.ctx, file).await?;
                }
                Ok::<(), Error>(())
            })
            .await?;
        Ok(())
    }

    /// The schema of `attribution_result`: of the views, installed here if need be.
    async fn attribution_schema(&self) -> Result<SchemaRef> {
        let string_views = self
            .ctx
            .state()
            .config()
            .options()
            .sql_parser
            .map_string_types_to_utf8view;
        let cached = &ATTRIBUTION_SCHEMA[usize::from(string_views)];
        if let Some(schema) = cached.get() {
            return Ok(schema.clone());
        }
        if !self.views.initialized() {
            // Customers' views need the attribution table this schema is for: not yet.
            install_sql(&self.ctx, SqlFile::Journeys).await?;
            install_sql(&self.ctx, SqlFile::Attribution).await?;
        }
        let frame = self.ctx.table("attribution_result").await?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        Ok(cached.get_or_init(|| schema).clone())
    }

    /// The schema of a Parquet file as the lake's tables read it (only its footer is read).
    async fn file_schema(&self, key: &object_store::path::Path) -> Result<SchemaRef> {
        use datafusion::datasource::file_format::FileFormat;
        use object_store::ObjectStoreExt;
        // By full key on the root store, as the listing tables read (a prefixed store's
        // metadata carries the full key, which it would prefix again).
        let (store, prefix) = self.lake.root_store();
        let meta = store
            .head(&format!("{prefix}{key}").into())
            .await
            .map_err(throughline_lake::Error::from)?;
        let schema = ParquetFormat::default()
            .infer_schema(&self.ctx.state(), &store, &[meta])
            .await?;
        Ok(schema)
    }

    /// The session, with the tenant's tables; the SQL views are installed at their first
    /// use by a report (or [`Engine::sql`]).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Registers the committed attribution output, or an empty table of the same shape
    /// before the first job.
    pub(crate) async fn register_attribution(&mut self) -> Result<()> {
        let files = self
            .lake
            .table_files(ATTRIBUTION_TABLE, &self.tenant, &self.as_of)
            .await?;
        // The files were written from `attribution_result`'s plan: the first one's footer
        // has its schema (one small read, where planning the views takes a while).
        let schema = match files.files.first() {
            Some(first) => self.file_schema(&first.key).await?,
            None => self.attribution_schema().await?,
        };
        let provider: Arc<dyn TableProvider> = if files.files.is_empty() {
            Arc::new(MemTable::try_new(schema, vec![vec![]])?)
        } else {
            let url = self.register_snapshot(ATTRIBUTION_TABLE, &files)?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(schema);
            Arc::new(ListingTable::try_new(config)?)
        };
        self.files.insert(ATTRIBUTION_TABLE.to_owned(), files);
        self.ctx.deregister_table(ATTRIBUTION_TABLE)?;
        self.ctx.register_table(ATTRIBUTION_TABLE, provider)?;
        // Views over the attribution table bind it when created: (re)create them now.
        if self.views.initialized() {
            install_sql(&self.ctx, SqlFile::Customers).await?;
        }
        Ok(())
    }

    /// The version of `attribution` the session reads (`None`: no job has committed).
    pub fn attribution_version(&self) -> Option<u64> {
        self.files
            .get(ATTRIBUTION_TABLE)
            .and_then(|f| f.version)
            .filter(|_| self.has_attribution())
    }

    /// Whether a job has committed attribution rows for the tenant.
    pub(crate) fn has_attribution(&self) -> bool {
        self.files
            .get(ATTRIBUTION_TABLE)
            .is_some_and(|f| !f.files.is_empty())
    }

    pub(crate) fn require_attribution(&self) -> Result<()> {
        if self.has_attribution() {
            Ok(())
        } else {
            Err(Error::NoAttribution(self.tenant.to_string()))
        }
    }
}

/// The session settings every engine (and the SQL tests' session) plans with.
/// `enable_leaf_expression_pushdown` is off: it moves struct field reads towards the scans,
/// and would take `classify_touchpoint(...)['channel']` and its three siblings below the
/// job's journey filter, classifying every touchpoint four times instead of the journeys'
/// touchpoints once (no table of ours has struct columns for it to help with).
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .with_information_schema(true);
    config
        .options_mut()
        .optimizer
        .enable_leaf_expression_pushdown = false;
    config
}

/// Plans that fit a bounded pool, applied only when one is set (the unbounded default keeps
/// DataFusion's defaults). Measured on the attribution job, see docs/BENCHMARKS.md.
/// - `datafusion.sql_parser.map_string_types_to_utf8view = false`: `VARCHAR` in the SQL
///   (`CAST(NULL AS VARCHAR)`) plans as `Utf8`, not `Utf8View`. A view array taken or
///   sliced from a large batch keeps, and is charged for, all of that batch's string
///   buffers: a sort was asked for 160-330 MB for a first batch of a few MB and failed
///   with pools of 1 GiB and less. The result's values are the same; its files store those
///   columns as `string` instead of `string_view` in their Arrow schema.
/// - `datafusion.optimizer.hash_join_single_partition_threshold` = a quarter of the pool: a
///   hash join one of whose sides is known to be smaller than that builds its
///   (unspillable) table on that side, where the default (1 MiB) left the job's last join
///   building on its large windowed side, whose size the planner does not know.
fn tune_for_memory_limit(config: &mut SessionConfig, pool_bytes: usize) {
    let options = config.options_mut();
    options.sql_parser.map_string_types_to_utf8view = false;
    options.optimizer.hash_join_single_partition_threshold = pool_bytes / 4;
}

/// Memory for query execution: unbounded, unless a limit is given; then operators that
/// can spill (sorts, aggregations) spill to the spill directory (default: the OS temp
/// directory) once their fair share of the pool is used.
fn runtime(limits: &EngineSettings) -> Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new();
    if let Some(bytes) = limits.memory_limit {
        builder = builder.with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            std::num::NonZeroUsize::new(5).expect("non-zero"),
        )));
    }
    if let Some(dir) = &limits.spill_dir {
        builder = builder.with_temp_file_path(dir);
    }
    Ok(builder.build_arc()?)
}

/// An input table over the tenant's directory of a snapshot store, partitioned by `date`.
fn input_table(url: &ListingTableUrl, table: Table) -> Result<Arc<dyn TableProvider>> {
    let url = url.clone();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("date".to_owned(), DataType::Date32)]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(table.schema());
    Ok(Arc::new(ListingTable::try_new(config)?))
}

#[cfg(test)]
mod tests {
    use super::tune_for_memory_limit;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::prelude::{SessionConfig, SessionContext};

    #[tokio::test]
    async fn a_memory_limit_plans_varchar_as_utf8_and_small_sides_as_build_sides() {
        let mut config = SessionConfig::new();
        tune_for_memory_limit(&mut config, 512 << 20);
        assert_eq!(
            config
                .options()
                .optimizer
                .hash_join_single_partition_threshold,
            128 << 20
        );
        let ctx = SessionContext::new_with_config(config);
        let frame = ctx.sql("SELECT CAST(NULL AS VARCHAR) AS s").await.unwrap();
        assert_eq!(frame.schema().field(0).data_type(), &DataType::Utf8);
        let unbounded = SessionContext::new();
        let frame = unbounded
            .sql("SELECT CAST(NULL AS VARCHAR) AS s")
            .await
            .unwrap();
        assert_eq!(frame.schema().field(0).data_type(), &DataType::Utf8View);
    }
}
