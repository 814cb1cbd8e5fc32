//! Import files: `read_bytes` for CSV and NDJSON, into each input table. The first byte
//! picks the format (bit 0) and the table (the rest, modulo 5); the remaining bytes are
//! the file.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use throughline_model::table::Table;
use throughline_sources::import::{self, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let (format, name) = if selector & 1 == 0 {
        (Format::Csv, "fuzz.csv")
    } else {
        (Format::Ndjson, "fuzz.ndjson")
    };
    let table = Table::ALL[usize::from(selector >> 1) % Table::ALL.len()];
    if let Ok(records) = import::read_bytes(name, format, Bytes::copy_from_slice(file), table) {
        for record in &records.records {
            assert!(record.line >= 1, "line numbers are 1-based: {record:?}");
        }
    }
});
