//! `ssm:` secrets in the config (docs/CONFIG.md, "Secrets"): every reference under
//! `tenants.<id>.crm` and `tenants.<id>.ads` is fetched from SSM Parameter Store once, when
//! the config is loaded, and handed to [`throughline_sources::crm::install_resolved_secrets`],
//! so verifying a webhook never waits on AWS. A config without `ssm:` secrets never
//! touches AWS.
//!
//! A reference is an absolute parameter name (`ssm:/throughline/prod/acme/webhooks/hubspot`)
//! or a name relative to `THROUGHLINE_SECRETS_PREFIX` (`ssm:acme/webhooks/hubspot`). The SDK
//! reads region, credentials and `AWS_ENDPOINT_URL` from the standard AWS environment.
//! `THROUGHLINE_SSM_SECRETS` limits what is fetched to what a function may read: `off`
//! (collect, which verifies no webhook), `crm` (crm-webhook: webhook secrets only), `ads`
//! (ad-costs: ad platform credentials only); unset or `all`, both. Secrets not fetched
//! read as empty: they verify nothing and authenticate nothing.

use std::collections::{BTreeMap, HashMap};

use throughline_sources::crm::{Secret, install_resolved_secrets};

use crate::config::ConfigError;

/// `GetParameters` takes at most this many names per call.
const BATCH: usize = 10;

/// Every `ssm:` reference under `tenants.<id>.<section>` of a parsed config, for each of
/// `sections` (`crm`, `ads`): the reference as written after `ssm:` → the parameter name.
/// `prefix` is `THROUGHLINE_SECRETS_PREFIX`; a relative reference without one is an error
/// naming its place.
pub(crate) fn ssm_references(
    config: &toml::Table,
    prefix: Option<&str>,
    sections: &[&str],
) -> Result<BTreeMap<String, String>, String> {
    let mut found = BTreeMap::new();
    if let Some(toml::Value::Table(tenants)) = config.get("tenants") {
        for (tenant, settings) in tenants {
            for section in sections {
                if let Some(value) = settings.get(*section) {
                    collect(
                        value,
                        &format!("tenants.{tenant}.{section}"),
                        prefix,
                        &mut found,
                    )?;
                }
            }
        }
    }
    Ok(found)
}

/// The config sections whose secrets this process fetches (`THROUGHLINE_SSM_SECRETS`).
fn sections_to_fetch() -> Result<&'static [&'static str], String> {
    match std::env::var("THROUGHLINE_SSM_SECRETS")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "all" => Ok(&["crm", "ads"]),
        "crm" => Ok(&["crm"]),
        "ads" => Ok(&["ads"]),
        "off" => Ok(&[]),
        other => Err(format!(
            "THROUGHLINE_SSM_SECRETS={other:?}: expected off, crm, ads or all"
        )),
    }
}

fn collect(
    value: &toml::Value,
    place: &str,
    prefix: Option<&str>,
    found: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    match value {
        toml::Value::String(text) => {
            if let Some(reference) = text.strip_prefix(Secret::SSM_PREFIX) {
                let name =
                    parameter_name(reference, prefix).map_err(|e| format!("{place}: {e}"))?;
                found.insert(reference.to_owned(), name);
            }
        }
        toml::Value::Table(table) => {
            for (key, value) in table {
                collect(value, &format!("{place}.{key}"), prefix, found)?;
            }
        }
        toml::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                collect(value, &format!("{place}[{i}]"), prefix, found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

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

/// Fetches and installs the `ssm:` secrets of a config that already parsed.
pub(crate) async fn resolve(text: &str, origin: &str) -> Result<(), ConfigError> {
    let Some(references) = references_to_fetch(text, origin)? else {
        return Ok(());
    };
    let values = fetch(&references)
        .await
        .map_err(|reason| ConfigError::Unreadable {
            origin: origin.to_owned(),
            reason,
        })?;
    install(references, values);
    Ok(())
}

/// The references to fetch, or `None` when there are none or fetching is turned off.
fn references_to_fetch(
    text: &str,
    origin: &str,
) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        origin: origin.to_owned(),
        reason,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let prefix = std::env::var("THROUGHLINE_SECRETS_PREFIX").ok();
    let sections = sections_to_fetch().map_err(invalid)?;
    let references = ssm_references(&table, prefix.as_deref(), sections).map_err(invalid)?;
    if references.is_empty() {
        if sections.is_empty() {
            tracing::info!("THROUGHLINE_SSM_SECRETS=off: ssm: secrets are not read");
        }
        return Ok(None);
    }
    Ok(Some(references))
}

/// Parameter name → value, for the parameters that exist; an error when SSM cannot be
/// asked (credentials, permissions, network).
async fn fetch(references: &BTreeMap<String, String>) -> Result<HashMap<String, String>, String> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_ssm::Client::new(&config);
    let mut names: Vec<&String> = references.values().collect();
    names.sort();
    names.dedup();
    let mut values = HashMap::new();
    for batch in names.chunks(BATCH) {
        let output = client
            .get_parameters()
            .set_names(Some(batch.iter().map(|n| (*n).clone()).collect()))
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

/// Installs every reference: its parameter's value, or empty (with a warning naming the
/// parameter, never a value) when the parameter does not exist.
fn install(references: BTreeMap<String, String>, values: HashMap<String, String>) {
    let mut missing = 0;
    let resolved: Vec<(String, String)> = references
        .into_iter()
        .map(|(reference, name)| {
            let value = values.get(&name).cloned().unwrap_or_else(|| {
                missing += 1;
                tracing::warn!(
                    parameter = %name,
                    "SSM parameter not found: its ssm: secret verifies nothing (every delivery gets 401)"
                );
                String::new()
            });
            (reference, value)
        })
        .collect();
    tracing::info!(
        secrets = resolved.len(),
        missing,
        "ssm: secrets read from SSM Parameter Store"
    );
    install_resolved_secrets(resolved);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn references(text: &str, prefix: Option<&str>) -> Result<BTreeMap<String, String>, String> {
        ssm_references(&toml::from_str(text).unwrap(), prefix, &["crm", "ads"])
    }

    const CONFIG: &str = r#"
        [tenants.acme.crm.hubspot]
        client_secret = "ssm:acme/webhooks/hubspot"

        [tenants.acme.crm.pipedrive]
        username = "ssm:/shared/pipedrive/user"
        password = "env:PIPEDRIVE_PASSWORD"

        [tenants.acme.links.x]
        target = "ssm:not-a-secret"

        [tenants.beta.crm.shopify]
        secret = "ssm:/throughline/prod/beta/webhooks/shopify"

        [tenants.gamma.crm.kommo]
        token = "a literal ssm: token"

        [[tenants.gamma.ads.meta]]
        account_id = "1"
        access_token = "ssm:/p/gamma/ads/meta"
    "#;

    #[test]
    fn each_function_fetches_only_its_sections() {
        let config: toml::Table = toml::from_str(CONFIG).unwrap();
        let ads = ssm_references(&config, Some("/p/"), &["ads"]).unwrap();
        assert_eq!(
            ads,
            BTreeMap::from([(
                "/p/gamma/ads/meta".to_owned(),
                "/p/gamma/ads/meta".to_owned()
            )])
        );
        let crm = ssm_references(&config, Some("/p/"), &["crm"]).unwrap();
        assert!(
            !crm.contains_key("/p/gamma/ads/meta") && crm.len() == 3,
            "{crm:?}"
        );
        assert!(
            ssm_references(&config, Some("/p/"), &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn relative_references_take_the_prefix_and_absolute_ones_do_not() {
        let found = references(CONFIG, Some("/throughline/prod/")).unwrap();
        let expected: BTreeMap<String, String> = [
            (
                "acme/webhooks/hubspot",
                "/throughline/prod/acme/webhooks/hubspot",
            ),
            ("/shared/pipedrive/user", "/shared/pipedrive/user"),
            (
                "/throughline/prod/beta/webhooks/shopify",
                "/throughline/prod/beta/webhooks/shopify",
            ),
            ("/p/gamma/ads/meta", "/p/gamma/ads/meta"),
        ]
        .into_iter()
        .map(|(r, n)| (r.to_owned(), n.to_owned()))
        .collect();
        assert_eq!(found, expected);
        // A prefix without its slashes still makes an absolute name.
        let found = references(CONFIG, Some("throughline/dev")).unwrap();
        assert_eq!(
            found["acme/webhooks/hubspot"],
            "/throughline/dev/acme/webhooks/hubspot"
        );
    }

    #[test]
    fn a_relative_reference_needs_the_prefix() {
        let e = references(CONFIG, None).unwrap_err();
        assert!(
            e.contains("tenants.acme.crm.hubspot.client_secret")
                && e.contains("THROUGHLINE_SECRETS_PREFIX"),
            "{e}"
        );
        let absolute_only = CONFIG.replace("ssm:acme/", "ssm:/throughline/prod/acme/");
        assert_eq!(references(&absolute_only, None).unwrap().len(), 4);
        assert!(
            references("[tenants.a.crm.kommo]\ntoken = \"env:T\"", None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in ["ssm:", "ssm:/", "ssm:acme//x", "ssm:acme/x/", "ssm: acme/x"] {
            let text = format!("[tenants.a.crm.kommo]\ntoken = {bad:?}");
            let e = references(&text, Some("/p/")).unwrap_err();
            assert!(e.contains("tenants.a.crm.kommo.token"), "{bad}: {e}");
        }
    }

    #[test]
    fn installed_values_are_what_ssm_secrets_expose() {
        let secret = Secret::new("ssm:unit-test/webhooks/kommo");
        assert_eq!(secret.expose(), "");
        install(
            [
                (
                    "unit-test/webhooks/kommo".to_owned(),
                    "/p/unit-test/webhooks/kommo".to_owned(),
                ),
                (
                    "unit-test/missing".to_owned(),
                    "/p/unit-test/missing".to_owned(),
                ),
            ]
            .into_iter()
            .collect(),
            [(
                "/p/unit-test/webhooks/kommo".to_owned(),
                "s3cret".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(Secret::new("ssm:unit-test/missing").expose(), "");
        assert_eq!(Secret::new("literal").expose(), "literal");
    }
}
