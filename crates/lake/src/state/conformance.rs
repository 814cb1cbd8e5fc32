//! One suite, every backend: the embedded store always, DynamoDB when the test script
//! provides a local emulator (`THROUGHLINE_TEST_DYNAMODB_ENDPOINT`).

use std::sync::Arc;
use std::time::Duration;

use super::*;

pub async fn run_state_store_conformance(store: Arc<dyn StateStore>) {
    let suffix = uuid::Uuid::now_v7().to_string();
    let scope = format!("events-{suffix}");

    // Idempotency: the first claim wins, later ones see the key.
    assert!(!store.has_key(&scope, "e1").await.unwrap());
    assert!(
        store
            .claim_key(&scope, "e1", Duration::from_secs(3600))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_key(&scope, "e1", Duration::from_secs(3600))
            .await
            .unwrap()
    );
    assert!(store.has_key(&scope, "e1").await.unwrap());
    assert!(
        !store
            .has_key(&format!("other-{suffix}"), "e1")
            .await
            .unwrap(),
        "scopes are separate"
    );

    // Exactly one of many concurrent claims wins.
    let claims = (0..8).map(|_| {
        let store = store.clone();
        let scope = scope.clone();
        tokio::spawn(async move {
            store
                .claim_key(&scope, "race", Duration::from_secs(60))
                .await
                .unwrap()
        })
    });
    let winners = futures::future::join_all(claims)
        .await
        .into_iter()
        .filter(|w| *w.as_ref().unwrap())
        .count();
    assert_eq!(winners, 1);

    // Keys recorded and looked up in batches, over DynamoDB's 25 writes and 100 reads per
    // request, duplicates in a batch included; answers keep the order asked.
    let batch: Vec<String> = (0..130).map(|n| format!("batch-{n}")).collect();
    let mut recorded = batch.clone();
    recorded.push("batch-7".into());
    recorded.push("e1".into());
    store
        .record_keys(&scope, &recorded, Duration::from_secs(3600))
        .await
        .unwrap();
    let mut asked = vec!["never".to_string()];
    asked.extend(batch.iter().rev().cloned());
    asked.push("batch-7".into());
    let seen = store.has_keys(&scope, &asked).await.unwrap();
    assert_eq!(seen.len(), asked.len());
    assert!(!seen[0], "a key never recorded is not seen");
    assert!(seen[1..].iter().all(|s| *s), "every recorded key is seen");
    assert!(
        !store
            .claim_key(&scope, "batch-129", Duration::from_secs(60))
            .await
            .unwrap(),
        "a recorded key is claimed"
    );
    store
        .record_keys(&scope, &["batch-expired".into()], Duration::from_secs(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .has_keys(&scope, &["batch-expired".into()])
            .await
            .unwrap(),
        vec![false],
        "an expired recorded key is not seen"
    );

    // An expired key can be claimed again.
    assert!(
        store
            .claim_key(&scope, "short", Duration::from_secs(0))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(!store.has_key(&scope, "short").await.unwrap());
    assert!(
        store
            .claim_key(&scope, "short", Duration::from_secs(60))
            .await
            .unwrap()
    );

    // Cursors.
    let tenant = TenantId::parse(&format!("t-{}", &suffix[..8])).unwrap();
    assert_eq!(store.cursor(&tenant, "google_ads:123").await.unwrap(), None);
    store
        .set_cursor(&tenant, "google_ads:123", "2026-08-01")
        .await
        .unwrap();
    store
        .set_cursor(&tenant, "google_ads:123", "2026-08-02")
        .await
        .unwrap();
    assert_eq!(
        store
            .cursor(&tenant, "google_ads:123")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-08-02")
    );

    // Tenants and keys.
    let record = TenantRecord {
        id: tenant.to_string(),
        name: "Kukhni Dnipro".into(),
        created_at: "2026-11-24T00:00:00Z".into(),
    };
    store.put_tenant(&record).await.unwrap();
    assert_eq!(
        store.tenant(tenant.as_str()).await.unwrap(),
        Some(record.clone())
    );
    assert!(store.tenants().await.unwrap().contains(&record));
    let key = new_api_key();
    let grant = ApiKeyGrant {
        tenant: tenant.to_string(),
        scope: KeyScope::Read,
        created_at: record.created_at.clone(),
    };
    store
        .put_api_key(&hash_api_key(&key), &grant)
        .await
        .unwrap();
    assert_eq!(
        authorize(store.as_ref(), &key, KeyScope::Read)
            .await
            .unwrap(),
        Some(tenant.clone())
    );
    assert_eq!(
        authorize(store.as_ref(), &key, KeyScope::Ingest)
            .await
            .unwrap(),
        None,
        "scope is checked"
    );
    assert_eq!(
        authorize(store.as_ref(), "tl_wrong", KeyScope::Read)
            .await
            .unwrap(),
        None
    );
    let issued = issue_api_key(store.as_ref(), &tenant, KeyScope::Ingest)
        .await
        .unwrap();
    assert_eq!(
        authorize(store.as_ref(), &issued, KeyScope::Ingest)
            .await
            .unwrap(),
        Some(tenant.clone())
    );
    assert_eq!(
        authorize(store.as_ref(), &issued, KeyScope::Server)
            .await
            .unwrap(),
        None,
        "a public ingest key cannot write money"
    );
    let server = issue_api_key(store.as_ref(), &tenant, KeyScope::Server)
        .await
        .unwrap();
    for (scope, allowed) in [
        (KeyScope::Server, true),
        (KeyScope::Ingest, true),
        (KeyScope::Read, false),
    ] {
        assert_eq!(
            authorize(store.as_ref(), &server, scope).await.unwrap(),
            allowed.then(|| tenant.clone()),
            "a server key for {scope:?}"
        );
    }
    let stranger = TenantId::parse("never-added").unwrap();
    let refused = issue_api_key(store.as_ref(), &stranger, KeyScope::Read).await;
    assert!(
        matches!(&refused, Err(StateError::NoTenant(t)) if t == "never-added"),
        "{refused:?}"
    );

    // Job runs: upsert by id, newest first.
    for (i, status) in ["running", "succeeded"].iter().enumerate() {
        let run = JobRun {
            tenant: tenant.to_string(),
            run_id: "r1".into(),
            job: "attribute".into(),
            started_at: "2026-11-24T10:00:00Z".into(),
            finished_at: (i == 1).then(|| "2026-11-24T10:00:05Z".into()),
            status: (*status).into(),
            detail: String::new(),
        };
        store.put_job_run(&run).await.unwrap();
    }
    let later = JobRun {
        tenant: tenant.to_string(),
        run_id: "r2".into(),
        job: "attribute".into(),
        started_at: "2026-11-24T11:00:00Z".into(),
        finished_at: None,
        status: "running".into(),
        detail: String::new(),
    };
    store.put_job_run(&later).await.unwrap();
    let runs = store.job_runs(&tenant, 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["r2", "r1"]
    );
    assert_eq!(runs[1].status, "succeeded");
}

#[tokio::test]
async fn embedded_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let lake = crate::Lake::open(dir.path().to_str().unwrap()).unwrap();
    run_state_store_conformance(Arc::new(EmbeddedStateStore::new(lake.store()))).await;
}

#[tokio::test]
async fn dynamodb_store_keeps_the_contract() {
    let Ok(endpoint) = std::env::var("THROUGHLINE_TEST_DYNAMODB_ENDPOINT") else {
        eprintln!(
            "skipped: set THROUGHLINE_TEST_DYNAMODB_ENDPOINT (scripts/test.sh starts a local emulator)"
        );
        return;
    };
    let table = format!("state-{}", uuid::Uuid::now_v7());
    let store = DynamoStateStore::for_endpoint(&endpoint, &table).await;
    store.create_table().await.unwrap();
    run_state_store_conformance(Arc::new(store)).await;
}
