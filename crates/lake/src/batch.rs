//! Validated rows to Arrow record batches, following the table's stored schema.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use throughline_model::money::{MONEY_PRECISION, MONEY_SCALE, RATE_PRECISION, RATE_SCALE};
use throughline_model::table::{ColumnType, Table};
use throughline_model::{Row, Value};

use crate::Result;

pub fn rows_to_batch(table: Table, rows: &[&Row]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = table
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| column_array(column.kind, rows.iter().map(|r| &r.values[i])))
        .collect();
    Ok(RecordBatch::try_new(table.schema(), columns)?)
}

fn column_array<'a>(kind: ColumnType, values: impl Iterator<Item = &'a Value>) -> ArrayRef {
    // Rows come from `Table::parse`, which yields exactly the column's kind or Null, so a
    // mismatch is a bug in that function: it is stored as null rather than panicking.
    match kind {
        ColumnType::Text => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    Value::Text(s) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Timestamp => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
            for v in values {
                match v {
                    Value::Timestamp(t) => b.append_value(*t),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Money => {
            let mut b = Decimal128Builder::new();
            for v in values {
                match v {
                    Value::Money(m) => b.append_value(*m),
                    _ => b.append_null(),
                }
            }
            Arc::new(
                b.finish()
                    .with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE)
                    .expect("money precision and scale are valid constants"),
            )
        }
        ColumnType::Rate => {
            let mut b = Decimal128Builder::new();
            for v in values {
                match v {
                    Value::Rate(r) => b.append_value(*r),
                    _ => b.append_null(),
                }
            }
            Arc::new(
                b.finish()
                    .with_precision_and_scale(RATE_PRECISION, RATE_SCALE)
                    .expect("rate precision and scale are valid constants"),
            )
        }
        ColumnType::Count => {
            let mut b = Int64Builder::new();
            for v in values {
                match v {
                    Value::Count(n) => b.append_value(*n),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
    }
}
