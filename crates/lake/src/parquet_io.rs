//! Parquet encoding: zstd, statistics on, one row group per ~1M rows, readable as-is by
//! DuckDB, pyarrow and Athena.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::Result;

pub fn write_parquet(batches: &[RecordBatch]) -> Result<Bytes> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| parquet::errors::ParquetError::General("no batches to write".into()))?;
    let props = writer_properties()?;
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, schema, Some(props))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(Bytes::from(buffer))
}

/// How the lake's Parquet files are written (compaction writes with the same).
pub(crate) fn writer_properties() -> Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(1024 * 1024))
        .build())
}

/// Reads a whole Parquet file with its schema (known even when it holds no rows).
pub fn read_parquet_file(file: Bytes) -> Result<(arrow::datatypes::SchemaRef, Vec<RecordBatch>)> {
    let builder = reader(file)?;
    let schema = builder.schema().clone();
    let batches = builder.build()?.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

/// Reads a Parquet file, optionally only the named columns.
pub fn read_parquet(file: Bytes, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
    let mut builder = reader(file)?;
    if let Some(names) = columns {
        let mask = ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
        builder = builder.with_projection(mask);
    }
    let reader = builder.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// A reader of the file whose string and binary columns come out as `Utf8` and `Binary`:
/// Delta OPTIMIZE (delta-rs) writes them as view types, this crate as plain ones, and the
/// lake's readers compare and concatenate files of both kinds.
fn reader(file: Bytes) -> Result<ParquetRecordBatchReaderBuilder<Bytes>> {
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())?;
    let plain = |t: &DataType| match t {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    };
    let schema = metadata.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| plain(f.data_type()).is_some())
    {
        return Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file, metadata,
        ));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match plain(f.data_type()) {
            Some(t) => f.as_ref().clone().with_data_type(t),
            None => f.as_ref().clone(),
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )));
    Ok(ParquetRecordBatchReaderBuilder::try_new_with_options(
        file, options,
    )?)
}
