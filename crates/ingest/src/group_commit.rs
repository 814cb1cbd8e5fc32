//! Group commit for touchpoints. Beacons arrive by the thousand per second, each a row or
//! two: written one request at a time, every beacon would cost a raw object, a Parquet
//! file and two state-store round trips. Instead, requests queue here and one writer
//! stores whatever has queued while the previous write ran — one raw NDJSON object and one
//! Parquet file per tenant and day — then answers every request in it. A request is still
//! answered only after its rows are stored.
//!
//! Duplicates: a retried beacon is recognised within the batch and against the keys this
//! process stored recently; one that reaches another process (another Lambda instance)
//! is written again and dropped by compaction, which runs before every job — so it counts
//! once in every answer. Webhooks, which are few and carry money, keep the state-store
//! check of [`Ingestor::store`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bytes::Bytes;
use object_store::path::Path;
use throughline_model::table::Table;
use throughline_model::{Row, TenantId};
use tokio::sync::{mpsc, oneshot};

use crate::{IngestError, IngestOutcome, Ingestor, Result};

/// Most requests one write takes; the rest wait for the next.
const MAX_REQUESTS_PER_WRITE: usize = 2048;
/// Keys of stored touchpoints remembered per process, to answer quick retries.
const RECENT_KEYS: usize = 1 << 18;

pub(crate) struct Submission {
    pub tenant: TenantId,
    pub source: &'static str,
    pub raw: Bytes,
    pub records: Vec<HashMap<String, String>>,
    pub reply: oneshot::Sender<Result<IngestOutcome>>,
}

#[derive(Debug, Clone)]
pub(crate) struct TouchpointWriter {
    queue: mpsc::UnboundedSender<Submission>,
}

impl TouchpointWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(ingestor: Ingestor) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(ingestor, requests));
        TouchpointWriter { queue }
    }

    pub async fn submit(
        &self,
        tenant: TenantId,
        source: &'static str,
        raw: Bytes,
        records: Vec<HashMap<String, String>>,
    ) -> Result<IngestOutcome> {
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            tenant,
            source,
            raw,
            records,
            reply,
        };
        self.queue
            .send(submission)
            .map_err(|_| IngestError::WriterStopped)?;
        answer.await.map_err(|_| IngestError::WriterStopped)?
    }
}

async fn write_loop(ingestor: Ingestor, mut requests: mpsc::UnboundedReceiver<Submission>) {
    let mut recent = RecentKeys::default();
    let mut batch = Vec::with_capacity(MAX_REQUESTS_PER_WRITE);
    while requests.recv_many(&mut batch, MAX_REQUESTS_PER_WRITE).await > 0 {
        let mut by_tenant: BTreeMap<TenantId, Vec<Submission>> = BTreeMap::new();
        for submission in batch.drain(..) {
            by_tenant
                .entry(submission.tenant.clone())
                .or_default()
                .push(submission);
        }
        // Tenants are written one after another: each write already fans out per day.
        for (tenant, submissions) in by_tenant {
            write_tenant(&ingestor, &tenant, submissions, &mut recent).await;
        }
    }
}

async fn write_tenant(
    ingestor: &Ingestor,
    tenant: &TenantId,
    submissions: Vec<Submission>,
    recent: &mut RecentKeys,
) {
    // 1. Raw payloads first, one object per source.
    let mut raw_paths: BTreeMap<&'static str, Result<Path>> = BTreeMap::new();
    let received_at = chrono::Utc::now().to_rfc3339();
    for source in submissions.iter().map(|s| s.source).collect::<HashSet<_>>() {
        let mut body = Vec::new();
        for s in submissions.iter().filter(|s| s.source == source) {
            let line = serde_json::json!({
                "received_at": received_at,
                "payload": String::from_utf8_lossy(&s.raw),
            });
            serde_json::to_writer(&mut body, &line).expect("JSON serialises");
            body.push(b'\n');
        }
        let stored = ingestor
            .keep_raw(source, tenant, "ndjson", body.into())
            .await;
        raw_paths.insert(source, stored);
    }

    // 2. Validate each request on its own: one bad request does not fail the others.
    let mut accepted: Vec<(Submission, Vec<Row>)> = Vec::new();
    for mut submission in submissions {
        let raw_path = match &raw_paths[submission.source] {
            Ok(path) => path.to_string(),
            Err(e) => {
                let _ = submission.reply.send(Err(e.clone()));
                continue;
            }
        };
        let origin = format!("{} {raw_path}", submission.source);
        let records = std::mem::take(&mut submission.records);
        match ingestor.validate(tenant, Table::Touchpoints, &origin, records) {
            Ok(rows) => accepted.push((submission, rows)),
            Err(rejected) => {
                let answer = ingestor.reject(tenant, Table::Touchpoints, rejected).await;
                let _ = submission.reply.send(Err(answer));
            }
        }
    }

    // 3. Drop rows already stored (recently, or earlier in this batch).
    let mut fresh_rows = Vec::new();
    let mut outcomes = Vec::with_capacity(accepted.len());
    let mut batch_keys = HashSet::new();
    for (submission, rows) in accepted {
        let mut outcome = IngestOutcome::default();
        for row in rows {
            let key = format!("{tenant}\u{1f}{}", Table::Touchpoints.row_key(&row));
            if recent.contains(&key) || !batch_keys.insert(key) {
                outcome.duplicates += 1;
            } else {
                fresh_rows.push(row);
                outcome.accepted += 1;
            }
        }
        outcomes.push((submission.reply, outcome));
    }

    // 4. One Parquet file per day for the whole batch; then every request is answered.
    let written: Result<()> = if fresh_rows.is_empty() {
        Ok(())
    } else {
        ingestor
            .lake
            .write_rows(Table::Touchpoints, tenant, &fresh_rows)
            .await
            .map(|_| ())
            .map_err(IngestError::from)
    };
    match written {
        Ok(()) => {
            for key in batch_keys {
                recent.insert(key);
            }
            let accepted: usize = outcomes.iter().map(|(_, o)| o.accepted).sum();
            tracing::info!(%tenant, requests = outcomes.len(), accepted, "touchpoints stored");
            for (reply, outcome) in outcomes {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(%tenant, error = %e, "touchpoints not stored");
            for (reply, _) in outcomes {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// A bounded set of recently stored keys; the oldest are forgotten first.
#[derive(Default)]
struct RecentKeys {
    keys: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentKeys {
    fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    fn insert(&mut self, key: String) {
        if self.keys.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > RECENT_KEYS
                && let Some(oldest) = self.order.pop_front()
            {
                self.keys.remove(&oldest);
            }
        }
    }
}
