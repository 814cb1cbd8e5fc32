//! Printing record batches as a table, CSV or JSON.

use std::io::Write;

use anyhow::Result;
use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use clap::ValueEnum;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub fn print(batches: &[RecordBatch], format: Format) -> Result<()> {
    write(&mut std::io::stdout().lock(), batches, format)
}

/// Like [`print`], into a file.
pub fn write_to(path: &std::path::Path, batches: &[RecordBatch], format: Format) -> Result<()> {
    let file = std::fs::File::create(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    write(&mut out, batches, format)?;
    out.flush()?;
    Ok(())
}

fn write(out: &mut impl Write, batches: &[RecordBatch], format: Format) -> Result<()> {
    match format {
        Format::Table => writeln!(out, "{}", pretty_format_batches(batches)?)?,
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The caveats of an answer: under a table on stdout (a person reads it), on stderr for CSV
/// and JSON so the output stays machine-readable.
pub fn print_caveats(caveats: &[String], format: Format) {
    for caveat in caveats {
        match format {
            Format::Table => println!("note: {caveat}"),
            Format::Csv | Format::Json => eprintln!("note: {caveat}"),
        }
    }
}

/// Like [`print`], with a heading for tables (CSV and JSON stay machine-readable).
pub fn print_titled(title: &str, batches: &[RecordBatch], format: Format) -> Result<()> {
    if format == Format::Table {
        println!("{title}");
    }
    print(batches, format)?;
    if format == Format::Table {
        println!();
    }
    Ok(())
}
