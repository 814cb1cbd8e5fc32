//! The model's parsers: `tracking::parse_landing_url` and `Table::parse`. The first byte
//! picks the table (modulo 5) and whether a default country code is set (bit 7); the rest
//! is UTF-8 text, one value per line, given to the table's input columns in order. Every
//! value is also parsed as a landing URL.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use throughline_model::table::{ParseOptions, Table};
use throughline_model::tracking::{CLICK_ID_PARAMS, parse_landing_url};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let table = Table::ALL[usize::from(selector & 0x7f) % Table::ALL.len()];
    let options = ParseOptions {
        default_country_code: (selector & 0x80 != 0).then(|| "380".to_owned()),
    };
    for line in std::iter::once(text).chain(text.lines()) {
        let campaign = parse_landing_url(line);
        assert_eq!(campaign.click_id.is_some(), campaign.click_id_type.is_some());
        if let Some(kind) = &campaign.click_id_type {
            assert!(CLICK_ID_PARAMS.contains(&kind.as_str()), "{kind:?}");
        }
    }
    let record: HashMap<String, String> = table
        .input_columns()
        .iter()
        .zip(text.lines())
        .map(|(column, value)| ((*column).to_owned(), value.to_owned()))
        .collect();
    if let Ok(row) = table.parse(&record, &options) {
        assert_eq!(row.values.len(), table.columns().len());
        let _ = table.row_key(&row);
    }
});
