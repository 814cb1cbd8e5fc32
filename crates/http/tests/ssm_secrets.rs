//! `ssm:` webhook secrets loaded the way the Lambda functions load them
//! (`Settings::from_env` and `runtime::ingestor`) and the way `throughline serve --config`
//! does (`TenantsConfig::read_file`), against SSM Parameter Store in a local AWS emulator
//! (`THROUGHLINE_TEST_AWS_ENDPOINT`, set by scripts/test.sh).
//!
//! One test function: it sets process environment variables, which no other test in this
//! binary may read at the same time.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use throughline_http::webhook_router;
use throughline_ingest::Ingestor;
use throughline_settings::{Settings, TenantsConfig};
use throughline_sources::crm::{base64_of, hmac_sha256};
use tower::ServiceExt;

fn set_env(vars: &[(&str, &str)]) {
    for (name, value) in vars {
        // SAFETY: the only test in this binary; set before any thread reads the environment.
        unsafe { std::env::set_var(name, value) };
    }
}

fn write_config(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn shopify(ingestor: &Arc<Ingestor>, tenant: &str, signed_with: &str) -> StatusCode {
    let body = br#"{"id": 1, "title": "a product"}"#;
    let signature = base64_of(&hmac_sha256(signed_with.as_bytes(), &[body]));
    let request = Request::post(format!("/v1/webhooks/shopify?tenant={tenant}"))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "products/update")
        .header("x-shopify-hmac-sha256", signature)
        .body(Body::from(&body[..]))
        .unwrap();
    webhook_router(ingestor.clone())
        .oneshot(request)
        .await
        .unwrap()
        .status()
}

#[test]
fn ssm_secrets_verify_webhooks_and_plain_configs_never_touch_aws() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();

    // Nothing listens on port 9: a config without ssm: secrets must load without AWS.
    set_env(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    // SAFETY: as in `set_env`.
    unsafe { std::env::remove_var("THROUGHLINE_STATE_TABLE") };
    let plain = write_config(
        dir.path(),
        "plain.toml",
        "[tenants.acme.crm.shopify]\nsecret = \"env:UNSET_SHOPIFY_SECRET\"\n",
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(TenantsConfig::read_file(
            &plain,
            &Settings::from_env().unwrap().secrets,
        ))
        .expect("a config without ssm: secrets loads offline");
    let relative = write_config(
        dir.path(),
        "relative.toml",
        "[tenants.acme.crm.shopify]\nsecret = \"ssm:acme/webhooks/shopify\"\n",
    );
    let e = runtime
        .block_on(TenantsConfig::read_file(
            &relative,
            &Settings::from_env().unwrap().secrets,
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("THROUGHLINE_SECRETS_PREFIX"), "{e}");

    let Ok(endpoint) = std::env::var("THROUGHLINE_TEST_AWS_ENDPOINT") else {
        eprintln!(
            "skipped the SSM part: set THROUGHLINE_TEST_AWS_ENDPOINT (scripts/test.sh starts a local AWS emulator)"
        );
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("/throughline-test-{run}/");
    let absolute = format!("/throughline-test-{run}-shared/beta/webhooks/shopify");
    let config = write_config(
        dir.path(),
        "ssm.toml",
        &format!(
            r#"
            [tenants.acme.crm.shopify]
            secret = "ssm:acme/webhooks/shopify"

            [tenants.beta.crm.shopify]
            secret = "ssm:{absolute}"

            [tenants.gamma.crm.shopify]
            secret = "ssm:gamma/webhooks/shopify"
            "#
        ),
    );
    set_env(&[
        ("AWS_ENDPOINT_URL", &endpoint),
        ("THROUGHLINE_SECRETS_PREFIX", &prefix),
        ("THROUGHLINE_LAKE", lake.to_str().unwrap()),
        ("THROUGHLINE_CONFIG", config.to_str().unwrap()),
    ]);

    runtime.block_on(async {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let ssm = aws_sdk_ssm::Client::new(&aws);
        for (name, value) in [
            (
                format!("{prefix}acme/webhooks/shopify"),
                "acme-shopify-secret",
            ),
            (absolute.clone(), "beta-shopify-secret"),
        ] {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }

        // The Lambda path: THROUGHLINE_CONFIG, secrets fetched asynchronously.
        let settings = Settings::from_env().unwrap();
        let ingestor = throughline_http::runtime::ingestor(&settings)
            .await
            .unwrap();
        assert_eq!(
            shopify(&ingestor, "acme", "acme-shopify-secret").await,
            StatusCode::OK,
            "a relative ssm: name, signed right"
        );
        assert_eq!(
            shopify(&ingestor, "acme", "wrong-secret").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            shopify(&ingestor, "beta", "beta-shopify-secret").await,
            StatusCode::OK,
            "an absolute ssm: name, signed right"
        );
        assert_eq!(
            shopify(&ingestor, "beta", "acme-shopify-secret").await,
            StatusCode::UNAUTHORIZED
        );
        // gamma's parameter does not exist: its secret is empty and verifies nothing.
        assert_eq!(
            shopify(&ingestor, "gamma", "").await,
            StatusCode::UNAUTHORIZED
        );

        // The `serve --config` path: a rotated parameter is picked up by the next load.
        ssm.put_parameter()
            .name(format!("{prefix}acme/webhooks/shopify"))
            .value("rotated-secret")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .unwrap();
        let config = TenantsConfig::read_file(&config, &settings.secrets)
            .await
            .unwrap();
        let (lake, state) = throughline_http::runtime::lake_and_state(&settings)
            .await
            .unwrap();
        let ingestor = Arc::new(Ingestor::new(lake, state, Default::default()).with_config(config));
        assert_eq!(
            shopify(&ingestor, "acme", "rotated-secret").await,
            StatusCode::OK
        );
        assert_eq!(
            shopify(&ingestor, "acme", "acme-shopify-secret").await,
            StatusCode::UNAUTHORIZED
        );
    });
}
