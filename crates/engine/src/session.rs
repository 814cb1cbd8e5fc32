//! One tenant's view of the lake as a DataFusion session: the input tables (Hive
//! partitioned by date), the committed attribution output, the channel functions and the
//! SQL views. Only this tenant's prefix is registered, so no query can read another's.

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
use throughline_lake::{Lake, table_prefix};
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::table::Table;
use throughline_settings::EngineSettings;
use url::Url;

use crate::reports::set_params;
use crate::sql_files::{SqlFile, install_sql};
use crate::{Error, JobSettings, Result, register_channel_functions, register_models};

/// The lake's object store is registered under this URL, whatever its backend, so table
/// paths look the same on a local disk and on S3.
const LAKE_URL: &str = "throughline://lake/";

pub const ATTRIBUTION_TABLE: &str = "attribution";

pub struct Engine {
    pub(crate) ctx: SessionContext,
    pub(crate) lake: Lake,
    pub(crate) tenant: TenantId,
    /// When the registered attribution was committed (`None`: no job yet). KPI rollups
    /// older than this are not used.
    pub(crate) attribution_committed_at: Option<String>,
    /// The views of journeys.sql, attribution.sql and customers.sql, installed at their
    /// first use ([`Engine::views`]): planning them is most of opening an engine, and a
    /// KPI answer from the rollups needs none of them.
    pub(crate) views: tokio::sync::OnceCell<()>,
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
        let mut config = session_config();
        if let Some(pool_bytes) = limits.memory_limit {
            tune_for_memory_limit(&mut config, pool_bytes);
        }
        let ctx = SessionContext::new_with_config_rt(config, runtime(limits)?);
        let (root, prefix) = lake.root_store();
        ctx.register_object_store(&Url::parse(LAKE_URL).expect("valid constant URL"), root);
        let lake_url = format!("{LAKE_URL}{prefix}");
        register_channel_functions(&ctx, rules);
        for table in Table::ALL {
            ctx.register_table(table.name(), input_table(&lake_url, table, tenant)?)?;
        }
        let mut engine = Self {
            ctx,
            lake: lake.clone(),
            tenant: tenant.clone(),
            attribution_committed_at: None,
            views: tokio::sync::OnceCell::new(),
        };
        set_params(&engine.ctx, JobSettings::default().params_batch()?)?;
        register_models(&engine.ctx)?;
        engine.register_attribution().await?;
        Ok(engine)
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
    async fn file_schema(&self, key: &str) -> Result<SchemaRef> {
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
        let manifest = self
            .lake
            .current_manifest(ATTRIBUTION_TABLE, &self.tenant)
            .await?;
        let committed_at = manifest.as_ref().map(|m| m.committed_at.clone());
        let files: Vec<String> = manifest
            .iter()
            .flat_map(|m| m.all_files())
            .map(str::to_owned)
            .collect();
        // The files were written from `attribution_result`'s plan: the first one's footer
        // has its schema (one small read, where planning the views takes a while).
        let schema = match files.first() {
            Some(first) => self.file_schema(first).await?,
            None => self.attribution_schema().await?,
        };
        let provider: Arc<dyn TableProvider> = if files.is_empty() {
            Arc::new(MemTable::try_new(schema, vec![vec![]])?)
        } else {
            let urls = files
                .iter()
                .map(|f| {
                    ListingTableUrl::parse(format!("{LAKE_URL}{}{f}", self.lake.root_store().1))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(schema);
            Arc::new(ListingTable::try_new(config)?)
        };
        self.attribution_committed_at = committed_at;
        self.ctx.deregister_table(ATTRIBUTION_TABLE)?;
        self.ctx.register_table(ATTRIBUTION_TABLE, provider)?;
        // Views over the attribution table bind it when created: (re)create them now.
        if self.views.initialized() {
            install_sql(&self.ctx, SqlFile::Customers).await?;
        }
        Ok(())
    }

    pub(crate) fn require_attribution(&self) -> Result<()> {
        if self.attribution_committed_at.is_some() {
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

/// An input table over `tables/<table>/tenant=<id>/`, partitioned by `date`.
fn input_table(lake_url: &str, table: Table, tenant: &TenantId) -> Result<Arc<dyn TableProvider>> {
    let url = ListingTableUrl::parse(format!("{lake_url}{}/", table_prefix(table.name(), tenant)))?;
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
