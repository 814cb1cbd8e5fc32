//! Object keys of the lake. Tenant ids are validated (`TenantId`) so they cannot escape
//! their prefix; dates are ISO `YYYY-MM-DD` so Hive readers (DuckDB, Athena) parse them.

use object_store::path::Path;
use throughline_model::{TenantId, field::date_string};

pub fn table_prefix(table: &str, tenant: &TenantId) -> Path {
    Path::from(format!("tables/{table}/tenant={tenant}"))
}

pub fn partition_prefix(table: &str, tenant: &TenantId, date: i32) -> Path {
    Path::from(format!(
        "tables/{table}/tenant={tenant}/date={}",
        date_string(date)
    ))
}

pub fn new_part_file(table: &str, tenant: &TenantId, date: i32) -> Path {
    // UUIDv7 sorts by creation time, which keeps listings in write order.
    partition_prefix(table, tenant, date).join(format!("part-{}.parquet", uuid::Uuid::now_v7()))
}

pub fn manifest_prefix(table: &str, tenant: &TenantId) -> Path {
    Path::from(format!("_manifests/{table}/tenant={tenant}"))
}

/// `suffix` is an extension or a sanitised original file name.
pub fn quarantine_file(source: &str, tenant: &TenantId, suffix: &str) -> Path {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    Path::from(format!(
        "quarantine/{source}/tenant={tenant}/{now}-{}.{suffix}",
        uuid::Uuid::now_v7()
    ))
}
