//! The state store on DynamoDB: one table, partition key `pk`, sort key `sk`, TTL attribute
//! `expires_at` (see infra/template.yaml). Claims are conditional puts.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use throughline_model::TenantId;

use super::*;

#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limits on one BatchGetItem and one BatchWriteItem request.
const BATCH_GET_LIMIT: usize = 100;
const BATCH_WRITE_LIMIT: usize = 25;
/// Requests per batch before the keys DynamoDB keeps handing back count as a failure.
const BATCH_ATTEMPTS: u32 = 8;

/// Exponential backoff between retries of a batch's unprocessed part (AWS's advice).
fn batch_backoff(attempt: u32) -> Duration {
    Duration::from_millis(25 << attempt.min(6))
}

/// Each key once, in order: one batch may not name an item twice.
fn distinct(keys: &[String]) -> Vec<&String> {
    keys.iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Sends a batch, then what DynamoDB handed back unprocessed, with backoff, up to
/// [`BATCH_ATTEMPTS`] requests; `send` answers the items it read and what it skipped.
/// Every item read is returned; what is still skipped at the end is an error.
async fn until_processed<T, F, Fut>(what: &str, batch: Vec<T>, send: F) -> StateResult<Vec<Item>>
where
    F: Fn(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = StateResult<(Vec<Item>, Vec<T>)>>,
{
    let mut read = Vec::new();
    let mut pending = batch;
    for attempt in 0..BATCH_ATTEMPTS {
        if pending.is_empty() {
            return Ok(read);
        }
        if attempt > 0 {
            tokio::time::sleep(batch_backoff(attempt)).await;
        }
        let (items, skipped) = send(pending).await?;
        read.extend(items);
        pending = skipped;
    }
    if pending.is_empty() {
        Ok(read)
    } else {
        Err(unavailable(format!(
            "{} {what} still unprocessed after {BATCH_ATTEMPTS} batch requests",
            pending.len()
        )))
    }
}

fn unavailable(e: impl std::fmt::Display) -> StateError {
    StateError::Unavailable(e.to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn json_of<T: serde::de::DeserializeOwned>(item: &Item, key: &str) -> StateResult<T> {
    let body = text(item, "record").unwrap_or_default();
    serde_json::from_str(&body).map_err(|e| StateError::Corrupt {
        key: key.into(),
        reason: e.to_string(),
    })
}

impl DynamoStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the standard AWS environment (region, credentials, `AWS_ENDPOINT_URL`).
    pub async fn from_env(table: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), table)
    }

    /// A client for a local emulator.
    pub async fn for_endpoint(endpoint: &str, table: &str) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "local",
            ))
            .load()
            .await;
        Self::new(Client::new(&config), table)
    }

    /// Creates the table (tests and `throughline state init`; on AWS the template does).
    pub async fn create_table(&self) -> StateResult<()> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete attribute definition")
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("complete key schema")
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn get(&self, pk: &str, sk: &str) -> StateResult<Option<Item>> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(found.item)
    }

    async fn put_record<T: serde::Serialize>(
        &self,
        pk: &str,
        sk: &str,
        record: &T,
    ) -> StateResult<()> {
        let body = serde_json::to_string(record).expect("state records serialise");
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(sk))
            .item("record", s(body))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn query(
        &self,
        pk: &str,
        newest_first: bool,
        limit: Option<usize>,
    ) -> StateResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .scan_index_forward(!newest_first)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            items.extend(page.items.unwrap_or_default());
            if limit.is_some_and(|l| items.len() >= l) {
                items.truncate(limit.unwrap_or(usize::MAX));
                break;
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(items)
    }
}

#[async_trait::async_trait]
impl StateStore for DynamoStateStore {
    async fn claim_key(&self, scope: &str, key: &str, ttl: Duration) -> StateResult<bool> {
        let now = now_secs();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("key#{scope}")))
            .item("sk", s(key))
            .item(
                "expires_at",
                AttributeValue::N((now + ttl.as_secs() as i64).to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    async fn has_key(&self, scope: &str, key: &str) -> StateResult<bool> {
        let item = self.get(&format!("key#{scope}"), key).await?;
        Ok(item
            .and_then(|i| {
                i.get("expires_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok())
            })
            .is_some_and(|expires| expires > now_secs()))
    }

    async fn has_keys(&self, scope: &str, keys: &[String]) -> StateResult<Vec<bool>> {
        let pk = format!("key#{scope}");
        let now = now_secs();
        let mut live = std::collections::HashSet::new();
        for chunk in distinct(keys).chunks(BATCH_GET_LIMIT) {
            let lookups: Vec<Item> = chunk
                .iter()
                .map(|key| Item::from([("pk".into(), s(&pk)), ("sk".into(), s(*key))]))
                .collect();
            let found = until_processed("key lookups", lookups, |pending| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(unavailable)?;
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
                let items = answer
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                // Throttled or over the answer's size: DynamoDB hands back what it skipped.
                let skipped = answer
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                Ok((items, skipped))
            })
            .await?;
            for item in &found {
                let expires = item
                    .get("expires_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok());
                if let (Some(key), Some(expires)) = (text(item, "sk"), expires)
                    && expires > now
                {
                    live.insert(key);
                }
            }
        }
        Ok(keys.iter().map(|key| live.contains(key)).collect())
    }

    async fn record_keys(&self, scope: &str, keys: &[String], ttl: Duration) -> StateResult<()> {
        let pk = format!("key#{scope}");
        let expires = AttributeValue::N((now_secs() + ttl.as_secs() as i64).to_string());
        for chunk in distinct(keys).chunks(BATCH_WRITE_LIMIT) {
            let writes: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    let item = Item::from([
                        ("pk".into(), s(&pk)),
                        ("sk".into(), s(*key)),
                        ("expires_at".into(), expires.clone()),
                    ]);
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(unavailable)
                })
                .collect::<StateResult<_>>()?;
            until_processed("key writes", writes, |pending| async move {
                let answer = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
                let skipped = answer
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                Ok((Vec::<Item>::new(), skipped))
            })
            .await?;
        }
        Ok(())
    }

    async fn cursor(&self, tenant: &TenantId, connector: &str) -> StateResult<Option<String>> {
        let item = self.get(&format!("cursor#{tenant}"), connector).await?;
        Ok(item.and_then(|i| text(&i, "value")))
    }

    async fn set_cursor(&self, tenant: &TenantId, connector: &str, value: &str) -> StateResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("cursor#{tenant}")))
            .item("sk", s(connector))
            .item("value", s(value))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn put_tenant(&self, tenant: &TenantRecord) -> StateResult<()> {
        self.put_record("tenant", &tenant.id, tenant).await
    }

    async fn tenant(&self, id: &str) -> StateResult<Option<TenantRecord>> {
        match self.get("tenant", id).await? {
            Some(item) => json_of(&item, id).map(Some),
            None => Ok(None),
        }
    }

    async fn tenants(&self) -> StateResult<Vec<TenantRecord>> {
        self.query("tenant", false, None)
            .await?
            .iter()
            .map(|i| json_of(i, "tenant"))
            .collect()
    }

    async fn put_api_key(&self, key_hash: &str, grant: &ApiKeyGrant) -> StateResult<()> {
        self.put_record("api_key", key_hash, grant).await
    }

    async fn api_key(&self, key_hash: &str) -> StateResult<Option<ApiKeyGrant>> {
        match self.get("api_key", key_hash).await? {
            Some(item) => json_of(&item, "api_key").map(Some),
            None => Ok(None),
        }
    }

    async fn put_job_run(&self, run: &JobRun) -> StateResult<()> {
        // Sort key = start time then id: a query reads a tenant's runs newest first.
        self.put_record(
            &format!("job_run#{}", run.tenant),
            &format!("{}#{}", run.started_at, run.run_id),
            run,
        )
        .await
    }

    async fn job_runs(&self, tenant: &TenantId, limit: usize) -> StateResult<Vec<JobRun>> {
        self.query(&format!("job_run#{tenant}"), true, Some(limit))
            .await?
            .iter()
            .map(|i| json_of(i, "job_run"))
            .collect()
    }
}
