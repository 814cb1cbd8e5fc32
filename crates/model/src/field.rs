//! Parsing of single fields of an incoming record, with messages that say what to fix.

use chrono::{DateTime, NaiveDate};

use crate::error::RowError;

/// One incoming record (a CSV row, an NDJSON object, a webhook payload mapped to the
/// import columns). `field` returns the trimmed value, or `None` when absent or empty.
pub trait Record {
    fn field(&self, column: &str) -> Option<&str>;
}

impl Record for std::collections::HashMap<String, String> {
    fn field(&self, column: &str) -> Option<&str> {
        self.get(column).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

pub fn required<'r>(record: &'r impl Record, column: &str) -> Result<&'r str, RowError> {
    record
        .field(column)
        .ok_or_else(|| RowError::new(column, "is required but empty"))
}

/// Microseconds since the Unix epoch, from ISO 8601 / RFC 3339 with an explicit offset.
pub fn parse_timestamp(column: &str, text: &str) -> Result<i64, RowError> {
    let candidate = if text.len() > 10 && text.as_bytes()[10] == b' ' {
        // "2026-08-03 14:22:05+03:00" is common in exports; RFC 3339 wants the 'T'.
        let mut s = text.to_owned();
        s.replace_range(10..11, "T");
        s
    } else {
        text.to_owned()
    };
    match DateTime::parse_from_rfc3339(&candidate) {
        Ok(ts) => in_range(column, text, utc_date_of(ts.timestamp_micros()))
            .map(|_| ts.timestamp_micros()),
        Err(_) if DateTime::parse_from_rfc3339(&format!("{candidate}Z")).is_ok() => {
            Err(RowError::new(
                column,
                format!(
                    "{text:?} has no UTC offset; write it as e.g. 2026-08-03T14:22:05+03:00 or …Z"
                ),
            ))
        }
        Err(_) => Err(RowError::new(
            column,
            format!(
                "{text:?} is not an ISO 8601 timestamp with offset (e.g. 2026-08-03T14:22:05+03:00)"
            ),
        )),
    }
}

/// Days since the Unix epoch, from `YYYY-MM-DD`.
pub fn parse_date(column: &str, text: &str) -> Result<i32, RowError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| RowError::new(column, format!("{text:?} is not a date (YYYY-MM-DD)")))?;
    Ok(days_since_epoch(date))
}

/// A date a stored row may carry: [`parse_date`] within [`FIRST_DAY`] … [`LAST_DAY`].
pub fn parse_stored_date(column: &str, text: &str) -> Result<i32, RowError> {
    in_range(column, text, parse_date(column, text)?)
}

/// The days a stored time may fall on: 1970-01-01 up to 2099-12-31. A time outside is a
/// typo or a unit mistake (milliseconds read as seconds), and its partition
/// (`date=+10000-01-01`) would break readers.
pub const FIRST_DAY: &str = "1970-01-01";
pub const LAST_DAY: &str = "2099-12-31";

fn in_range(column: &str, text: &str, days: i32) -> Result<i32, RowError> {
    // 2099-12-31 is day 47,481 after the epoch.
    const LAST: i32 = 47_481;
    if (0..=LAST).contains(&days) {
        Ok(days)
    } else {
        Err(RowError::new(
            column,
            format!(
                "{text:?} is outside {FIRST_DAY} … {LAST_DAY} (UTC): check the year and the unit"
            ),
        ))
    }
}

pub fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch")).num_days() as i32
}

/// The UTC calendar date of a timestamp in microseconds: the lake's partition date.
pub fn utc_date_of(micros: i64) -> i32 {
    micros.div_euclid(86_400_000_000) as i32
}

pub fn date_string(days: i32) -> String {
    let date = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch")
        + chrono::Duration::days(days as i64);
    date.format("%Y-%m-%d").to_string()
}

pub fn parse_count(column: &str, text: &str) -> Result<i64, RowError> {
    text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        RowError::new(
            column,
            format!("{text:?} is not a whole non-negative number"),
        )
    })
}

pub fn parse_money(column: &str, text: &str, allow_negative: bool) -> Result<i128, RowError> {
    let units = crate::money::parse_money(text).map_err(|reason| RowError::new(column, reason))?;
    if units < 0 && !allow_negative {
        return Err(RowError::new(column, format!("{text:?} is negative")));
    }
    Ok(units)
}

/// ISO 4217 code, upper-cased.
pub fn parse_currency(column: &str, text: &str) -> Result<String, RowError> {
    let code = text.to_ascii_uppercase();
    match iso_currency::Currency::from_code(&code) {
        Some(_) => Ok(code),
        None => Err(RowError::new(
            column,
            format!("unknown currency {text:?}: use an ISO 4217 code such as UAH, USD or EUR"),
        )),
    }
}

/// One of a closed set of lower-case words.
pub fn parse_choice(column: &str, text: &str, allowed: &[&str]) -> Result<String, RowError> {
    let word = text.to_ascii_lowercase();
    if allowed.contains(&word.as_str()) {
        Ok(word)
    } else {
        Err(RowError::new(
            column,
            format!("{text:?} is not one of: {}", allowed.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_1970_to_2099_are_refused() {
        assert_eq!(
            date_string(in_range("d", "", 47_481).unwrap()),
            LAST_DAY,
            "the last day's number"
        );
        for text in ["-0001-12-31T00:00:00Z", "+10000-01-01T00:00:00Z"] {
            assert!(parse_timestamp("ts", text).is_err(), "{text}");
        }
        for text in [
            "1969-12-31T23:59:59Z",
            "2100-01-01T00:00:00Z",
            "0001-01-01T00:00:00+03:00",
        ] {
            let e = parse_timestamp("ts", text).unwrap_err();
            assert!(e.reason.contains("outside 1970-01-01"), "{text}: {e:?}");
        }
        assert!(parse_timestamp("ts", "2099-12-31T23:59:59Z").is_ok());
        assert!(parse_stored_date("date", "2100-01-01").is_err());
        assert!(parse_stored_date("date", "1970-01-01").is_ok());
    }

    #[test]
    fn timestamps_need_an_offset() {
        assert_eq!(parse_timestamp("ts", "1970-01-01T00:00:01Z"), Ok(1_000_000));
        assert_eq!(
            parse_timestamp("ts", "1970-01-01T03:00:01+03:00"),
            Ok(1_000_000)
        );
        assert_eq!(
            parse_timestamp("ts", "1970-01-01 03:00:01.5+03:00"),
            Ok(1_500_000)
        );
        assert!(
            parse_timestamp("ts", "2026-08-03T14:22:05")
                .unwrap_err()
                .reason
                .contains("no UTC offset")
        );
        assert!(
            parse_timestamp("ts", "03/08/2026")
                .unwrap_err()
                .reason
                .contains("ISO 8601")
        );
    }

    #[test]
    fn dates_and_partitions() {
        assert_eq!(parse_date("date", "1970-01-02"), Ok(1));
        assert_eq!(utc_date_of(-1), -1);
        assert_eq!(date_string(20_666), "2026-08-01");
        assert!(parse_date("date", "2026-13-01").is_err());
    }

    #[test]
    fn currency_and_choices() {
        assert_eq!(parse_currency("currency", "uah").unwrap(), "UAH");
        assert!(
            parse_currency("currency", "XYZ")
                .unwrap_err()
                .reason
                .contains("ISO 4217")
        );
        assert!(parse_choice("type", "WON", &["won", "lost"]).is_ok());
        assert!(parse_choice("type", "closed", &["won", "lost"]).is_err());
        assert!(parse_count("clicks", "-1").is_err());
    }
}
