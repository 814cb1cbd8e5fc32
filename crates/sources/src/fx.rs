//! Exchange-rate files of the National Bank of Ukraine, read into `fx_rates` records.
//!
//! The NBU publishes its official hryvnia rates as a JSON array
//! (`NBUStatService/v1/statdirectory/exchange?json`):
//! `[{"r030":840,"txt":"Долар США","rate":41.4123,"cc":"USD","exchangedate":"25.11.2026"}, …]`
//! and as XML (`…/exchange` without `?json`):
//! `<exchange><currency><r030>840</r030><txt>…</txt><rate>41.4123</rate><cc>USD</cc>
//! <exchangedate>25.11.2026</exchangedate></currency>…</exchange>`.
//! The `exchange_site` and period variants add `enname`, `units`, `rate_per_unit`, `group`
//! and `calcdate`. Every record becomes one `fx_rates` record with base UAH: `cc` is the
//! currency, `exchangedate` (DD.MM.YYYY) the day the rate applies to, `rate` the hryvnias
//! for `units` units of the currency (1 when absent). When `rate_per_unit` is given too, it
//! must agree with `rate / units` to its last published decimal: a record that disagrees
//! with itself is rejected rather than guessed. The NBU's own fields stay in the record,
//! so a rejected one is kept in quarantine as it was published.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use quick_xml::events::Event;
use serde_json::value::RawValue;
use throughline_model::Rejected;
use throughline_model::money::{RATE_SCALE, parse_rate};

use crate::import::{FileRecords, ImportError, SourceRecord};

/// The NBU quotes every currency in hryvnias.
pub const NBU_BASE: &str = "UAH";

/// The `fx_rates` import columns an NBU record is mapped to.
pub(crate) const NBU_COLUMNS: [&str; 5] = ["date", "currency", "rate", "units", "base"];

/// Reads the NBU's JSON form: an array of flat objects. Lines are the file lines where
/// each record starts.
pub(crate) fn read_nbu_json(file: &str, body: &[u8]) -> Result<FileRecords, ImportError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let raw: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| ImportError::Read {
        file: file.to_owned(),
        reason: format!(
            "not the NBU's JSON rates (an array of records like {{\"cc\":\"USD\",\"rate\":41.4123,\"exchangedate\":\"25.11.2026\"}}): {e}"
        ),
    })?;
    let mut lines = LineCounter::new(body);
    let mut out = FileRecords::default();
    for value in raw {
        let offset = value.get().as_ptr() as usize - body.as_ptr() as usize;
        let line = lines.line_at(offset);
        let reject = |reason: String| Rejected {
            origin: file.to_owned(),
            line,
            reason,
            record: BTreeMap::from([("raw".to_owned(), value.get().to_owned())]),
        };
        let object = match serde_json::from_str::<serde_json::Value>(value.get()) {
            Ok(serde_json::Value::Object(o)) => o,
            _ => {
                out.unreadable
                    .push(reject("expected a JSON object per rate record".into()));
                continue;
            }
        };
        match crate::import::flat_fields(object) {
            Ok(fields) => push_nbu_record(file, line, fields, &mut out),
            Err(reason) => out.unreadable.push(reject(reason)),
        }
    }
    Ok(out)
}

/// Reads the NBU's XML form: `<currency>` elements whose child elements are the fields,
/// under any root element. Lines are the file lines of each `<currency>`.
pub(crate) fn read_nbu_xml(file: &str, body: &[u8]) -> Result<FileRecords, ImportError> {
    let malformed = |reason: String| ImportError::Read {
        file: file.to_owned(),
        reason: format!("malformed XML: {reason}"),
    };
    let text =
        std::str::from_utf8(body).map_err(|e| malformed(format!("the file is not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut lines = LineCounter::new(text.as_bytes());
    let mut out = FileRecords::default();
    // The open <currency> (its depth, line and fields) and the open field within it.
    let mut record: Option<(usize, u64, HashMap<String, String>)> = None;
    let mut field: Option<(String, String)> = None;
    let mut depth = 0usize;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position() as usize;
            malformed(format!("line {}: {e}", lines.line_at(at)))
        })?;
        match event {
            Event::Start(start) => {
                depth += 1;
                let name =
                    String::from_utf8_lossy(start.local_name().as_ref()).to_ascii_lowercase();
                match &record {
                    None if name == "currency" => {
                        // The event's span starts with any whitespace before the tag.
                        let at = before + text[before..].find('<').unwrap_or(0);
                        record = Some((depth, lines.line_at(at), HashMap::new()));
                    }
                    Some((at, ..)) if depth == at + 1 => field = Some((name, String::new())),
                    // Elements nested in a field only add their text to it.
                    _ => {}
                }
            }
            Event::End(_) => {
                match record.as_mut() {
                    Some((at, _, fields)) if depth == *at + 1 => {
                        if let Some((name, value)) = field.take() {
                            fields.insert(name, value.trim().to_owned());
                        }
                    }
                    Some((at, ..)) if depth == *at => {
                        if let Some((_, line, fields)) = record.take() {
                            push_nbu_record(file, line, fields, &mut out);
                        }
                    }
                    _ => {}
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if let Some((_, value)) = field.as_mut() {
                    value.push_str(&t.decode().map_err(|e| malformed(e.to_string()))?);
                }
            }
            Event::CData(t) => {
                if let Some((_, value)) = field.as_mut() {
                    value.push_str(&t.decode().map_err(|e| malformed(e.to_string()))?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, value)) = field.as_mut() {
                    let name = r.decode().map_err(|e| malformed(e.to_string()))?;
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => value.push(c),
                        _ => value.push_str(
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| malformed(format!("unknown entity &{name};")))?,
                        ),
                    }
                }
            }
            Event::Eof => break,
            // `<special/>` and the like: an empty field is a missing one.
            Event::Empty(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_) => {}
        }
    }
    if record.is_some() {
        return Err(malformed("the last <currency> is not closed".into()));
    }
    Ok(out)
}

/// Maps one NBU record (its fields under their NBU names, lower-cased) onto the `fx_rates`
/// import columns; what cannot be mapped is rejected naming the NBU field.
fn push_nbu_record(
    file: &str,
    line: u64,
    mut fields: HashMap<String, String>,
    out: &mut FileRecords,
) {
    fields.retain(|_, v| !v.trim().is_empty());
    let reject = |reason: String, fields: HashMap<String, String>| Rejected {
        origin: file.to_owned(),
        line,
        reason,
        record: fields.into_iter().collect(),
    };
    let missing: Vec<&str> = ["cc", "rate", "exchangedate"]
        .into_iter()
        .filter(|f| !fields.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        let reason = format!("{}: missing from the NBU record", missing.join(", "));
        out.unreadable.push(reject(reason, fields));
        return;
    }
    let published = fields["exchangedate"].trim().to_owned();
    let date = match NaiveDate::parse_from_str(&published, "%d.%m.%Y") {
        Ok(d) => d.format("%Y-%m-%d").to_string(),
        Err(_) => {
            let reason = format!("exchangedate: {published:?} is not a date (DD.MM.YYYY)");
            out.unreadable.push(reject(reason, fields));
            return;
        }
    };
    if let Some(reason) = rate_per_unit_disagreement(&fields) {
        out.unreadable.push(reject(reason, fields));
        return;
    }
    let currency = fields["cc"].clone();
    fields.insert("date".into(), date);
    fields.insert("currency".into(), currency);
    fields.insert("base".into(), NBU_BASE.into());
    out.records.push(SourceRecord { line, fields });
}

/// `rate_per_unit`, when given, must be `rate / units` to its last published decimal.
/// Values that do not parse are left for the table's own checks to report.
fn rate_per_unit_disagreement(fields: &HashMap<String, String>) -> Option<String> {
    let per_unit_text = fields.get("rate_per_unit")?.trim();
    let units: u32 = match fields.get("units") {
        Some(u) => u.trim().parse().ok().filter(|n| *n > 0)?,
        None => 1,
    };
    let from_rate = parse_rate(&fields["rate"], units).ok()?;
    let per_unit = parse_rate(per_unit_text, 1).ok()?;
    let decimals = per_unit_text
        .split_once('.')
        .map_or(0, |(_, d)| d.len() as u32)
        .min(RATE_SCALE as u32);
    let last_place = 10i128.pow(RATE_SCALE as u32 - decimals);
    ((from_rate - per_unit).abs() > last_place).then(|| {
        format!(
            "rate_per_unit: {per_unit_text} disagrees with rate {} for {units} unit(s)",
            fields["rate"].trim()
        )
    })
}

/// 1-based line numbers of byte offsets, for offsets visited in increasing order.
struct LineCounter<'a> {
    body: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.body.len());
        if offset < self.offset {
            *self = Self::new(self.body);
        }
        self.line += self.body[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.offset = offset;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use throughline_model::Value;
    use throughline_model::field::date_string;
    use throughline_model::table::{ParseOptions, Table};

    use crate::import::{Format, ImportError, Validated, read_bytes, validate};

    const EXCHANGE: &str = include_str!("../tests/fixtures/fx/nbu_exchange.json");
    const EXCHANGE_SITE: &str = include_str!("../tests/fixtures/fx/nbu_exchange_site.json");
    const EXCHANGE_XML: &str = include_str!("../tests/fixtures/fx/nbu_exchange.xml");
    const BAD: &str = include_str!("../tests/fixtures/fx/nbu_bad.json");

    fn import(name: &str, format: Format, body: &str) -> Validated {
        let read = read_bytes(name, format, Bytes::from(body.to_owned()), Table::FxRates)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            read.ignored_columns.is_empty(),
            "{:?}",
            read.ignored_columns
        );
        let mut v = validate(
            name,
            Table::FxRates,
            read.records,
            &ParseOptions::default(),
            |_| {},
        );
        v.rejected.extend(read.unreadable);
        v.rejected.sort_by_key(|r| r.line);
        v
    }

    /// (date, currency, base, rate mantissa in 10^-8) of each row.
    fn rows(v: &Validated) -> Vec<(String, String, String, i128)> {
        v.rows
            .iter()
            .map(|row| match row.values.as_slice() {
                [Value::Text(c), Value::Text(b), Value::Rate(r)] => {
                    (date_string(row.date), c.clone(), b.clone(), *r)
                }
                other => panic!("not an fx_rates row: {other:?}"),
            })
            .collect()
    }

    fn row(date: &str, currency: &str, rate: i128) -> (String, String, String, i128) {
        (date.into(), currency.into(), "UAH".into(), rate)
    }

    #[test]
    fn every_nbu_json_record_is_a_rate_into_uah() {
        let v = import("nbu.json", Format::NbuJson, EXCHANGE);
        assert!(v.rejected.is_empty(), "{:?}", v.rejected);
        assert_eq!(
            rows(&v),
            vec![
                row("2026-11-25", "USD", 4_141_230_000),
                row("2026-11-25", "EUR", 4_785_120_000),
                row("2026-11-25", "PLN", 1_120_340_000),
                row("2026-11-25", "JPY", 26_931_000),
                row("2026-11-25", "XDR", 5_604_170_000),
            ]
        );
    }

    #[test]
    fn exchange_site_rates_for_many_units_are_stored_per_unit() {
        let v = import("site.json", Format::NbuJson, EXCHANGE_SITE);
        assert!(v.rejected.is_empty(), "{:?}", v.rejected);
        assert_eq!(
            rows(&v),
            vec![
                row("2026-11-24", "USD", 4_138_760_000),
                // 26.9154 UAH per 100 yen.
                row("2026-11-24", "JPY", 26_915_400),
            ]
        );
    }

    #[test]
    fn the_xml_form_reads_like_the_json_form() {
        let v = import("nbu.xml", Format::NbuXml, EXCHANGE_XML);
        assert!(v.rejected.is_empty(), "{:?}", v.rejected);
        assert_eq!(
            rows(&v),
            vec![
                row("2026-11-25", "USD", 4_141_230_000),
                row("2026-11-25", "EUR", 4_785_120_000),
                row("2026-11-24", "JPY", 26_915_400),
            ]
        );
    }

    #[test]
    fn bad_records_are_rejected_by_line_naming_the_field() {
        let v = import("bad.json", Format::NbuJson, BAD);
        assert_eq!(rows(&v), vec![row("2026-11-25", "USD", 4_141_230_000)]);
        let rejected: Vec<(u64, &str)> = v
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            rejected,
            vec![
                (3, "cc: missing from the NBU record"),
                (4, "exchangedate: \"2026-11-25\" is not a date (DD.MM.YYYY)"),
                (5, "rate: \"-52.1\" must be greater than 0"),
                (
                    6,
                    "currency: unknown currency \"XYZ\": use an ISO 4217 code such as UAH, USD or EUR"
                ),
                (
                    7,
                    "rate_per_unit: 26.9154 disagrees with rate 26.9154 for 100 unit(s)"
                ),
            ]
        );
        // Quarantine keeps the record as the NBU published it.
        assert_eq!(v.rejected[0].record["txt"], "Євро");
        assert_eq!(v.rejected[3].record["cc"], "XYZ");
    }

    #[test]
    fn unreadable_rate_files_name_the_file() {
        let err = |format, body: &str, table| {
            read_bytes("r.x", format, Bytes::from(body.to_owned()), table)
                .unwrap_err()
                .to_string()
        };
        let e = err(Format::NbuJson, "{\"cc\":\"USD\"}", Table::FxRates);
        assert!(
            e.starts_with("r.x: cannot read: not the NBU's JSON rates"),
            "{e}"
        );
        let e = err(
            Format::NbuXml,
            "<exchange>\n<currency><cc>USD</rate></currency>\n</exchange>",
            Table::FxRates,
        );
        assert!(e.contains("malformed XML: line 2"), "{e}");
        let e = err(
            Format::NbuXml,
            "<exchange><currency><cc>USD</cc>",
            Table::FxRates,
        );
        assert!(e.contains("malformed XML"), "{e}");
        assert!(matches!(
            read_bytes("c.json", Format::NbuJson, Bytes::from("[]"), Table::AdCosts),
            Err(ImportError::RatesFormatOnly { .. })
        ));
        assert_eq!(
            Format::of(std::path::Path::new("rates.XML")).unwrap(),
            Format::NbuXml
        );
    }

    #[test]
    fn csv_rates_use_the_same_columns() {
        let body = "date,currency,rate,units,base\n2026-11-25,USD,41.4123,,UAH\n2026-11-25,HUF,11.52,100,UAH\n2026-11-25,UAH,0.02415,,USD\n";
        let read = read_bytes("fx.csv", Format::Csv, Bytes::from(body), Table::FxRates).unwrap();
        let v = validate(
            "fx.csv",
            Table::FxRates,
            read.records,
            &ParseOptions::default(),
            |_| {},
        );
        assert!(v.rejected.is_empty(), "{:?}", v.rejected);
        let r = rows(&v);
        assert_eq!(r[1], row("2026-11-25", "HUF", 11_520_000));
        assert_eq!(r[2].2, "USD");
        assert_eq!(r[2].3, 2_415_000);
    }
}
