//! `throughline`: the command line over the core library. Each command is thin wiring:
//! parse arguments, call the library's step, print the answer.

mod costs;
mod import;
mod output;
mod replay;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use throughline_engine::{Engine, FunnelGroup, JobSettings, KpiGroup, KpiQuery};
use throughline_http::config::{CONFIG_OBJECT, IngestConfig};
use throughline_lake::Lake;
use throughline_lake::state::{ApiKeyGrant, KeyScope, TenantRecord, hash_api_key, new_api_key};
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::field::parse_date;
use throughline_model::table::Table;

use crate::output::Format;

#[derive(Parser)]
#[command(
    name = "throughline",
    version,
    about = "End-to-end marketing attribution: ad spend -> click -> lead -> deal -> repeat sale"
)]
struct Cli {
    /// The lake: a local directory or s3://bucket/prefix.
    #[arg(
        long,
        global = true,
        env = "THROUGHLINE_LAKE",
        default_value = "./lake"
    )]
    lake: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct TenantArg {
    /// Tenant id (a-z, 0-9, '-', '_').
    #[arg(long, env = "THROUGHLINE_TENANT")]
    tenant: String,
}

#[derive(clap::Args)]
struct RulesArg {
    /// Channel rules (TOML, see docs/CHANNELS.md); the built-in GA4 rules by default.
    #[arg(long, env = "THROUGHLINE_CHANNELS")]
    channels: Option<PathBuf>,
}

#[derive(clap::Args)]
struct WindowArg {
    /// First date (YYYY-MM-DD, UTC), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Last date (YYYY-MM-DD, UTC), inclusive.
    #[arg(long)]
    to: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Import CSV (header row), NDJSON or Parquet files into a table (see docs/IMPORT.md).
    Import {
        #[command(flatten)]
        tenant: TenantArg,
        /// touchpoints, leads, deal_events, orders, ad_costs, fx_rates or ad_clicks.
        #[arg(long)]
        table: String,
        /// Calling code for national-format phone numbers, e.g. 380 for Ukraine.
        #[arg(long, env = "THROUGHLINE_PHONE_COUNTRY")]
        phone_country: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Build the attribution table for all models (replaces the window's results atomically).
    Attribute {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        window: WindowArg,
        #[command(flatten)]
        rules: RulesArg,
        /// Touchpoints older than this before a conversion are not in its journey.
        #[arg(long, default_value_t = 30)]
        lookback_days: i64,
        /// Half-life of the time_decay model.
        #[arg(long, default_value_t = 7.0)]
        half_life_days: f64,
        /// Do not write the KPI rollups after the job (KPIs are then computed from the
        /// tables until a job writes them; used to time the attribution alone).
        #[arg(long)]
        no_rollups: bool,
    },
    /// Cost, leads, won deals, revenue, margin, CPL, CAC, ROAS and ROI per group, money in
    /// one reporting currency.
    Kpi {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        window: WindowArg,
        #[command(flatten)]
        rules: RulesArg,
        /// first_touch, last_touch, last_non_direct, linear, position_based or time_decay.
        #[arg(long, default_value = throughline_engine::DEFAULT_MODEL)]
        model: String,
        #[arg(long, value_enum, default_value_t = GroupBy::Channel)]
        group_by: GroupBy,
        /// Reporting currency (ISO 4217, e.g. UAH); by default the single base of the
        /// tenant's fx_rates, else the one currency of all its costs and deals.
        #[arg(long)]
        currency: Option<String>,
        /// Compute from the tables instead of the KPI rollups of the last job (which do not
        /// yet hold costs or rates imported since: those imports drop them).
        #[arg(long)]
        live: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Deals per stage: entered, moved on, lost, open, conversion, median days; loss reasons.
    Funnel {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        rules: RulesArg,
        #[arg(long, value_enum, default_value_t = FunnelBy::All)]
        group_by: FunnelBy,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Customers, repeat purchases and LTV by acquisition channel.
    Ltv {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        rules: RulesArg,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run one read-only SQL query over the tenant's tables and views.
    Sql {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        rules: RulesArg,
        query: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Serve the ingest API (collect, webhooks) and the query API on one local port.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        #[command(flatten)]
        rules: RulesArg,
        /// Calling code for national-format phone numbers in leads.
        #[arg(long, env = "THROUGHLINE_PHONE_COUNTRY")]
        phone_country: Option<String>,
        /// Tenants' webhook secrets, field mappings and tracked links (TOML, docs/CONFIG.md);
        /// without it, the lake's deployed copy if any.
        #[arg(long, env = "THROUGHLINE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Re-process what quarantine/ kept, after fixing a mapping or a secret.
    Replay {
        /// `webhook-<crm>` (e.g. webhook-hubspot) for kept deliveries, or a table name
        /// (leads, touchpoints, …) for rejected records of imports and forms.
        #[arg(long)]
        source: String,
        /// Entries kept on or after this date (YYYY-MM-DD, UTC).
        #[arg(long)]
        from: String,
        /// Only this tenant's entries.
        #[arg(long, env = "THROUGHLINE_TENANT")]
        tenant: Option<String>,
        /// The config to read deliveries with (TOML); without it, the lake's deployed copy.
        #[arg(long, env = "THROUGHLINE_CONFIG")]
        config: Option<PathBuf>,
        /// Calling code for national-format phone numbers.
        #[arg(long, env = "THROUGHLINE_PHONE_COUNTRY")]
        phone_country: Option<String>,
    },
    /// Ad platforms' costs: pull them from the APIs (docs/ads/README.md).
    Costs {
        #[command(subcommand)]
        action: CostsAction,
    },
    /// Check a config file, or deploy it to the lake for the Lambda functions.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Register a tenant in the state store.
    Tenants {
        #[command(subcommand)]
        action: TenantAction,
    },
    /// Create API keys (printed once; only their hash is stored).
    Keys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Import the demo business (samplesdata/) into a fresh lake, attribute, show ROI and funnel.
    Demo {
        /// Where the sample files are.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samplesdata"))]
        samples: PathBuf,
        /// Keep the demo lake in this directory instead of a temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CostsAction {
    /// Pull the tenant's ad accounts (from its config's `ads` section) into `ad_costs`:
    /// each day of the window replaces that day's costs of the account.
    Pull {
        #[command(flatten)]
        tenant: TenantArg,
        /// Only this platform's accounts: google_ads, meta, tiktok or microsoft.
        #[arg(long)]
        platform: Option<String>,
        /// First day (YYYY-MM-DD); by default the day after the last pull, or
        /// `ads.lookback_days` ago if that is earlier (platforms restate recent days).
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD); today (UTC) by default.
        #[arg(long)]
        to: Option<String>,
        /// The config with the tenant's ad accounts (TOML, docs/CONFIG.md); without it, the
        /// lake's deployed copy.
        #[arg(long, env = "THROUGHLINE_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Parse and check a config; names the file and the setting that is wrong.
    Check { file: PathBuf },
    /// Check a config and store it in the lake, where the functions read it at start.
    Push { file: PathBuf },
}

#[derive(Subcommand)]
enum TenantAction {
    /// Add or rename a tenant.
    Add {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create a key: `ingest` for beacons, forms and webhooks; `read` for the query API.
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long, value_enum)]
        scope: Scope,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Scope {
    Ingest,
    Read,
}

#[derive(Clone, Copy, ValueEnum)]
enum GroupBy {
    Channel,
    SourceMedium,
    Campaign,
    AdGroup,
    Platform,
}

#[derive(Clone, Copy, ValueEnum)]
enum FunnelBy {
    All,
    Channel,
    Manager,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("THROUGHLINE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Import {
            tenant,
            table,
            phone_country,
            files,
        } => {
            let lake = open_lake(&cli.lake)?;
            let tenant = tenant_id(&tenant)?;
            let table = Table::from_name(&table)?;
            let clean = import::import_files(&lake, &tenant, table, phone_country, &files).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Attribute {
            tenant,
            window,
            rules,
            lookback_days,
            half_life_days,
            no_rollups,
        } => {
            let lake = open_lake(&cli.lake)?;
            let mut engine = open_engine(&lake, &tenant, &rules).await?;
            let settings = JobSettings {
                lookback_days,
                half_life_days,
                window: window_dates(&window)?
                    .and_then(|(from, to)| JobSettings::window_between(from, to)),
                rollups: !no_rollups,
            };
            let report = engine.run_attribution(&settings).await?;
            println!(
                "attributed {} conversions ({} rows, {} date partitions) for tenant {}; attribution version {}",
                report.conversions,
                report.rows,
                report.partitions,
                engine.tenant(),
                report.manifest_version
            );
            if let Some(rollups) = &report.rollups {
                println!(
                    "kpi rollups written: {}; rollups version {}",
                    rollups
                        .rows
                        .iter()
                        .map(|(name, rows)| format!("{name} {rows} rows"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    rollups.manifest_version
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Kpi {
            tenant,
            window,
            rules,
            model,
            group_by,
            currency,
            live,
            format,
        } => {
            let lake = open_lake(&cli.lake)?;
            let engine = open_engine(&lake, &tenant, &rules).await?;
            let (from, to) = window_dates(&window)?.unwrap_or((None, None));
            let query = KpiQuery {
                model,
                group_by: group_by.into(),
                from,
                to,
                currency,
                live,
            };
            output::print(&engine.kpi(&query).await?, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Funnel {
            tenant,
            rules,
            group_by,
            format,
        } => {
            let lake = open_lake(&cli.lake)?;
            let engine = open_engine(&lake, &tenant, &rules).await?;
            let report = engine.funnel(group_by.into()).await?;
            output::print_titled("Funnel by stage", &report.stages, format)?;
            output::print_titled("Lost deals by reason", &report.loss_reasons, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ltv {
            tenant,
            rules,
            format,
        } => {
            let lake = open_lake(&cli.lake)?;
            let engine = open_engine(&lake, &tenant, &rules).await?;
            output::print(&engine.ltv().await?, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql {
            tenant,
            rules,
            query,
            format,
        } => {
            let lake = open_lake(&cli.lake)?;
            let engine = open_engine(&lake, &tenant, &rules).await?;
            output::print(&engine.sql(&query).await?, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { samples, keep } => demo(&samples, keep).await,
        Command::Serve {
            addr,
            rules,
            phone_country,
            config,
        } => {
            let lake = open_lake(&cli.lake)?;
            let config = ingest_config(&lake, config.as_deref()).await?;
            serve::run(lake, &addr, channel_rules(&rules)?, phone_country, config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            source,
            from,
            tenant,
            config,
            phone_country,
        } => {
            let lake = open_lake(&cli.lake)?;
            let config = ingest_config(&lake, config.as_deref()).await?;
            let tenant = tenant.map(|t| TenantId::parse(&t)).transpose()?;
            let from = chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                .with_context(|| format!("--from {from:?}: give a date as YYYY-MM-DD"))?;
            let clean =
                replay::run(lake, config, phone_country, &source, tenant.as_ref(), from).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Costs {
            action:
                CostsAction::Pull {
                    tenant,
                    platform,
                    from,
                    to,
                    config,
                },
        } => {
            let lake = open_lake(&cli.lake)?;
            let config = ingest_config(&lake, config.as_deref()).await?;
            let tenant = TenantId::parse(&tenant.tenant)?;
            let clean = costs::pull(
                lake,
                &config,
                &tenant,
                platform.as_deref(),
                from.as_deref(),
                to.as_deref(),
            )
            .await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Config { action } => match action {
            ConfigAction::Check { file } => {
                let config = parse_config_offline(&file)?;
                println!(
                    "{}: {} tenant(s), config is valid",
                    file.display(),
                    config.tenants.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            ConfigAction::Push { file } => {
                let lake = open_lake(&cli.lake)?;
                parse_config_offline(&file)?;
                let body = std::fs::read(&file)?;
                lake.put(&object_store::path::Path::from(CONFIG_OBJECT), body.into())
                    .await?;
                println!(
                    "{} stored as {}/{CONFIG_OBJECT}; functions read it at their next start",
                    file.display(),
                    lake.location()
                );
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Tenants { action } => {
            let lake = open_lake(&cli.lake)?;
            let state = throughline_lake::state_from_env(&lake).await;
            match action {
                TenantAction::Add { tenant, name } => {
                    let id = tenant_id(&tenant)?;
                    let record = TenantRecord {
                        id: id.to_string(),
                        name,
                        created_at: chrono::Utc::now().to_rfc3339(),
                    };
                    state.put_tenant(&record).await?;
                    println!("tenant {id} saved");
                }
                TenantAction::List => {
                    for t in state.tenants().await? {
                        println!("{}\t{}\t{}", t.id, t.name, t.created_at);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            action: KeyAction::Create { tenant, scope },
        } => {
            let lake = open_lake(&cli.lake)?;
            let state = throughline_lake::state_from_env(&lake).await;
            let id = tenant_id(&tenant)?;
            if state.tenant(id.as_str()).await?.is_none() {
                anyhow::bail!(
                    "no tenant {id}: add it first with `throughline tenants add --tenant {id} --name NAME`"
                );
            }
            let scope = match scope {
                Scope::Ingest => KeyScope::Ingest,
                Scope::Read => KeyScope::Read,
            };
            let key = new_api_key();
            let grant = ApiKeyGrant {
                tenant: id.to_string(),
                scope,
                created_at: chrono::Utc::now().to_rfc3339(),
            };
            state.put_api_key(&hash_api_key(&key), &grant).await?;
            println!("{key}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl From<GroupBy> for KpiGroup {
    fn from(g: GroupBy) -> Self {
        match g {
            GroupBy::Channel => KpiGroup::Channel,
            GroupBy::SourceMedium => KpiGroup::SourceMedium,
            GroupBy::Campaign => KpiGroup::Campaign,
            GroupBy::AdGroup => KpiGroup::AdGroup,
            GroupBy::Platform => KpiGroup::Platform,
        }
    }
}

impl From<FunnelBy> for FunnelGroup {
    fn from(g: FunnelBy) -> Self {
        match g {
            FunnelBy::All => FunnelGroup::All,
            FunnelBy::Channel => FunnelGroup::Channel,
            FunnelBy::Manager => FunnelGroup::Manager,
        }
    }
}

fn open_lake(location: &str) -> Result<Lake> {
    Lake::open(location).with_context(|| format!("opening the lake at {location}"))
}

fn tenant_id(arg: &TenantArg) -> Result<TenantId> {
    Ok(TenantId::parse(&arg.tenant)?)
}

fn channel_rules(arg: &RulesArg) -> Result<Arc<ChannelRules>> {
    Ok(Arc::new(match &arg.channels {
        Some(path) => ChannelRules::from_file(path)
            .with_context(|| format!("loading channel rules {}", path.display()))?,
        None => ChannelRules::builtin(),
    }))
}

async fn open_engine(lake: &Lake, tenant: &TenantArg, rules: &RulesArg) -> Result<Engine> {
    Ok(Engine::open(lake, &tenant_id(tenant)?, channel_rules(rules)?).await?)
}

type DateWindow = (Option<i32>, Option<i32>);

fn window_dates(window: &WindowArg) -> Result<Option<DateWindow>> {
    let parse = |flag: &str, v: &Option<String>| -> Result<Option<i32>> {
        v.as_deref()
            .map(|d| parse_date(flag, d).map_err(|e| anyhow::anyhow!("--{e}")))
            .transpose()
    };
    let (from, to) = (parse("from", &window.from)?, parse("to", &window.to)?);
    Ok((from.is_some() || to.is_some()).then_some((from, to)))
}

/// The README's first command: the whole pipeline on the demo business.
async fn demo(samples: &std::path::Path, keep: Option<PathBuf>) -> Result<ExitCode> {
    if !samples.join("touchpoints.csv").exists() {
        anyhow::bail!(
            "no demo data in {}: run from a checkout of the repository or pass --samples DIR",
            samples.display()
        );
    }
    let temp = tempfile::tempdir()?;
    let kept = keep.is_some();
    let location = keep.unwrap_or_else(|| temp.path().to_path_buf());
    let lake = open_lake(&location.display().to_string())?;
    let tenant = TenantId::parse("demo")?;
    println!("Demo lake: {}\n", location.display());
    let mut clean = true;
    for table in Table::ALL {
        let file = samples.join(format!("{}.csv", table.name()));
        // The demo business has no sample for every table (fx_rates: all its money is UAH).
        if !file.exists() {
            continue;
        }
        clean &= import::import_files(&lake, &tenant, table, Some("380".into()), &[file]).await?;
    }
    let mut engine = Engine::open(&lake, &tenant, Arc::new(ChannelRules::builtin())).await?;
    let started = std::time::Instant::now();
    let report = engine.run_attribution(&JobSettings::default()).await?;
    println!(
        "\nAttributed {} conversions with 6 models in {:.2}s ({} rows).\n",
        report.conversions,
        started.elapsed().as_secs_f64(),
        report.rows
    );
    let query = KpiQuery::default();
    output::print_titled(
        "Channel ROI (model: last_non_direct; money in UAH)",
        &engine.kpi(&query).await?,
        Format::Table,
    )?;
    let campaigns = KpiQuery {
        group_by: KpiGroup::Campaign,
        model: "position_based".into(),
        ..KpiQuery::default()
    };
    output::print_titled(
        "Campaign ROI (model: position_based)",
        &engine.kpi(&campaigns).await?,
        Format::Table,
    )?;
    let funnel = engine.funnel(FunnelGroup::All).await?;
    output::print_titled("Funnel by stage", &funnel.stages, Format::Table)?;
    output::print_titled("Lost deals by reason", &funnel.loss_reasons, Format::Table)?;
    output::print_titled(
        "Repeat purchases and LTV by acquisition channel (first touch)",
        &engine.ltv().await?,
        Format::Table,
    )?;
    if kept {
        println!(
            "Try: throughline --lake {} kpi --tenant demo --group-by campaign --model time_decay",
            location.display()
        );
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The config named on the command line, else the lake's deployed copy, else none.
async fn ingest_config(lake: &Lake, file: Option<&std::path::Path>) -> Result<IngestConfig> {
    Ok(match file {
        Some(path) => IngestConfig::read_file(path).await?,
        // THROUGHLINE_CONFIG is unset here (clap read it into `file`): the lake's copy.
        None => IngestConfig::from_env_or_lake(lake).await?,
    })
}

/// Checks a config file without fetching its `ssm:` secrets (they are fetched where it runs).
fn parse_config_offline(file: &std::path::Path) -> Result<IngestConfig> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the config {}", file.display()))?;
    Ok(IngestConfig::parse(&text, &file.display().to_string())?)
}
