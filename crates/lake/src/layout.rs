//! Object keys of the lake outside the tables' Delta logs. Tenant ids are validated (`TenantId`) so they cannot escape
//! their prefix; dates are ISO `YYYY-MM-DD` so Hive readers (DuckDB, Athena) parse them.

use object_store::path::Path;
use throughline_model::TenantId;

/// A tenant's partition directory of a table (its data files are under it; which of them
/// are current, only the table's log says).
pub fn table_prefix(table: &str, tenant: &TenantId) -> Path {
    Path::from(format!("tables/{table}/tenant={tenant}"))
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
