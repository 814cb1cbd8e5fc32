//! Loading the tenants' config: from a file or the lake's deployed copy, parsed and checked
//! ([`TenantsConfig::parse`]), its secrets looked up ([`crate::secrets`]).

use crate::secrets::SecretsSettings;
use crate::tenants::{CONFIG_OBJECT, ConfigError, TenantsConfig};

impl TenantsConfig {
    /// Reads, checks and loads a config file: its secrets are looked up now.
    pub async fn read_file(
        path: &std::path::Path,
        secrets: &SecretsSettings,
    ) -> Result<Self, ConfigError> {
        let (text, origin) = read_text(path)?;
        Self::load(&text, &origin, secrets).await
    }

    /// Parses a config and looks its secrets up; one without `ssm:` secrets never touches AWS.
    pub async fn load(
        text: &str,
        origin: &str,
        secrets: &SecretsSettings,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::parse(text, origin)?;
        crate::secrets::resolve(&mut config, secrets, origin).await?;
        Ok(config)
    }

    /// The copy `throughline config push` stored in the lake at [`CONFIG_OBJECT`], if
    /// present, else none (only key-authenticated routes work). Its secrets are looked up now.
    pub async fn from_lake(
        lake: &throughline_lake::Lake,
        secrets: &SecretsSettings,
    ) -> Result<Self, ConfigError> {
        let origin = format!("{}/{CONFIG_OBJECT}", lake.location());
        match lake
            .get_if_exists(&object_store::path::Path::from(CONFIG_OBJECT))
            .await
        {
            Ok(Some(body)) => Self::load(&String::from_utf8_lossy(&body), &origin, secrets).await,
            Ok(None) => Ok(Self::default()),
            Err(e) => Err(ConfigError::Unreadable {
                origin,
                reason: e.to_string(),
            }),
        }
    }
}

/// A config file's text and its name for errors.
fn read_text(path: &std::path::Path) -> Result<(String, String), ConfigError> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, origin)),
        Err(e) => Err(ConfigError::Unreadable {
            origin,
            reason: e.to_string(),
        }),
    }
}
