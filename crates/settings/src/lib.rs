//! Throughline's settings, in one typed value read once at a binary's edge
//! ([`Settings::from_env`]) and passed down: no library below the binaries reads the
//! environment. What each variable means is documented in docs/CONFIG.md; the tenants'
//! config (webhook secrets, mappings, links, ad accounts) is [`TenantsConfig`], loaded
//! through [`Settings::tenants`] with its `env:` and `ssm:` secrets looked up.

mod load;
mod secrets;
mod tenants;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use throughline_lake::Lake;
use throughline_model::channel::ChannelRules;
use throughline_model::contact::check_country_code;

pub use secrets::{SecretsSettings, SsmSections};
pub use tenants::{CONFIG_OBJECT, ConfigError, TenantConfig, TenantsConfig, TrackedLink};

/// Where the lake keeps the deployed channel rules (`throughline config push --channels`).
pub const CHANNELS_OBJECT: &str = "_config/channels.toml";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{variable}={value:?}: {reason}")]
    Variable {
        variable: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0} is not set: give s3://bucket/prefix or a directory")]
    NoLake(&'static str),
    #[error(transparent)]
    Lake(#[from] throughline_lake::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("channel rules {origin}: {source}")]
    Channels {
        origin: String,
        source: throughline_model::channel::ChannelRulesError,
    },
    #[error("channel rules {origin}: {source}")]
    ChannelsUnreadable {
        origin: String,
        source: throughline_lake::Error,
    },
}

pub type Result<T, E = SettingsError> = std::result::Result<T, E>;

/// Everything a binary is told by its environment (docs/CONFIG.md, "Settings").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `THROUGHLINE_LAKE`: a directory or `s3://bucket/prefix`.
    pub lake: Option<String>,
    /// `THROUGHLINE_STATE_TABLE`: a DynamoDB table; else the state store is embedded in the lake.
    pub state_table: Option<String>,
    /// `THROUGHLINE_TENANT`: the tenant CLI commands work on when `--tenant` is not given.
    pub tenant: Option<String>,
    /// `THROUGHLINE_CONFIG`: the tenants' config file; else the lake's deployed copy.
    pub config: Option<PathBuf>,
    /// `THROUGHLINE_CHANNELS`: channel rules (TOML); else the lake's deployed copy, else
    /// the built-in GA4 rules.
    pub channels: Option<PathBuf>,
    /// `THROUGHLINE_PHONE_COUNTRY`: calling code for national-format phones of tenants
    /// whose config names none.
    pub phone_country: Option<String>,
    pub secrets: SecretsSettings,
    pub engine: EngineSettings,
    pub ads: AdsPullSettings,
    /// `THROUGHLINE_RECOMPUTE_DAYS`: days the scheduled attribution job recomputes (35).
    pub recompute_days: i32,
    /// `THROUGHLINE_VACUUM_RETENTION_HOURS`: how long VACUUM keeps files no current version
    /// names; see [`Settings::vacuum_retention`].
    pub vacuum_retention_hours: Option<u64>,
}

/// Memory for the DataFusion engine (docs/BENCHMARKS.md measures what a limit does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineSettings {
    /// `THROUGHLINE_MEMORY_LIMIT`: the memory pool in bytes (`3G`, `512M` read too); unbounded by default.
    pub memory_limit: Option<usize>,
    /// `THROUGHLINE_SPILL_DIR`: where operators spill past the limit; the OS temp directory by default.
    pub spill_dir: Option<PathBuf>,
    /// `THROUGHLINE_SQL_TIMEOUT`: seconds an ad-hoc SQL query may run ([`Self::sql_time_limit`]).
    pub sql_timeout_secs: Option<u64>,
}

impl EngineSettings {
    /// Five minutes: a dashboard's query over a year of a large tenant takes seconds; a
    /// runaway one (a recursive CTE without end, a cross join) is stopped.
    pub const DEFAULT_SQL_TIMEOUT_SECS: u64 = 300;

    /// How long an ad-hoc SQL query may plan and run; `None` (set to 0): no limit.
    pub fn sql_time_limit(&self) -> Option<Duration> {
        match self
            .sql_timeout_secs
            .unwrap_or(Self::DEFAULT_SQL_TIMEOUT_SECS)
        {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        }
    }
}

/// Overrides of the ad-platform pull's timing (tests replay platforms with short pauses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdsPullSettings {
    /// `THROUGHLINE_ADS_BACKOFF_MS`: the first retry's backoff.
    pub backoff: Option<Duration>,
    /// `THROUGHLINE_ADS_POLL_MS`: the pause between polls of an asynchronous report.
    pub poll: Option<Duration>,
}

impl Settings {
    pub const DEFAULT_RECOMPUTE_DAYS: i32 = 35;
    /// Seven days, Delta Lake's own default: a query planned on an older version (or a
    /// report pinned to one) keeps its files that long.
    pub const DEFAULT_VACUUM_RETENTION_HOURS: u64 = 7 * 24;

    /// How long VACUUM keeps the files of older versions.
    pub fn vacuum_retention(&self) -> Duration {
        Duration::from_secs(
            3600 * self
                .vacuum_retention_hours
                .unwrap_or(Self::DEFAULT_VACUUM_RETENTION_HOURS),
        )
    }

    /// The settings from this process's environment; an error names the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from any source of variables (the environment, or a test's map). An
    /// empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let bad = |variable: &'static str, value: &str, reason: String| SettingsError::Variable {
            variable,
            value: value.to_owned(),
            reason,
        };
        let whole = |variable: &'static str, expected: &str| -> Result<Option<u64>> {
            get(variable)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad(variable, &v, expected.into()))
                })
                .transpose()
        };
        let millis = |variable: &'static str| -> Result<Option<Duration>> {
            Ok(whole(variable, "expected milliseconds")?.map(Duration::from_millis))
        };
        let phone_country = get("THROUGHLINE_PHONE_COUNTRY");
        if let Some(code) = &phone_country {
            check_country_code(code)
                .map_err(|e| bad("THROUGHLINE_PHONE_COUNTRY", code, e.to_string()))?;
        }
        let memory_limit = get("THROUGHLINE_MEMORY_LIMIT")
            .map(|v| {
                parse_bytes(&v).ok_or_else(|| {
                    bad(
                        "THROUGHLINE_MEMORY_LIMIT",
                        &v,
                        "expected bytes, e.g. 3221225472 or 3G".into(),
                    )
                })
            })
            .transpose()?;
        let ssm_sections = match get("THROUGHLINE_SSM_SECRETS") {
            Some(v) => SsmSections::parse(&v).map_err(|e| bad("THROUGHLINE_SSM_SECRETS", &v, e))?,
            None => SsmSections::All,
        };
        let recompute_days = match get("THROUGHLINE_RECOMPUTE_DAYS") {
            Some(v) => v
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    bad(
                        "THROUGHLINE_RECOMPUTE_DAYS",
                        &v,
                        "expected days, e.g. 35".into(),
                    )
                })?,
            None => Self::DEFAULT_RECOMPUTE_DAYS,
        };
        let sql_timeout_secs = whole(
            "THROUGHLINE_SQL_TIMEOUT",
            "expected whole seconds, e.g. 300 (0: no limit)",
        )?;
        let vacuum_retention_hours = whole(
            "THROUGHLINE_VACUUM_RETENTION_HOURS",
            "expected whole hours, e.g. 168",
        )?;
        Ok(Settings {
            lake: get("THROUGHLINE_LAKE"),
            state_table: get("THROUGHLINE_STATE_TABLE"),
            tenant: get("THROUGHLINE_TENANT"),
            config: get("THROUGHLINE_CONFIG").map(PathBuf::from),
            channels: get("THROUGHLINE_CHANNELS").map(PathBuf::from),
            phone_country,
            secrets: SecretsSettings {
                ssm_sections,
                prefix: get("THROUGHLINE_SECRETS_PREFIX"),
            },
            engine: EngineSettings {
                memory_limit,
                spill_dir: get("THROUGHLINE_SPILL_DIR").map(PathBuf::from),
                sql_timeout_secs,
            },
            ads: AdsPullSettings {
                backoff: millis("THROUGHLINE_ADS_BACKOFF_MS")?,
                poll: millis("THROUGHLINE_ADS_POLL_MS")?,
            },
            recompute_days,
            vacuum_retention_hours,
        })
    }

    /// The lake named by `THROUGHLINE_LAKE`, opened (no I/O yet).
    pub fn open_lake(&self) -> Result<Lake> {
        let location = self
            .lake
            .as_deref()
            .ok_or(SettingsError::NoLake("THROUGHLINE_LAKE"))?;
        Ok(Lake::open(location)?)
    }

    /// The tenants' config: the file of `THROUGHLINE_CONFIG` if set, else the lake's
    /// deployed copy, else none; its secrets looked up now.
    pub async fn tenants(&self, lake: &Lake) -> Result<TenantsConfig> {
        Ok(match &self.config {
            Some(path) => TenantsConfig::read_file(path, &self.secrets).await?,
            None => TenantsConfig::from_lake(lake, &self.secrets).await?,
        })
    }

    /// The channel rules: the file of `THROUGHLINE_CHANNELS` if set, else the lake's
    /// deployed copy ([`CHANNELS_OBJECT`]), else the built-in GA4 rules.
    pub async fn channel_rules(&self, lake: &Lake) -> Result<Arc<ChannelRules>> {
        if let Some(path) = &self.channels {
            return ChannelRules::from_file(path)
                .map(Arc::new)
                .map_err(|source| SettingsError::Channels {
                    origin: path.display().to_string(),
                    source,
                });
        }
        let origin = format!("{}/{CHANNELS_OBJECT}", lake.location());
        match lake
            .get_if_exists(&object_store::path::Path::from(CHANNELS_OBJECT))
            .await
        {
            Ok(Some(body)) => ChannelRules::from_toml(&String::from_utf8_lossy(&body))
                .map(Arc::new)
                .map_err(|source| SettingsError::Channels { origin, source }),
            Ok(None) => Ok(Arc::new(ChannelRules::builtin())),
            Err(source) => Err(SettingsError::ChannelsUnreadable { origin, source }),
        }
    }
}

/// `3221225472`, `3072M`, `3G` (K, M, G are powers of 1024; case-insensitive).
pub fn parse_bytes(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_uppercase()),
        _ => (text, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return None,
    };
    digits
        .trim()
        .parse::<usize>()
        .ok()?
        .checked_mul(1 << shift)
        .filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn every_variable_lands_in_its_field() {
        let s = settings(&[
            ("THROUGHLINE_LAKE", "s3://b/lake"),
            ("THROUGHLINE_STATE_TABLE", "state"),
            ("THROUGHLINE_CONFIG", "/etc/t.toml"),
            ("THROUGHLINE_CHANNELS", "channels.toml"),
            ("THROUGHLINE_PHONE_COUNTRY", "380"),
            ("THROUGHLINE_SSM_SECRETS", "crm"),
            ("THROUGHLINE_SECRETS_PREFIX", "/t/prod/"),
            ("THROUGHLINE_MEMORY_LIMIT", "3G"),
            ("THROUGHLINE_SPILL_DIR", "/tmp/spill"),
            ("THROUGHLINE_ADS_BACKOFF_MS", "5"),
            ("THROUGHLINE_ADS_POLL_MS", "7"),
            ("THROUGHLINE_RECOMPUTE_DAYS", "10"),
            ("THROUGHLINE_TENANT", ""),
        ])
        .unwrap();
        assert_eq!(s.lake.as_deref(), Some("s3://b/lake"));
        assert_eq!(s.state_table.as_deref(), Some("state"));
        assert_eq!(s.tenant, None, "an empty value is unset");
        assert_eq!(s.config, Some(PathBuf::from("/etc/t.toml")));
        assert_eq!(s.channels, Some(PathBuf::from("channels.toml")));
        assert_eq!(s.phone_country.as_deref(), Some("380"));
        assert_eq!(s.secrets.ssm_sections, SsmSections::Crm);
        assert_eq!(s.secrets.prefix.as_deref(), Some("/t/prod/"));
        assert_eq!(s.engine.memory_limit, Some(3 << 30));
        assert_eq!(s.engine.spill_dir, Some(PathBuf::from("/tmp/spill")));
        assert_eq!(s.ads.backoff, Some(Duration::from_millis(5)));
        assert_eq!(s.ads.poll, Some(Duration::from_millis(7)));
        assert_eq!(s.recompute_days, 10);
        let defaults = settings(&[]).unwrap();
        assert_eq!(defaults.recompute_days, 35);
        assert_eq!(defaults.secrets.ssm_sections, SsmSections::All);
        assert_eq!(defaults.engine, EngineSettings::default());
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (variable, value) in [
            ("THROUGHLINE_MEMORY_LIMIT", "1.5G"),
            ("THROUGHLINE_SSM_SECRETS", "some"),
            ("THROUGHLINE_ADS_POLL_MS", "soon"),
            ("THROUGHLINE_RECOMPUTE_DAYS", "-1"),
            ("THROUGHLINE_PHONE_COUNTRY", "+380"),
        ] {
            let e = settings(&[(variable, value)]).unwrap_err().to_string();
            assert!(e.starts_with(variable) && e.contains(value), "{e}");
        }
        let e = settings(&[]).unwrap().open_lake().unwrap_err().to_string();
        assert!(e.contains("THROUGHLINE_LAKE"), "{e}");
    }

    #[test]
    fn memory_limits_read_as_bytes() {
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("3G"), Some(3 << 30));
        assert_eq!(parse_bytes(" 512m "), Some(512 << 20));
        assert_eq!(parse_bytes("64K"), Some(64 << 10));
        for bad in ["", "G", "3X", "-1", "0", "1.5G"] {
            assert_eq!(parse_bytes(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn channel_rules_come_from_the_file_then_the_lake_then_the_builtin_set() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().display().to_string()).unwrap();
        let settings = Settings::default();
        settings
            .channel_rules(&lake)
            .await
            .expect("the built-in rules");
        lake.put(
            &object_store::path::Path::from(CHANNELS_OBJECT),
            "not = [valid".into(),
        )
        .await
        .unwrap();
        let e = settings.channel_rules(&lake).await.unwrap_err().to_string();
        assert!(e.contains(CHANNELS_OBJECT), "{e}");
        let file = dir.path().join("channels.toml");
        std::fs::write(&file, "also = [broken").unwrap();
        let from_file = Settings {
            channels: Some(file.clone()),
            ..Settings::default()
        };
        let e = from_file
            .channel_rules(&lake)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels.toml"), "{e}");
    }
}
