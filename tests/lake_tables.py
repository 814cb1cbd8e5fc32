"""Reads a Throughline lake's tables the way an analyst would: through each table's Delta log.

Every `<lake>/tables/<table>/` is one Delta Lake table. Its data files sit under
`tenant=<id>/date=<YYYY-MM-DD>/` (the KPI rollups under `tenant=<id>/` only), but files a
commit removed stay on disk until VACUUM and a crashed job may leave files no commit names:
only `_delta_log/` says which files are current, so nothing here globs `*.parquet`.

Python's `deltalake` reads the log and the files; DuckDB queries its Arrow output (DuckDB's
own delta extension is not used: it is downloaded at run time). Shared by tests/ and bench/
(a bench script puts this directory on sys.path).

    read_table(lake, "touchpoints", tenant="demo")          -> pyarrow.Table, with tenant and date
    register(con, "touchpoints", lake, "touchpoints", "demo")  # a DuckDB view of the same rows
    current_files(lake, "attribution", tenant="demo")       -> ["tables/attribution/tenant=demo/…", …]
    committed_days(lake, "ad_costs", "demo")                -> ["2026-11-01", …]
    table_exists(lake, "fx_rates")
"""

from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

# The partition columns: `tenant` on every table, `date` on all but the KPI rollups.
TENANT, DATE = "tenant", "date"
INPUT_TABLES = ["touchpoints", "leads", "deal_events", "orders", "ad_costs", "fx_rates", "ad_clicks"]
ATTRIBUTION = "attribution"
ROLLUP_TABLES = ["kpi_cost_days", "kpi_conversion_days", "kpi_fx_rates"]


def table_path(lake, table):
    return Path(lake) / "tables" / table


def table_exists(lake, table):
    """Whether `tables/<table>/` is a Delta table (has a commit in its `_delta_log/`)."""
    return DeltaTable.is_deltatable(str(table_path(lake, table)))


def open_table(lake, table, version=None):
    """The table at its newest version, or at `version`."""
    return DeltaTable(str(table_path(lake, table)), version=version)


def read_table(lake, table, tenant=None, version=None, columns=None):
    """The rows of the table's current files (of one tenant, if given), partition columns
    (`tenant`, and `date` where the table has it) included, typed as the log declares them."""
    filters = [(TENANT, "=", tenant)] if tenant is not None else None
    return open_table(lake, table, version).to_pyarrow_table(filters=filters, columns=columns)


def register(con, name, lake, table, tenant=None, version=None):
    """Exposes `read_table(...)` to the DuckDB connection `con` as the view `name`; returns
    the Arrow table (DuckDB scans it in place)."""
    rows = read_table(lake, table, tenant, version)
    con.register(name, rows)
    return rows


def _add_actions(lake, table, tenant=None, version=None):
    """The log's add actions of the current files: path, size, rows, `partition.<column>`."""
    actions = pa.table(open_table(lake, table, version).get_add_actions(flatten=True))
    if tenant is not None:
        actions = actions.filter(pc.equal(actions[f"partition.{TENANT}"], tenant))
    return actions


def current_files(lake, table, tenant=None, version=None):
    """The data files the log names (of one tenant, if given), relative to the lake root,
    sorted. The log stores paths URI-encoded and relative to the table."""
    paths = _add_actions(lake, table, tenant, version)["path"].to_pylist()
    return sorted(f"tables/{table}/{unquote(p)}" for p in paths)


def committed_days(lake, table, tenant, version=None):
    """The `date` partitions (YYYY-MM-DD) that hold a current file of the tenant, sorted."""
    days = _add_actions(lake, table, tenant, version)[f"partition.{DATE}"].to_pylist()
    return sorted({str(d) for d in days if d is not None})
