//! Runs the SQL tests in `sql/tests/*.slt` (sqllogictest format) against the views of
//! `sql/`, each file in a fresh DataFusion session set up the way `Engine::open` sets up
//! production: channel functions, the input tables with their `date` partition
//! column, the parameter tables and the views. Every table starts empty; the files insert
//! their own fixtures, so each file reads as a complete, hand-checked example.
//!
//! Run: `cargo test -p throughline-engine --test sqllogictests`.
//! `THROUGHLINE_SLT_COMPLETE=1` rewrites the expected results with the actual ones; the
//! rewritten values must then be checked by hand against the documented definitions.

use std::error::Error;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Runner, default_normalizer, default_validator,
    strict_column_validator,
};
use throughline_engine::{
    KPI_LOOKUPS, SqlFile, install_sql, register_channel_functions, register_models, session_config,
};
use throughline_model::channel::ChannelRules;
use throughline_model::table::Table;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::test(flavor = "multi_thread")]
async fn sql_logic_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let dir = root.join("sql/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());

    let complete = std::env::var_os("THROUGHLINE_SLT_COMPLETE").is_some();
    // Run every file even when one fails, then report all failures together.
    let mut failures = Vec::new();
    for file in &files {
        if let Err(message) = run_file(file, complete).await {
            let name = file.strip_prefix(&root).unwrap_or(file);
            failures.push(format!("{}:\n{message}", name.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} .slt files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

async fn run_file(file: &Path, complete: bool) -> Result<(), String> {
    let ctx = production_like_session()
        .await
        .map_err(|e| format!("session setup failed: {e}"))?;
    // The runner asks for a connection lazily; all of a file's records share this session.
    let mut runner = Runner::new(move || {
        let ctx = ctx.clone();
        async move { Ok(DataFusionDb { ctx }) }
    });
    runner.with_column_validator(strict_column_validator);
    if complete {
        runner
            .update_test_file(
                file,
                " ",
                default_validator,
                default_normalizer,
                strict_column_validator,
            )
            .await
            .map_err(|e| e.to_string())
    } else {
        runner
            .run_file_async(file)
            .await
            .map_err(|e| e.display(false).to_string())
    }
}

/// A session like `Engine::open`'s, with empty in-memory tables instead of the lake.
async fn production_like_session() -> Result<SessionContext, BoxError> {
    let ctx = SessionContext::new_with_config(session_config());
    register_channel_functions(&ctx, Arc::new(ChannelRules::builtin()));
    register_models(&ctx)?;
    for table in Table::ALL {
        // In production the Hive partition column `date` follows the file columns.
        let mut fields: Vec<Field> = table
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("date", DataType::Date32, true));
        register_empty(&ctx, table.name(), Schema::new(fields))?;
    }
    // The same Arrow types as the one-row batches the engine builds (`params_batch`).
    register_empty(
        &ctx,
        "job_params",
        Schema::new(vec![
            Field::new("lookback_days", DataType::Int64, false),
            Field::new("half_life_days", DataType::Float64, false),
            Field::new("from_date", DataType::Date32, true),
            Field::new("to_date", DataType::Date32, true),
        ]),
    )?;
    register_empty(
        &ctx,
        "kpi_params",
        Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("group_by", DataType::Utf8, false),
            Field::new("from_date", DataType::Date32, true),
            Field::new("to_date", DataType::Date32, true),
            Field::new("currency", DataType::Utf8, true),
        ]),
    )?;
    register_empty(
        &ctx,
        "funnel_params",
        Schema::new(vec![Field::new("group_by", DataType::Utf8, false)]),
    )?;

    install_sql(&ctx, SqlFile::Journeys).await?;
    install_sql(&ctx, SqlFile::Attribution).await?;
    // The job's output table: the files fill it with
    // `INSERT INTO attribution SELECT * FROM attribution_result`.
    let attribution = ctx
        .table("attribution_result")
        .await?
        .schema()
        .as_arrow()
        .clone();
    register_empty(&ctx, "attribution", attribution)?;
    // rollups.sql's and kpi.sql's lookups in full; the engine empties those a query cannot need.
    for (view, source) in KPI_LOOKUPS {
        ctx.sql(&format!("CREATE VIEW {view} AS SELECT * FROM {source}"))
            .await?
            .collect()
            .await?;
    }
    install_sql(&ctx, SqlFile::Rollups).await?;
    install_sql(&ctx, SqlFile::Kpi).await?;
    install_sql(&ctx, SqlFile::Funnel).await?;
    install_sql(&ctx, SqlFile::Customers).await?;
    Ok(ctx)
}

/// An empty `MemTable`: it accepts INSERT and DELETE, and views created over it see the
/// rows, because they hold the same table and not a copy.
fn register_empty(ctx: &SessionContext, name: &str, schema: Schema) -> Result<(), BoxError> {
    let table = MemTable::try_new(Arc::new(schema), vec![vec![]])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

struct DataFusionDb {
    ctx: SessionContext,
}

impl DataFusionDb {
    async fn execute(&self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let frame = self.ctx.sql(sql).await?;
        let is_dml = matches!(frame.logical_plan(), LogicalPlan::Dml(_));
        let is_ddl = matches!(frame.logical_plan(), LogicalPlan::Ddl(_));
        let types: Vec<DefaultColumnType> = frame
            .schema()
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let batches = frame.collect().await?;
        if is_dml {
            // INSERT / DELETE return one `count` column: report it, so that
            // `statement count N` can check how many rows a fixture added.
            let count = batches
                .iter()
                .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().iter())
                .map(|n| n.unwrap_or(0))
                .sum();
            Ok(DBOutput::StatementComplete(count))
        } else if is_ddl {
            Ok(DBOutput::StatementComplete(0))
        } else {
            Ok(DBOutput::Rows {
                types,
                rows: format_rows(&batches)?,
            })
        }
    }
}

// `AsyncDB` is declared with `#[async_trait]`; these are that macro's signatures written
// out, so the test needs no extra dependency for one trait.
impl AsyncDB for DataFusionDb {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    fn run<'a, 'b, 'f>(
        &'a mut self,
        sql: &'b str,
    ) -> Pin<
        Box<dyn Future<Output = Result<DBOutput<DefaultColumnType>, DataFusionError>> + Send + 'f>,
    >
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(self.execute(sql))
    }

    fn shutdown<'a, 'f>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'f>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async {})
    }

    fn engine_name(&self) -> &str {
        "datafusion"
    }
}

/// Column type letters as in DataFusion's own sqllogictests: I integer, R float or
/// decimal, T text, `?` anything else (timestamps, dates, booleans).
fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating()
            || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
        {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

/// Formats every value as text: NULL as `NULL`, the empty string as `(empty)` (the
/// runner's whitespace normalisation would hide it), floats rounded to 12 decimals with
/// trailing zeros dropped (so 1/3 is `0.333333333333` and 1.0 is `1`), and everything
/// else (decimals with their full scale, timestamps in RFC 3339) as Arrow displays it.
fn format_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let options = FormatOptions::new().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| match column.data_type() {
                    _ if column.is_null(row) => "NULL".to_owned(),
                    DataType::Float64 => float(column.as_primitive::<Float64Type>().value(row)),
                    DataType::Float32 => {
                        float(f64::from(column.as_primitive::<Float32Type>().value(row)))
                    }
                    _ => match formatter.value(row).to_string() {
                        s if s.is_empty() => "(empty)".to_owned(),
                        s => s,
                    },
                })
                .collect();
            rows.push(cells);
        }
    }
    Ok(rows)
}

fn float(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.12}");
    match text.trim_end_matches('0').trim_end_matches('.') {
        "-0" => "0".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}
