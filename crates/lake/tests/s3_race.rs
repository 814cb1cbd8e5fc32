//! Two writers (two processes' worth of lake handles, each with its own snapshot cache)
//! racing to commit to one Delta table on S3: commits are put-if-absent writes of the
//! next log entry, so every commit lands exactly once, as its own version. Runs against
//! the local AWS emulator that scripts/test.sh starts (`THROUGHLINE_TEST_AWS_ENDPOINT`).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use throughline_lake::{AsOf, Lake};
use throughline_model::TenantId;
use throughline_model::table::{ParseOptions, Table};

const COMMITS_PER_WRITER: usize = 8;

fn touchpoint(id: &str) -> throughline_model::Row {
    let record: HashMap<String, String> = [
        ("event_id", id),
        ("ts", "2026-08-01T10:00:00Z"),
        ("url", "https://k.ua/"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Table::Touchpoints
        .parse(&record, &ParseOptions::default())
        .unwrap()
}

/// The emulator accepts an unsigned `PUT /<bucket>` as "create bucket".
fn create_bucket(endpoint: &str, bucket: &str) {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_racing_on_s3_lose_no_commit_and_write_no_version_twice() {
    let Ok(endpoint) = std::env::var("THROUGHLINE_TEST_AWS_ENDPOINT") else {
        eprintln!(
            "skipped: set THROUGHLINE_TEST_AWS_ENDPOINT (scripts/test.sh starts a local AWS emulator)"
        );
        return;
    };
    let bucket = format!("race-{}", std::process::id());
    create_bucket(&endpoint, &bucket);
    let s3: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_bucket_name(&bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .build()
            .unwrap(),
    );
    let tenant = TenantId::parse("race").unwrap();
    let writer = |name: &'static str| {
        let lake = Lake::from_store(s3.clone(), &format!("s3://{bucket}")).unwrap();
        let tenant = tenant.clone();
        async move {
            for i in 0..COMMITS_PER_WRITER {
                lake.write_rows(
                    Table::Touchpoints,
                    &tenant,
                    &[touchpoint(&format!("{name}-{i}"))],
                )
                .await
                .unwrap();
            }
        }
    };
    tokio::join!(writer("a"), writer("b"));

    let reader = Lake::from_store(s3.clone(), &format!("s3://{bucket}")).unwrap();
    let files = reader
        .table_files("touchpoints", &tenant, &AsOf::Latest)
        .await
        .unwrap();
    assert_eq!(
        files.files.len(),
        2 * COMMITS_PER_WRITER,
        "every commit's file is in the table"
    );
    // Version 0 created the table (whichever writer won that race); one version per append.
    assert_eq!(files.version, Some(2 * COMMITS_PER_WRITER as u64));
    let entries: BTreeSet<String> = s3
        .list(Some(&"tables/touchpoints/_delta_log".into()))
        .map_ok(|m| m.location.filename().unwrap_or_default().to_owned())
        .try_collect()
        .await
        .unwrap();
    let commits: Vec<&String> = entries.iter().filter(|e| e.ends_with(".json")).collect();
    assert_eq!(commits.len(), 2 * COMMITS_PER_WRITER + 1, "{entries:?}");
}
