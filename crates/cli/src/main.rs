//! `throughline`: the command line over the core library. Each command is thin wiring:
//! parse arguments, call the library's step, print the answer.

mod costs;
mod import;
mod output;
mod plan;
mod replay;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use throughline_engine::{Engine, FunnelGroup, Grouping, JobSettings, KpiGroup, KpiQuery};
use throughline_http::listener::ConnectionLimits;
use throughline_lake::state::{KeyScope, StateStore, add_tenant, issue_api_key};
use throughline_lake::{AsOf, Lake, Migration};
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::field::parse_date;
use throughline_model::table::Table;
use throughline_settings::{CHANNELS_OBJECT, CONFIG_OBJECT, Settings, TenantsConfig};

use crate::output::Format;

#[derive(Parser)]
#[command(
    name = "throughline",
    version,
    about = "End-to-end marketing attribution: ad spend -> click -> lead -> deal -> repeat sale"
)]
struct Cli {
    /// The lake: a local directory or s3://bucket/prefix [env THROUGHLINE_LAKE; default ./lake].
    #[arg(long, global = true)]
    lake: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct TenantArg {
    /// Tenant id (a-z, 0-9, '-', '_') [env THROUGHLINE_TENANT].
    #[arg(long)]
    tenant: Option<String>,
}

#[derive(clap::Args)]
struct RulesArg {
    /// Channel rules (TOML, see docs/CHANNELS.md) [env THROUGHLINE_CHANNELS]; by default
    /// the lake's deployed copy (`config push --channels`), else the built-in GA4 rules.
    #[arg(long)]
    channels: Option<PathBuf>,
}

/// What a command that runs the engine works on: one tenant, classified by channel rules.
#[derive(clap::Args)]
struct EngineArgs {
    #[command(flatten)]
    tenant: TenantArg,
    #[command(flatten)]
    rules: RulesArg,
}

#[derive(clap::Args)]
struct AsOfArg {
    /// Read the lake as it was: a version of the attribution table (e.g. 12; the other
    /// tables as they were when it was committed), a time (2026-11-30T18:00:00Z) or a
    /// day (2026-11-30, its end in UTC). See docs/LAKE.md, "Versions".
    #[arg(long)]
    as_of: Option<String>,
}

impl AsOfArg {
    fn parse(&self) -> Result<AsOf> {
        Ok(match &self.as_of {
            Some(text) => text.parse()?,
            None => AsOf::Latest,
        })
    }
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
        /// Calling code for national-format phone numbers, e.g. 380 for Ukraine [env THROUGHLINE_PHONE_COUNTRY].
        #[arg(long)]
        phone_country: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Build the attribution table for all models (replaces the window's results atomically).
    Attribute {
        #[command(flatten)]
        on: EngineArgs,
        #[command(flatten)]
        window: WindowArg,
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
        on: EngineArgs,
        #[command(flatten)]
        as_of: AsOfArg,
        #[command(flatten)]
        window: WindowArg,
        /// The attribution model (docs/MODELS.md): first_touch, last_touch, last_non_direct,
        /// linear, position_based or time_decay.
        #[arg(long, default_value = throughline_engine::DEFAULT_MODEL)]
        model: String,
        /// channel, source_medium, campaign, ad_group or platform (`-` for `_` works too).
        #[arg(long, default_value = "channel", value_parser = KpiGroup::parse)]
        group_by: KpiGroup,
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
        on: EngineArgs,
        #[command(flatten)]
        as_of: AsOfArg,
        /// all, channel or manager.
        #[arg(long, default_value = "all", value_parser = FunnelGroup::parse)]
        group_by: FunnelGroup,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Customers, repeat purchases and LTV by acquisition channel.
    Ltv {
        #[command(flatten)]
        on: EngineArgs,
        #[command(flatten)]
        as_of: AsOfArg,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Where next period's budget goes: a response curve per channel (carry-over and
    /// saturation) fitted to spend and attributed margin, marginal ROI, and the split that
    /// maximises predicted margin within bounds, with its caveats (docs/PLANNER.md).
    Plan {
        #[command(flatten)]
        on: EngineArgs,
        #[command(flatten)]
        as_of: AsOfArg,
        #[command(flatten)]
        args: plan::PlanArgs,
    },
    /// Run one read-only SQL query over the tenant's tables and views.
    Sql {
        #[command(flatten)]
        on: EngineArgs,
        #[command(flatten)]
        as_of: AsOfArg,
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
        /// Calling code for national-format phone numbers in leads [env THROUGHLINE_PHONE_COUNTRY].
        #[arg(long)]
        phone_country: Option<String>,
        /// Tenants' webhook secrets, field mappings and tracked links (TOML, docs/CONFIG.md)
        /// [env THROUGHLINE_CONFIG]; without it, the lake's deployed copy if any.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Connections served at once; more wait in the listen backlog (docs/HTTP.md).
        #[arg(long, default_value_t = ConnectionLimits::default().max_connections)]
        max_connections: usize,
        /// Seconds a request's head may take to arrive, and a keep-alive connection may idle.
        #[arg(long, default_value_t = ConnectionLimits::default().header_timeout.as_secs())]
        header_timeout: u64,
        /// Seconds a request's whole body may take to arrive after its head (else 408).
        #[arg(long, default_value_t = ConnectionLimits::default().body_timeout.as_secs())]
        body_timeout: u64,
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
        /// Only this tenant's entries [env THROUGHLINE_TENANT].
        #[arg(long)]
        tenant: Option<String>,
        /// The config to read deliveries with (TOML) [env THROUGHLINE_CONFIG]; without it,
        /// the lake's deployed copy.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Calling code for national-format phone numbers [env THROUGHLINE_PHONE_COUNTRY].
        #[arg(long)]
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
    /// The lake's Delta tables: convert an older lake, compact, delete old files.
    Lake {
        #[command(subcommand)]
        action: LakeAction,
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
enum LakeAction {
    /// Turn a lake written before Delta Lake (plain Parquet and manifests) into Delta
    /// tables in place, without rewriting its files; tables that are Delta already are
    /// left alone.
    Migrate,
    /// Merge small files (Delta OPTIMIZE) and drop rows a retried ingest stored twice,
    /// for one tenant or every tenant in the state store.
    Optimize {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Delete stored rows by key (touchpoints and deal_events by event_id, leads by
    /// lead_id, orders by order_id): a row that should never have been stored. Correct a
    /// row by deleting it and importing the corrected one; run `attribute` after either.
    Delete {
        #[command(flatten)]
        tenant: TenantArg,
        /// touchpoints, leads, deal_events or orders.
        #[arg(long)]
        table: String,
        /// The keys of the rows to delete.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Delete files that no version within the retention period needs (removed by a
    /// commit, or left by a job that never committed).
    Vacuum {
        /// Keep files needed by versions of the last this many hours
        /// [env THROUGHLINE_VACUUM_RETENTION_HOURS, default 168].
        #[arg(long)]
        retention_hours: Option<u64>,
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
        /// The config with the tenant's ad accounts (TOML, docs/CONFIG.md)
        /// [env THROUGHLINE_CONFIG]; without it, the lake's deployed copy.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Parse and check a config; names the file and the setting that is wrong.
    Check { file: PathBuf },
    /// Check a config and store it in the lake, where the functions read it at start;
    /// `--channels FILE` stores channel rules the same way.
    Push {
        file: Option<PathBuf>,
        /// Channel rules (TOML, docs/CHANNELS.md) for the attribute and query functions.
        #[arg(long)]
        channels: Option<PathBuf>,
    },
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
    /// Create a key: `ingest` for web pages and forms (touchpoints and leads; public),
    /// `server` for back offices and CRM exports (also deal events and orders; keep it
    /// secret), `read` for the query API.
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
    Server,
}

/// The stack of every thread that plans or runs a query. Deeply nested SQL (a chain of
/// 10,000 `+`, as a BI tool's generated filter can be) is planned, and its tree dropped,
/// by recursion: 8 MiB overflowed and aborted the process. Only address space is reserved;
/// pages are used as they are touched.
const THREAD_STACK: usize = 256 << 20;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("THROUGHLINE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    std::thread::Builder::new()
        .name("throughline".into())
        .stack_size(THREAD_STACK)
        .spawn(move || run_to_exit(cli))
        .expect("the main thread starts")
        .join()
        .unwrap_or(ExitCode::FAILURE)
}

fn run_to_exit(cli: Cli) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    // Settings are read once, here; flags win over the environment.
    let mut settings = Settings::from_env()?;
    settings.lake = Some(
        cli.lake
            .or(settings.lake.take())
            .unwrap_or_else(|| "./lake".into()),
    );
    let settings = settings;
    match cli.command {
        Command::Import {
            tenant,
            table,
            phone_country,
            files,
        } => {
            let lake = open_lake(&settings)?;
            let tenant = tenant_id(&tenant, &settings)?;
            let table = Table::from_name(&table)?;
            let phone_country = phone_country.or(settings.phone_country.clone());
            let clean = import::import_files(&lake, &tenant, table, phone_country, &files).await?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Attribute {
            on,
            window,
            lookback_days,
            half_life_days,
            no_rollups,
        } => {
            let lake = open_lake(&settings)?;
            let mut engine = open_engine(&settings, &lake, &on, AsOf::Latest).await?;
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
                report.version
            );
            if let Some(rollups) = &report.rollups {
                println!(
                    "kpi rollups written: {}; rollup table versions {:?}",
                    rollups
                        .rows
                        .iter()
                        .map(|(name, rows)| format!("{name} {rows} rows"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    rollups.versions
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Kpi {
            on,
            as_of,
            window,
            model,
            group_by,
            currency,
            live,
            format,
        } => {
            let lake = open_lake(&settings)?;
            let engine = open_engine(&settings, &lake, &on, as_of.parse()?).await?;
            let (from, to) = window_dates(&window)?.unwrap_or((None, None));
            let query = KpiQuery {
                model,
                group_by,
                from,
                to,
                currency,
                live,
            };
            output::print(&engine.kpi(&query).await?, format)?;
            output::print_caveats(&engine.kpi_caveats(), format);
            Ok(ExitCode::SUCCESS)
        }
        Command::Funnel {
            on,
            as_of,
            group_by,
            format,
        } => {
            let lake = open_lake(&settings)?;
            let engine = open_engine(&settings, &lake, &on, as_of.parse()?).await?;
            let report = engine.funnel(group_by).await?;
            output::print_titled("Funnel by stage", &report.stages, format)?;
            output::print_titled("Lost deals by reason", &report.loss_reasons, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ltv { on, as_of, format } => {
            let lake = open_lake(&settings)?;
            let engine = open_engine(&settings, &lake, &on, as_of.parse()?).await?;
            output::print(&engine.ltv().await?, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { on, as_of, args } => {
            let (answer, title) = match args.input() {
                Some(file) => (
                    args.plan_from_file(file)?,
                    format!("Budget plan from {}", file.display()),
                ),
                None => {
                    let lake = open_lake(&settings)?;
                    let engine = open_engine(&settings, &lake, &on, as_of.parse()?).await?;
                    let answer = throughline_planner::plan_for_tenant(
                        &engine,
                        &args.lake_plan(),
                        &args.request()?,
                    )
                    .await?;
                    (answer, format!("Budget plan for {}", engine.tenant()))
                }
            };
            args.print(&answer, &title)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql {
            on,
            as_of,
            query,
            format,
        } => {
            let lake = open_lake(&settings)?;
            let engine = open_engine(&settings, &lake, &on, as_of.parse()?).await?;
            output::print(&engine.sql(&query).await?, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { samples, keep } => demo(&settings, &samples, keep).await,
        Command::Serve {
            addr,
            rules,
            phone_country,
            config,
            max_connections,
            header_timeout,
            body_timeout,
        } => {
            let lake = open_lake(&settings)?;
            let config = tenants_config(&settings, &lake, config).await?;
            let rules = channel_rules(&settings, &lake, &rules).await?;
            let phone_country = phone_country.or(settings.phone_country.clone());
            let state = state_store(&settings, &lake).await;
            let limits = settings.engine.clone();
            let connections = ConnectionLimits {
                max_connections,
                header_timeout: Duration::from_secs(header_timeout.max(1)),
                body_timeout: Duration::from_secs(body_timeout.max(1)),
            };
            serve::run(
                lake,
                state,
                &addr,
                rules,
                limits,
                phone_country,
                config,
                connections,
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            source,
            from,
            tenant,
            config,
            phone_country,
        } => {
            let lake = open_lake(&settings)?;
            let config = tenants_config(&settings, &lake, config).await?;
            let tenant = tenant
                .or(settings.tenant.clone())
                .map(|t| TenantId::parse(&t))
                .transpose()?;
            let phone_country = phone_country.or(settings.phone_country.clone());
            let state = state_store(&settings, &lake).await;
            let from = chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                .with_context(|| format!("--from {from:?}: give a date as YYYY-MM-DD"))?;
            let clean = replay::run(
                lake,
                state,
                config,
                phone_country,
                &source,
                tenant.as_ref(),
                from,
            )
            .await?;
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
            let lake = open_lake(&settings)?;
            let config = tenants_config(&settings, &lake, config).await?;
            let tenant = tenant_id(&tenant, &settings)?;
            let state = state_store(&settings, &lake).await;
            let policy = throughline_costs::PullPolicy::from_settings(&settings.ads);
            let puller = throughline_costs::Puller::new(lake, state, policy)?;
            let clean = costs::pull(
                puller,
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
        Command::Lake { action } => {
            let lake = open_lake(&settings)?;
            lake_command(&settings, &lake, action).await?;
            Ok(ExitCode::SUCCESS)
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
            ConfigAction::Push { file, channels } => {
                if file.is_none() && channels.is_none() {
                    anyhow::bail!("give a config FILE, --channels FILE, or both");
                }
                let lake = open_lake(&settings)?;
                if let Some(file) = &file {
                    parse_config_offline(file)?;
                    push_file(&lake, file, CONFIG_OBJECT).await?;
                }
                if let Some(rules) = &channels {
                    ChannelRules::from_file(rules)
                        .with_context(|| format!("checking channel rules {}", rules.display()))?;
                    push_file(&lake, rules, CHANNELS_OBJECT).await?;
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Tenants { action } => {
            let lake = open_lake(&settings)?;
            let state = state_store(&settings, &lake).await;
            match action {
                TenantAction::Add { tenant, name } => {
                    let id = tenant_id(&tenant, &settings)?;
                    add_tenant(state.as_ref(), &id, &name).await?;
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
            let lake = open_lake(&settings)?;
            let state = state_store(&settings, &lake).await;
            let id = tenant_id(&tenant, &settings)?;
            let scope = match scope {
                Scope::Ingest => KeyScope::Ingest,
                Scope::Read => KeyScope::Read,
                Scope::Server => KeyScope::Server,
            };
            println!("{}", issue_api_key(state.as_ref(), &id, scope).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open_lake(settings: &Settings) -> Result<Lake> {
    let location = settings.lake.as_deref().unwrap_or("./lake");
    Lake::open(location).with_context(|| format!("opening the lake at {location}"))
}

async fn state_store(settings: &Settings, lake: &Lake) -> Arc<dyn StateStore> {
    throughline_lake::state_store(lake, settings.state_table.as_deref()).await
}

fn tenant_id(arg: &TenantArg, settings: &Settings) -> Result<TenantId> {
    let Some(tenant) = arg.tenant.as_ref().or(settings.tenant.as_ref()) else {
        anyhow::bail!("no tenant: give --tenant ID (or set THROUGHLINE_TENANT)");
    };
    Ok(TenantId::parse(tenant)?)
}

async fn channel_rules(
    settings: &Settings,
    lake: &Lake,
    arg: &RulesArg,
) -> Result<Arc<ChannelRules>> {
    let settings = Settings {
        channels: arg.channels.clone().or(settings.channels.clone()),
        ..settings.clone()
    };
    Ok(settings.channel_rules(lake).await?)
}

async fn lake_command(settings: &Settings, lake: &Lake, action: LakeAction) -> Result<()> {
    match action {
        LakeAction::Migrate => {
            for (table, outcome) in lake.migrate().await? {
                match outcome {
                    Migration::Converted { files } => {
                        println!(
                            "{table}: converted to a Delta table ({files} existing files in its first commit)"
                        )
                    }
                    Migration::AlreadyDelta => {
                        println!("{table}: already a Delta table, left alone")
                    }
                    Migration::Skipped { reason } => println!("{table}: skipped ({reason})"),
                }
            }
        }
        LakeAction::Optimize { tenant } => {
            let tenants = match tenant {
                Some(id) => vec![TenantId::parse(&id)?],
                None => {
                    let state = state_store(settings, lake).await;
                    let mut all = Vec::new();
                    for tenant in state.tenants().await? {
                        all.push(TenantId::parse(&tenant.id)?);
                    }
                    all
                }
            };
            let progress = indicatif::ProgressBar::new((tenants.len() * Table::ALL.len()) as u64);
            for tenant in &tenants {
                for table in Table::ALL {
                    progress.set_message(format!("{tenant} {}", table.name()));
                    let report = lake.compact(table, tenant).await?;
                    progress.inc(1);
                    if report.files_before != report.files_after || report.duplicates_dropped > 0 {
                        progress.println(format!(
                            "{tenant} {}: {} files -> {}, {} duplicate rows dropped",
                            table.name(),
                            report.files_before,
                            report.files_after,
                            report.duplicates_dropped
                        ));
                    }
                }
            }
            progress.finish_and_clear();
            println!("optimized {} tenant(s)", tenants.len());
        }
        LakeAction::Delete {
            tenant,
            table,
            keys,
        } => {
            let tenant = tenant_id(&tenant, settings)?;
            let table = Table::from_name(&table)?;
            let deleted = lake.delete_rows(table, &tenant, &keys).await?;
            for (key, date) in &deleted {
                println!(
                    "{}: deleted {key} (of {})",
                    table.name(),
                    throughline_model::field::date_string(*date)
                );
            }
            let missing: Vec<&String> = keys
                .iter()
                .filter(|k| !deleted.iter().any(|(d, _)| d == *k))
                .collect();
            if !missing.is_empty() {
                anyhow::bail!(
                    "no {} row of tenant {tenant} has the key(s) {missing:?}; nothing else was changed",
                    table.name()
                );
            }
            println!(
                "run `throughline attribute --tenant {tenant}` so attribution and KPIs no longer count them"
            );
        }
        LakeAction::Vacuum { retention_hours } => {
            let retention = match retention_hours {
                Some(hours) => std::time::Duration::from_secs(hours * 3600),
                None => settings.vacuum_retention(),
            };
            for table in lake.table_names().await? {
                let report = lake.vacuum(&table, retention).await?;
                println!("{table}: {} files deleted", report.files_deleted);
            }
        }
    }
    Ok(())
}

async fn open_engine(
    settings: &Settings,
    lake: &Lake,
    on: &EngineArgs,
    as_of: AsOf,
) -> Result<Engine> {
    let rules = channel_rules(settings, lake, &on.rules).await?;
    Ok(Engine::open_as_of(
        lake,
        &tenant_id(&on.tenant, settings)?,
        rules,
        &settings.engine,
        as_of,
    )
    .await?)
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
async fn demo(
    settings: &Settings,
    samples: &std::path::Path,
    keep: Option<PathBuf>,
) -> Result<ExitCode> {
    if !samples.join("touchpoints.csv").exists() {
        anyhow::bail!(
            "no demo data in {}: run from a checkout of the repository or pass --samples DIR",
            samples.display()
        );
    }
    let temp = tempfile::tempdir()?;
    let kept = keep.is_some();
    let location = keep.unwrap_or_else(|| temp.path().to_path_buf());
    let lake = Lake::open(&location.display().to_string())
        .with_context(|| format!("opening the demo lake at {}", location.display()))?;
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
    // The demo business is classified by the built-in rules, whatever the environment says.
    let rules = Arc::new(ChannelRules::builtin());
    let mut engine = Engine::open(&lake, &tenant, rules, &settings.engine).await?;
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
    // The demo business spent about 107,000 UAH in its last 28 days: plan a little more.
    let budget = throughline_planner::PlanRequest {
        budget: 110_000.0,
        resamples: 20,
        ..Default::default()
    };
    let plan = throughline_planner::plan_for_tenant(&engine, &Default::default(), &budget).await?;
    output::print_titled(
        "Budget plan: 110,000 UAH for the next 28 days (model: last_non_direct)",
        &[plan.to_batch()?],
        Format::Table,
    )?;
    output::print_caveats(&plan.caveats(), Format::Table);
    println!();
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

/// The tenants' config named on the command line, else by the settings, else the lake's
/// deployed copy, else none.
async fn tenants_config(
    settings: &Settings,
    lake: &Lake,
    file: Option<PathBuf>,
) -> Result<TenantsConfig> {
    let settings = Settings {
        config: file.or(settings.config.clone()),
        ..settings.clone()
    };
    Ok(settings.tenants(lake).await?)
}

/// Stores a checked file in the lake, where the functions read it at start.
async fn push_file(lake: &Lake, file: &std::path::Path, object: &str) -> Result<()> {
    let body = std::fs::read(file)?;
    lake.put(&object_store::path::Path::from(object), body.into())
        .await?;
    println!(
        "{} stored as {}/{object}; functions read it at their next start",
        file.display(),
        lake.location()
    );
    Ok(())
}

/// Checks a config file without fetching its `ssm:` secrets (they are fetched where it runs).
fn parse_config_offline(file: &std::path::Path) -> Result<TenantsConfig> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the config {}", file.display()))?;
    Ok(TenantsConfig::parse(&text, &file.display().to_string())?)
}
