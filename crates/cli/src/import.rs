//! `throughline import`: read each file, store it with the shared import step
//! (`store_file_records`), and report what was stored and rejected.

use std::path::PathBuf;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use throughline_ingest::{FileImport, store_file_records};
use throughline_lake::Lake;
use throughline_model::TenantId;
use throughline_model::contact::check_country_code;
use throughline_model::table::{ParseOptions, Table};
use throughline_sources::import::read_file;

/// How many rejected rows are printed per file; all of them are kept in quarantine.
const SHOWN_REJECTIONS: usize = 20;

/// Imports files into one table. Returns whether every row of every file was accepted.
pub async fn import_files(
    lake: &Lake,
    tenant: &TenantId,
    table: Table,
    phone_country: Option<String>,
    files: &[PathBuf],
) -> Result<bool> {
    if let Some(code) = &phone_country {
        check_country_code(code)?;
    }
    let options = ParseOptions {
        default_country_code: phone_country,
    };
    let mut clean = true;
    for path in files {
        let name = path.display().to_string();
        let read = match read_file(path, table) {
            Ok(read) => read,
            Err(e) => {
                eprintln!("error: {e}");
                if let Ok(body) = std::fs::read(path)
                    && !body.is_empty()
                {
                    let file_name = path
                        .file_name()
                        .map_or("input".into(), |n| n.to_string_lossy().into_owned());
                    let kept = lake
                        .quarantine_file(table.name(), tenant, &file_name, body.into())
                        .await?;
                    eprintln!("       the file is kept as {kept}");
                }
                clean = false;
                continue;
            }
        };
        if !read.ignored_columns.is_empty() {
            eprintln!(
                "{name}: ignoring unknown column(s): {}",
                read.ignored_columns.join(", ")
            );
        }
        let bar = ProgressBar::new(read.records.len() as u64).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} rows")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(format!("{name} -> {}", table.name()));
        let total = read.records.len();
        let progress = |done: usize| bar.set_position(done as u64);
        let FileImport {
            appended,
            rejected,
            quarantined,
        } = store_file_records(lake, tenant, table, &name, read, &options, progress).await?;
        bar.set_position(total as u64);
        bar.finish_and_clear();
        println!(
            "{name}: {} rows stored in {}, {} already in the lake, {} rejected",
            appended.stored,
            table.name(),
            appended.already_present,
            rejected.len()
        );
        if rejected.is_empty() {
            continue;
        }
        clean = false;
        for r in rejected.iter().take(SHOWN_REJECTIONS) {
            eprintln!("{}:{}: {}", r.origin, r.line, r.reason);
        }
        if rejected.len() > SHOWN_REJECTIONS {
            eprintln!("… and {} more", rejected.len() - SHOWN_REJECTIONS);
        }
        if let Some(kept) = quarantined {
            eprintln!(
                "{name}: rejected rows are kept with their reasons in {}/{kept}",
                lake.location()
            );
        }
    }
    Ok(clean)
}
