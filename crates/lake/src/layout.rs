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

/// The one file of a partition that a connector owns and replaces whole on every pull
/// (`pull-<platform>-<account>.parquet`), so a restated day replaces the old one.
pub fn pulled_file(table: &str, tenant: &TenantId, date: i32, owner: &str) -> Path {
    let safe: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    partition_prefix(table, tenant, date).join(format!("{PULLED_FILE_PREFIX}{safe}.parquet"))
}

/// Files named so are replaced by their connector; compaction leaves them alone.
pub const PULLED_FILE_PREFIX: &str = "pull-";

pub fn manifest_prefix(table: &str, tenant: &TenantId) -> Path {
    Path::from(format!("_manifests/{table}/tenant={tenant}"))
}

/// A payload kept verbatim: `raw/<source>/tenant=<id>/date=<today>/<uuid>.<extension>`.
pub fn raw_file(source: &str, tenant: &TenantId, extension: &str) -> Path {
    Path::from(format!(
        "raw/{source}/tenant={tenant}/date={}/{}.{extension}",
        chrono::Utc::now().format("%Y-%m-%d"),
        uuid::Uuid::now_v7()
    ))
}

/// `suffix` is an extension or a sanitised original file name.
pub fn quarantine_file(source: &str, tenant: &TenantId, suffix: &str) -> Path {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    Path::from(format!(
        "quarantine/{source}/tenant={tenant}/{now}-{}.{suffix}",
        uuid::Uuid::now_v7()
    ))
}
