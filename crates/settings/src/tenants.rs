//! The settings of each tenant: CRM webhook secrets and field mappings, tracked links,
//! phone country, ad accounts. A TOML file (docs/CONFIG.md): `throughline serve --config FILE`
//! locally; on AWS the functions read the copy that `throughline config push` stores in
//! the lake at [`CONFIG_OBJECT`]. Secrets are given as values, `env:NAME` or `ssm:NAME`;
//! loading the config looks every reference up once (see [`crate::secrets`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use throughline_model::TenantId;
use throughline_model::contact::check_country_code;
use throughline_sources::ads::AdsSettings;
use throughline_sources::crm::CrmSettings;

/// Where the lake keeps the deployed config.
pub const CONFIG_OBJECT: &str = "_config/throughline.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsConfig {
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Link code → tenant, built once by [`TenantsConfig::parse`]: every click looks it up.
    #[serde(skip)]
    link_owners: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Calling code for national-format phones in this tenant's leads, e.g. "380".
    pub phone_country: Option<String>,
    #[serde(default)]
    pub crm: CrmSettings,
    /// Tracked links by code: `GET /r/{code}`.
    #[serde(default)]
    pub links: BTreeMap<String, TrackedLink>,
    /// Ad accounts whose costs `ad-costs` and `throughline costs pull` read.
    #[serde(default)]
    pub ads: AdsSettings,
}

/// A link for messengers and social profiles: records the click, then redirects.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrackedLink {
    /// Where to send the visitor; `{token}` is replaced by the click's token (the visitor
    /// id), e.g. `https://t.me/acme_bot?start={token}`.
    pub target: String,
    /// UTM tags the click is recorded with when it carries none of its own (an ad's tags
    /// win as a set).
    #[serde(default)]
    pub utm_source: Option<String>,
    #[serde(default)]
    pub utm_medium: Option<String>,
    #[serde(default)]
    pub utm_campaign: Option<String>,
    #[serde(default)]
    pub utm_content: Option<String>,
    #[serde(default)]
    pub utm_term: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config {origin}: {reason}")]
    Unreadable { origin: String, reason: String },
    #[error("config {origin}: {reason}")]
    Invalid { origin: String, reason: String },
}

impl TenantsConfig {
    /// Parses and checks a config; `origin` names it in errors (a path, or the lake object).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            reason,
        };
        let mut config: TenantsConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut link_owners: BTreeMap<String, String> = BTreeMap::new();
        for (tenant, settings) in &config.tenants {
            TenantId::parse(tenant).map_err(|e| invalid(format!("tenants.{tenant}: {e}")))?;
            if let Some(code) = &settings.phone_country {
                check_country_code(code)
                    .map_err(|e| invalid(format!("tenants.{tenant}.phone_country: {e}")))?;
            }
            settings
                .crm
                .check()
                .map_err(|e| invalid(format!("tenants.{tenant}.{e}")))?;
            settings
                .ads
                .check()
                .map_err(|e| invalid(format!("tenants.{tenant}.{e}")))?;
            for (code, link) in &settings.links {
                check_link(code, link)
                    .map_err(|e| invalid(format!("tenants.{tenant}.links.{code}: {e}")))?;
                // `/r/{code}` carries no tenant: a code must name one link.
                if let Some(other) = link_owners.insert(code.clone(), tenant.clone()) {
                    return Err(invalid(format!(
                        "link code {code:?} is used by tenants {other} and {tenant}: codes must be unique"
                    )));
                }
            }
        }
        config.link_owners = link_owners;
        Ok(config)
    }

    /// Every tenant's settings, for the loader to resolve their secrets.
    pub(crate) fn tenants_mut(&mut self) -> impl Iterator<Item = (&String, &mut TenantConfig)> {
        self.tenants.iter_mut()
    }

    pub fn tenant(&self, id: &str) -> Option<&TenantConfig> {
        self.tenants.get(id)
    }

    /// The tenant and link of a tracked-link code.
    pub fn link(&self, code: &str) -> Option<(&str, &TrackedLink)> {
        let (tenant, settings) = self.tenants.get_key_value(self.link_owners.get(code)?)?;
        Some((tenant.as_str(), settings.links.get(code)?))
    }
}

fn check_link(code: &str, link: &TrackedLink) -> Result<(), String> {
    if code.is_empty()
        || code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("a code is 1–64 letters, digits, '-' or '_'".into());
    }
    let target = url::Url::parse(&link.target.replace("{token}", "token"))
        .map_err(|e| format!("target {:?} is not a URL: {e}", link.target))?;
    // Messenger deep links (viber://, tg://) are fine; script URLs are not.
    if matches!(target.scheme(), "javascript" | "data" | "file" | "vbscript") {
        return Err(format!("target scheme {}: is not allowed", target.scheme()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
        [tenants.acme]
        phone_country = "380"

        [tenants.acme.crm.shopify]
        secret = "env:ACME_SHOPIFY_SECRET"

        [tenants.acme.links.tg-spring]
        target = "https://t.me/acme_bot?start={token}"
        utm_source = "instagram"
        utm_medium = "social"
    "#;

    #[test]
    fn reads_tenants_crms_and_links() {
        let config = TenantsConfig::parse(CONFIG, "test.toml").unwrap();
        let acme = config.tenant("acme").unwrap();
        assert_eq!(acme.phone_country.as_deref(), Some("380"));
        assert!(acme.crm.shopify.is_some());
        let (tenant, link) = config.link("tg-spring").unwrap();
        assert_eq!(tenant, "acme");
        assert_eq!(link.utm_source.as_deref(), Some("instagram"));
        assert!(config.link("nope").is_none());
    }

    #[test]
    fn errors_name_the_place() {
        let bad = CONFIG.replace("secret =", "secrett =");
        let e = TenantsConfig::parse(&bad, "test.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("test.toml") && e.contains("secrett"), "{e}");
        let twice =
            format!("{CONFIG}\n[tenants.beta.links.tg-spring]\ntarget = \"https://t.me/b\"\n");
        let e = TenantsConfig::parse(&twice, "x").unwrap_err().to_string();
        assert!(e.contains("unique"), "{e}");
        let script = CONFIG.replace("https://t.me/acme_bot?start={token}", "javascript:alert(1)");
        let e = TenantsConfig::parse(&script, "x").unwrap_err().to_string();
        assert!(e.contains("not allowed"), "{e}");
    }
}
