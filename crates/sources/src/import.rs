//! Import files: CSV with a header row, NDJSON (one JSON object per line) or Parquet, by
//! extension, and for `fx_rates` the National Bank of Ukraine's JSON and XML rates
//! (`crate::fx`). Every record goes through `Table::parse`, the same validation the
//! webhooks use; bad records are returned with file, line and reason, never dropped.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow::array::Array;
use arrow::datatypes::DataType;
use bytes::Bytes;
use throughline_model::table::{ParseOptions, Table};
use throughline_model::{Rejected, Row};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error(
        "{file}: unsupported file type; use .csv, .ndjson (or .jsonl) or .parquet (for fx_rates also the NBU's .json or .xml)"
    )]
    UnsupportedFormat { file: String },
    #[error(
        "{file}: .json and .xml files are read as the National Bank of Ukraine's exchange rates, for table fx_rates only; use .csv, .ndjson (or .jsonl) or .parquet for {table}"
    )]
    RatesFormatOnly { file: String, table: String },
    #[error("{file}: the file is empty; expected a header row (CSV) or records")]
    Empty { file: String },
    #[error(
        "{file}: missing required column(s) {missing} for table {table}; columns found: {found}"
    )]
    MissingColumns {
        file: String,
        table: String,
        missing: String,
        found: String,
    },
}

pub type Result<T, E = ImportError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
    /// The NBU's exchange rates as a JSON array (`fx_rates` only).
    NbuJson,
    /// The NBU's exchange rates as XML (`fx_rates` only).
    NbuXml,
}

impl Format {
    pub fn of(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("ndjson" | "jsonl") => Ok(Format::Ndjson),
            Some("parquet") => Ok(Format::Parquet),
            Some("json") => Ok(Format::NbuJson),
            Some("xml") => Ok(Format::NbuXml),
            _ => Err(ImportError::UnsupportedFormat {
                file: path.display().to_string(),
            }),
        }
    }
}

/// One input record before validation, with its 1-based line (or row) number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    pub line: u64,
    pub fields: HashMap<String, String>,
}

/// The records of one file, the lines that could not even be split into fields, and the
/// columns the table does not know (reported, then ignored).
#[derive(Debug, Default)]
pub struct FileRecords {
    pub records: Vec<SourceRecord>,
    pub unreadable: Vec<Rejected>,
    pub ignored_columns: Vec<String>,
}

/// The outcome of validating one file against a table.
#[derive(Debug, Default)]
pub struct Validated {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
}

/// Reads one file's records. File-level problems (unreadable, empty, missing required
/// columns) are errors; line-level problems are returned in `unreadable`.
pub fn read_file(path: &Path, table: Table) -> Result<FileRecords> {
    let file = path.display().to_string();
    let body = std::fs::read(path).map_err(|e| ImportError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    read_bytes(&file, Format::of(path)?, Bytes::from(body), table)
}

pub fn read_bytes(file: &str, format: Format, body: Bytes, table: Table) -> Result<FileRecords> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty {
            file: file.to_owned(),
        });
    }
    let (columns, mut records) = match format {
        Format::Csv => read_csv(file, &body)?,
        Format::Ndjson => read_ndjson(file, &body),
        Format::Parquet => read_parquet(file, body)?,
        Format::NbuJson | Format::NbuXml if table != Table::FxRates => {
            return Err(ImportError::RatesFormatOnly {
                file: file.to_owned(),
                table: table.name().to_owned(),
            });
        }
        Format::NbuJson => (nbu_columns(), crate::fx::read_nbu_json(file, &body)?),
        Format::NbuXml => (nbu_columns(), crate::fx::read_nbu_xml(file, &body)?),
    };
    let missing: Vec<&str> = table
        .required_input_columns()
        .iter()
        .copied()
        .filter(|c| !columns.iter().any(|have| have == c))
        .collect();
    // NDJSON has no header: a column is missing only if no record has it.
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns {
            file: file.to_owned(),
            table: table.name().to_owned(),
            missing: missing.join(", "),
            found: if columns.is_empty() {
                "(none)".into()
            } else {
                columns.join(", ")
            },
        });
    }
    let known = table.input_columns();
    let ignored_columns = columns
        .iter()
        .filter(|c| !known.contains(&c.as_str()))
        .cloned()
        .collect();
    records
        .unreadable
        .iter_mut()
        .for_each(|r| r.origin = file.to_owned());
    records.ignored_columns = ignored_columns;
    Ok(records)
}

fn nbu_columns() -> Vec<String> {
    crate::fx::NBU_COLUMNS.map(str::to_owned).to_vec()
}

/// Validates records against a table. A key seen twice in the same input is a duplicate:
/// the first is kept, the later one rejected with a pointer to the first.
pub fn validate(
    file: &str,
    table: Table,
    records: Vec<SourceRecord>,
    options: &ParseOptions,
    mut progress: impl FnMut(usize),
) -> Validated {
    let mut out = Validated::default();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for (i, record) in records.into_iter().enumerate() {
        if i % 4096 == 0 {
            progress(i);
        }
        let reject = |reason: String, record: SourceRecord| Rejected {
            origin: file.to_owned(),
            line: record.line,
            reason,
            record: record.fields.into_iter().collect(),
        };
        match table.parse(&record.fields, options) {
            Ok(row) => {
                let key = format!("{}\u{1f}{}", row.date, table.row_key(&row));
                if let Some(first) = first_line.get(&key) {
                    let reason = format!(
                        "duplicate {}: the same key is at line {first}",
                        table.key_columns().join("+")
                    );
                    out.rejected.push(reject(reason, record));
                } else {
                    first_line.insert(key, record.line);
                    out.rows.push(row);
                }
            }
            Err(e) => out.rejected.push(reject(e.to_string(), record)),
        }
    }
    out
}

fn read_csv(file: &str, body: &[u8]) -> Result<(Vec<String>, FileRecords)> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::Read {
            file: file.to_owned(),
            reason: format!("bad header row: {e}"),
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let mut out = FileRecords::default();
    for result in reader.records() {
        match result {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line());
                let fields = header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_owned))
                    .collect();
                out.records.push(SourceRecord { line, fields });
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.unreadable.push(Rejected {
                    origin: file.to_owned(),
                    line,
                    reason: format!("malformed CSV line: {e}"),
                    record: BTreeMap::new(),
                });
            }
        }
    }
    Ok((header, out))
}

fn read_ndjson(file: &str, body: &[u8]) -> (Vec<String>, FileRecords) {
    let mut columns: Vec<String> = Vec::new();
    let mut out = FileRecords::default();
    for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
        let line = i as u64 + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut reject = |reason: String| {
            out.unreadable.push(Rejected {
                origin: file.to_owned(),
                line,
                reason,
                record: BTreeMap::from([(
                    "raw".to_owned(),
                    String::from_utf8_lossy(raw).into_owned(),
                )]),
            })
        };
        let object = match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(_) => {
                reject("expected a JSON object per line".into());
                continue;
            }
            Err(e) => {
                reject(format!("malformed JSON: {e}"));
                continue;
            }
        };
        match flat_fields(object) {
            Ok(fields) => {
                let mut keys: Vec<&String> = fields.keys().collect();
                keys.sort();
                for key in keys {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
                out.records.push(SourceRecord { line, fields });
            }
            Err(reason) => reject(reason),
        }
    }
    (columns, out)
}

/// A JSON record's fields as text, keys lowercased, nulls left out; a field holding an
/// object or array is an error naming it.
pub(crate) fn flat_fields(
    object: serde_json::Map<String, serde_json::Value>,
) -> Result<HashMap<String, String>, String> {
    let mut fields = HashMap::new();
    for (key, value) in object {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(format!(
                    "{key}: holds a JSON object or array; expected a plain value"
                ));
            }
        };
        fields.insert(key.to_ascii_lowercase(), text);
    }
    Ok(fields)
}

fn read_parquet(file: &str, body: Bytes) -> Result<(Vec<String>, FileRecords)> {
    let read_error = |e: &dyn std::fmt::Display| ImportError::Read {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body)
        .map_err(|e| read_error(&e))?;
    let columns: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_ascii_lowercase())
        .collect();
    let reader = builder.build().map_err(|e| read_error(&e))?;
    let mut out = FileRecords::default();
    let mut row_number = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| read_error(&e))?;
        // Every column is rendered as text and validated like CSV: one validation path.
        let texts: Vec<arrow::array::StringArray> = batch
            .columns()
            .iter()
            .map(|c| {
                let as_text = arrow::compute::cast(c, &DataType::Utf8)?;
                Ok(as_text
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .expect("cast to Utf8 yields a StringArray")
                    .clone())
            })
            .collect::<Result<_, arrow::error::ArrowError>>()
            .map_err(|e| read_error(&e))?;
        for i in 0..batch.num_rows() {
            row_number += 1;
            let fields = columns
                .iter()
                .zip(&texts)
                .filter(|(_, t)| !t.is_null(i))
                .map(|(name, t)| (name.clone(), t.value(i).to_owned()))
                .collect();
            out.records.push(SourceRecord {
                line: row_number,
                fields,
            });
        }
    }
    Ok((columns, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str, table: Table) -> Result<FileRecords> {
        read_bytes("t.csv", Format::Csv, Bytes::from(text.to_owned()), table)
    }

    #[test]
    fn csv_lines_are_numbered_from_the_file() {
        let read = csv(
            "event_id,ts,extra\ntp-1,2026-08-01T10:00:00Z,x\ntp-2,bad-ts,y\n",
            Table::Touchpoints,
        )
        .unwrap();
        assert_eq!(read.ignored_columns, vec!["extra"]);
        assert_eq!(read.records[1].line, 3);
        let v = validate(
            "t.csv",
            Table::Touchpoints,
            read.records,
            &ParseOptions::default(),
            |_| {},
        );
        assert_eq!(v.rows.len(), 1);
        assert_eq!(v.rejected[0].line, 3);
        assert!(
            v.rejected[0].reason.starts_with("ts:"),
            "{}",
            v.rejected[0].reason
        );
    }

    #[test]
    fn missing_columns_and_empty_files_name_the_file() {
        let e = csv("event_id,url\n", Table::Touchpoints)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.csv") && e.contains("missing required column(s) ts"),
            "{e}"
        );
        assert!(matches!(
            csv("", Table::Touchpoints),
            Err(ImportError::Empty { .. })
        ));
    }

    #[test]
    fn duplicates_in_one_file_point_at_the_first() {
        let read = csv(
            "lead_id,ts\nL1,2026-08-01T10:00:00Z\nL1,2026-08-01T10:00:00Z\n",
            Table::Leads,
        )
        .unwrap();
        let v = validate(
            "t.csv",
            Table::Leads,
            read.records,
            &ParseOptions::default(),
            |_| {},
        );
        assert_eq!(v.rows.len(), 1);
        assert!(
            v.rejected[0].reason.contains("line 2"),
            "{}",
            v.rejected[0].reason
        );
    }

    #[test]
    fn ndjson_rejects_bad_lines_and_keeps_good_ones() {
        let body = "{\"lead_id\":\"L1\",\"ts\":\"2026-08-01T10:00:00Z\"}\nnot json\n[1]\n{\"lead_id\":\"L2\",\"ts\":\"2026-08-01T10:00:00Z\",\"x\":{}}\n";
        let read = read_bytes("t.ndjson", Format::Ndjson, Bytes::from(body), Table::Leads).unwrap();
        assert_eq!(read.records.len(), 1);
        let lines: Vec<u64> = read.unreadable.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
    }

    #[test]
    fn malformed_csv_rows_are_reported() {
        let read = csv(
            "lead_id,ts\nL1,2026-08-01T10:00:00Z,extra-field\n",
            Table::Leads,
        )
        .unwrap();
        assert_eq!(read.unreadable.len(), 1);
        assert_eq!(read.unreadable[0].line, 2);
    }

    #[test]
    fn parquet_is_validated_like_csv() {
        use arrow::array::{Decimal128Array, StringArray, TimestampMicrosecondArray};
        use arrow::datatypes::{Field, Schema, TimeUnit};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Utf8, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("+03:00".into())),
                true,
            ),
            Field::new("amount", DataType::Decimal128(12, 2), true),
            Field::new("currency", DataType::Utf8, true),
        ]));
        let batch = arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["o1", "o2"])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_785_000_000_000_000), None])
                        .with_timezone("+03:00"),
                ),
                Arc::new(
                    Decimal128Array::from(vec![Some(1_250_050), Some(10)])
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
                Arc::new(StringArray::from(vec!["UAH", "UAH"])),
            ],
        )
        .unwrap();
        let mut body = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut body, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();

        let read = read_bytes(
            "o.parquet",
            Format::Parquet,
            Bytes::from(body),
            Table::Orders,
        )
        .unwrap();
        let v = validate(
            "o.parquet",
            Table::Orders,
            read.records,
            &ParseOptions::default(),
            |_| {},
        );
        assert_eq!(v.rows.len(), 1, "{:?}", v.rejected);
        assert_eq!(
            v.rows[0].values[1],
            throughline_model::Value::Timestamp(1_785_000_000_000_000)
        );
        assert_eq!(
            v.rows[0].values[5],
            throughline_model::Value::Money(125_005_000)
        );
        assert_eq!(v.rejected[0].line, 2, "row numbers for Parquet");
        assert!(
            v.rejected[0].reason.starts_with("ts: is required"),
            "{}",
            v.rejected[0].reason
        );
    }
}
