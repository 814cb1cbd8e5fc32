//! Secrets in the tenants' config (docs/CONFIG.md, "Secrets"): every `env:` and `ssm:`
//! reference under `tenants.<id>.crm` and `tenants.<id>.ads` is looked up once, when the
//! config is loaded, and stored in its [`Secret`], so verifying a webhook never waits on
//! AWS. A config without `ssm:` secrets never touches AWS.
//!
//! An `ssm:` reference is an absolute parameter name (`ssm:/throughline/prod/acme/webhooks/hubspot`)
//! or a name relative to the secrets prefix (`ssm:acme/webhooks/hubspot`). The SDK reads
//! region, credentials and `AWS_ENDPOINT_URL` from the standard AWS environment.
//! [`SsmSections`] limits what is fetched to what a function may read: `off` (collect,
//! which verifies no webhook), `crm` (crm-webhook: webhook secrets only), `ads` (ad-costs:
//! ad platform credentials only); `all`, both. Secrets not looked up read as empty: they
//! verify nothing and authenticate nothing.

use std::collections::HashMap;

use throughline_sources::crm::{Secret, SecretSource};

use crate::tenants::{ConfigError, TenantsConfig};

/// How the config's secrets are looked up (`THROUGHLINE_SSM_SECRETS`,
/// `THROUGHLINE_SECRETS_PREFIX`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretsSettings {
    /// The config sections whose `ssm:` secrets this process fetches.
    pub ssm_sections: SsmSections,
    /// What relative `ssm:` names are under, e.g. `/throughline/prod/`.
    pub prefix: Option<String>,
}

/// The config sections whose `ssm:` secrets a process may fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SsmSections {
    #[default]
    All,
    Crm,
    Ads,
    Off,
}

impl SsmSections {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "all" => Ok(Self::All),
            "crm" => Ok(Self::Crm),
            "ads" => Ok(Self::Ads),
            "off" => Ok(Self::Off),
            other => Err(format!("{other:?}: expected off, crm, ads or all")),
        }
    }

    fn includes(self, section: Section) -> bool {
        matches!(
            (self, section),
            (Self::All, _) | (Self::Crm, Section::Crm) | (Self::Ads, Section::Ads)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Crm,
    Ads,
}

/// One secret of the config, with its place (`tenants.acme.crm.hubspot.client_secret`).
struct Found<'a> {
    place: String,
    section: Section,
    secret: &'a mut Secret,
}

fn secrets_of(config: &mut TenantsConfig) -> Vec<Found<'_>> {
    let mut found = Vec::new();
    for (tenant, settings) in config.tenants_mut() {
        for (place, secret) in settings.crm.secrets_mut() {
            found.push(Found {
                place: format!("tenants.{tenant}.{place}"),
                section: Section::Crm,
                secret,
            });
        }
        for (place, secret) in settings.ads.secrets_mut() {
            found.push(Found {
                place: format!("tenants.{tenant}.{place}"),
                section: Section::Ads,
                secret,
            });
        }
    }
    found
}

/// Resolves the config's `env:` secrets and lists the `ssm:` ones to fetch (of the
/// sections allowed) with their parameter names; an error names a malformed reference's place.
fn plan<'a>(
    config: &'a mut TenantsConfig,
    settings: &SecretsSettings,
) -> Result<Vec<(String, &'a mut Secret)>, String> {
    let mut wanted = Vec::new();
    for found in secrets_of(config) {
        match found.secret.source() {
            SecretSource::Literal => {}
            SecretSource::Env(name) => {
                // The settings crate is the binaries' edge: the one place that reads the environment.
                if let Ok(value) = std::env::var(name) {
                    found.secret.resolve(value);
                }
            }
            // Another function's secrets are neither fetched nor checked here.
            SecretSource::Ssm(reference) if settings.ssm_sections.includes(found.section) => {
                let name = parameter_name(reference, settings.prefix.as_deref())
                    .map_err(|e| format!("{}: {e}", found.place))?;
                wanted.push((name, found.secret));
            }
            SecretSource::Ssm(_) => {}
        }
    }
    Ok(wanted)
}

/// Looks every secret of a parsed config up: `env:` from the environment, `ssm:` (of the
/// sections allowed) from SSM Parameter Store in as few calls as it takes.
pub(crate) async fn resolve(
    config: &mut TenantsConfig,
    settings: &SecretsSettings,
    origin: &str,
) -> Result<(), ConfigError> {
    let wanted = plan(config, settings).map_err(|reason| ConfigError::Invalid {
        origin: origin.to_owned(),
        reason,
    })?;
    if wanted.is_empty() {
        if settings.ssm_sections == SsmSections::Off {
            tracing::info!("THROUGHLINE_SSM_SECRETS=off: ssm: secrets are not read");
        }
        return Ok(());
    }
    let mut names: Vec<String> = wanted.iter().map(|(name, _)| name.clone()).collect();
    names.sort();
    names.dedup();
    let values = fetch(&names)
        .await
        .map_err(|reason| ConfigError::Unreadable {
            origin: origin.to_owned(),
            reason,
        })?;
    install(wanted, &values);
    Ok(())
}

/// `GetParameters` takes at most this many names per call.
const BATCH: usize = 10;

fn parameter_name(reference: &str, prefix: Option<&str>) -> Result<String, String> {
    let invalid = reference.trim() != reference
        || reference.trim_matches('/').is_empty()
        || reference.ends_with('/')
        || reference.contains("//");
    if invalid {
        return Err(format!(
            "{}{reference} is not an SSM parameter name",
            Secret::SSM_PREFIX
        ));
    }
    if reference.starts_with('/') {
        return Ok(reference.to_owned());
    }
    match prefix.map(str::trim).filter(|p| !p.is_empty()) {
        Some(prefix) => match prefix.trim_matches('/') {
            "" => Ok(format!("/{reference}")),
            prefix => Ok(format!("/{prefix}/{reference}")),
        },
        None => Err(format!(
            "{}{reference} is relative to THROUGHLINE_SECRETS_PREFIX, which is not set \
             (or give an absolute name, /…)",
            Secret::SSM_PREFIX
        )),
    }
}

/// Parameter name → value, for the parameters that exist; an error when SSM cannot be
/// asked (credentials, permissions, network).
async fn fetch(names: &[String]) -> Result<HashMap<String, String>, String> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_ssm::Client::new(&config);
    let mut values = HashMap::new();
    for batch in names.chunks(BATCH) {
        let output = client
            .get_parameters()
            .set_names(Some(batch.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "SSM GetParameters for {}: {}",
                    batch
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                )
            })?;
        for parameter in output.parameters() {
            if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                values.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    Ok(values)
}

/// Gives every wanted secret its parameter's value, or leaves it empty (with a warning
/// naming the parameter, never a value) when the parameter does not exist.
fn install(wanted: Vec<(String, &mut Secret)>, values: &HashMap<String, String>) {
    let mut missing = 0;
    let count = wanted.len();
    for (name, secret) in wanted {
        match values.get(&name) {
            Some(value) => secret.resolve(value.clone()),
            None => {
                missing += 1;
                tracing::warn!(
                    parameter = %name,
                    "SSM parameter not found: its ssm: secret verifies nothing (every delivery gets 401)"
                );
            }
        }
    }
    tracing::info!(
        secrets = count,
        missing,
        "ssm: secrets read from SSM Parameter Store"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
        [tenants.acme.crm.hubspot]
        client_secret = "ssm:acme/webhooks/hubspot"

        [tenants.acme.crm.pipedrive]
        username = "ssm:/shared/pipedrive/user"
        password = "env:THROUGHLINE_UNIT_TEST_PIPEDRIVE_PASSWORD"

        [tenants.acme.links.x]
        target = "https://example.com/ssm:not-a-secret"

        [tenants.beta.crm.shopify]
        secret = "ssm:/throughline/prod/beta/webhooks/shopify"

        [tenants.gamma.crm.kommo]
        token = "a literal ssm: token"

        [[tenants.gamma.ads.meta]]
        account_id = "1"
        access_token = "ssm:/p/gamma/ads/meta"
    "#;

    /// The parameter names a config's `ssm:` secrets are fetched from, by place.
    fn names(
        text: &str,
        sections: SsmSections,
        prefix: Option<&str>,
    ) -> Result<Vec<String>, String> {
        let mut config = TenantsConfig::parse(text, "test.toml").map_err(|e| e.to_string())?;
        let settings = SecretsSettings {
            ssm_sections: sections,
            prefix: prefix.map(str::to_owned),
        };
        let mut names: Vec<String> = plan(&mut config, &settings)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort();
        Ok(names)
    }

    #[test]
    fn each_function_fetches_only_its_sections() {
        assert_eq!(
            names(CONFIG, SsmSections::Ads, Some("/p/")).unwrap(),
            ["/p/gamma/ads/meta"]
        );
        let crm = names(CONFIG, SsmSections::Crm, Some("/p/")).unwrap();
        assert!(
            !crm.contains(&"/p/gamma/ads/meta".to_owned()) && crm.len() == 3,
            "{crm:?}"
        );
        assert!(
            names(CONFIG, SsmSections::Off, Some("/p/"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(SsmSections::parse(" CRM ").unwrap(), SsmSections::Crm);
        assert!(
            SsmSections::parse("some")
                .unwrap_err()
                .contains("expected off")
        );
    }

    #[test]
    fn relative_references_take_the_prefix_and_absolute_ones_do_not() {
        assert_eq!(
            names(CONFIG, SsmSections::All, Some("/throughline/prod/")).unwrap(),
            [
                "/p/gamma/ads/meta",
                "/shared/pipedrive/user",
                "/throughline/prod/acme/webhooks/hubspot",
                "/throughline/prod/beta/webhooks/shopify",
            ]
        );
        // A prefix without its slashes still makes an absolute name.
        let found = names(CONFIG, SsmSections::All, Some("throughline/dev")).unwrap();
        assert!(found.contains(&"/throughline/dev/acme/webhooks/hubspot".to_owned()));
    }

    #[test]
    fn a_relative_reference_needs_the_prefix() {
        let e = names(CONFIG, SsmSections::All, None).unwrap_err();
        assert!(
            e.contains("tenants.acme.crm.hubspot.client_secret")
                && e.contains("THROUGHLINE_SECRETS_PREFIX"),
            "{e}"
        );
        let absolute_only = CONFIG.replace("ssm:acme/", "ssm:/throughline/prod/acme/");
        assert_eq!(
            names(&absolute_only, SsmSections::All, None).unwrap().len(),
            4
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in ["ssm:", "ssm:/", "ssm:acme//x", "ssm:acme/x/", "ssm: acme/x"] {
            let text = format!("[tenants.a.crm.kommo]\ntoken = {bad:?}");
            let e = names(&text, SsmSections::All, Some("/p/")).unwrap_err();
            assert!(e.contains("tenants.a.crm.kommo.token"), "{bad}: {e}");
        }
    }

    #[test]
    fn env_secrets_are_read_at_load_and_ssm_values_installed_by_name() {
        // SAFETY: no other test in this crate reads or writes this variable.
        unsafe { std::env::set_var("THROUGHLINE_UNIT_TEST_PIPEDRIVE_PASSWORD", "pw") };
        let mut config = TenantsConfig::parse(CONFIG, "test.toml").unwrap();
        let settings = SecretsSettings {
            ssm_sections: SsmSections::All,
            prefix: Some("/throughline/prod/".into()),
        };
        let wanted = plan(&mut config, &settings).unwrap();
        let values = HashMap::from([(
            "/throughline/prod/acme/webhooks/hubspot".to_owned(),
            "s3cret".to_owned(),
        )]);
        install(wanted, &values);
        let crm = &config.tenant("acme").unwrap().crm;
        assert_eq!(
            crm.hubspot.as_ref().unwrap().client_secret.expose(),
            "s3cret"
        );
        let pipedrive = crm.pipedrive.as_ref().unwrap();
        assert_eq!(pipedrive.password.expose(), "pw");
        // A parameter SSM does not have reads as empty.
        assert_eq!(pipedrive.username.expose(), "");
        let kommo = config.tenant("gamma").unwrap().crm.kommo.as_ref().unwrap();
        assert_eq!(kommo.token.expose(), "a literal ssm: token");
    }
}
