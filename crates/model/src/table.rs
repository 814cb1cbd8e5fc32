//! The lake's input tables: their import columns (a public interface), their stored
//! schemas, and how one incoming record becomes a stored row.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::contact;
use crate::error::{Error, Result, RowError};
use crate::field::{self, Record, required};
use crate::money::{MONEY_PRECISION, MONEY_SCALE, RATE_PRECISION, RATE_SCALE};
use crate::tracking;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Touchpoints,
    Leads,
    DealEvents,
    Orders,
    AdCosts,
    /// Daily exchange rates: how many units of `base` one unit of `currency` buys.
    FxRates,
    /// Ad clicks as the platform saw them (Google Ads `click_view`): which campaign and ad
    /// group a click id belongs to, so a click without UTM tags still finds its campaign.
    AdClicks,
}

/// The stored type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// Microseconds, UTC.
    Timestamp,
    /// `Decimal128(18, 4)`.
    Money,
    Count,
    /// An exchange rate, `Decimal128(18, 8)`.
    Rate,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
}

const fn col(name: &'static str, kind: ColumnType, nullable: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
    }
}
use ColumnType::{Count, Money, Rate, Text, Timestamp};

const TOUCHPOINT_COLUMNS: &[Column] = &[
    col("event_id", Text, false),
    col("ts", Timestamp, false),
    col("visitor_id", Text, true),
    col("url", Text, true),
    col("referrer", Text, true),
    col("utm_source", Text, true),
    col("utm_medium", Text, true),
    col("utm_campaign", Text, true),
    col("utm_content", Text, true),
    col("utm_term", Text, true),
    col("utm_id", Text, true),
    col("click_id", Text, true),
    col("click_id_type", Text, true),
    col("click_ids", Text, true),
];
const LEAD_COLUMNS: &[Column] = &[
    col("lead_id", Text, false),
    col("ts", Timestamp, false),
    col("visitor_id", Text, true),
    col("click_id", Text, true),
    col("email_sha256", Text, true),
    col("phone_sha256", Text, true),
    col("source", Text, true),
    col("manager", Text, true),
    col("first_response_ts", Timestamp, true),
];
const DEAL_EVENT_COLUMNS: &[Column] = &[
    col("event_id", Text, false),
    col("deal_id", Text, false),
    col("lead_id", Text, true),
    col("ts", Timestamp, false),
    col("type", Text, false),
    col("stage", Text, true),
    col("amount", Money, true),
    col("currency", Text, true),
    col("margin", Money, true),
    col("loss_reason", Text, true),
    col("manager", Text, true),
    col("offer", Text, true),
];
const ORDER_COLUMNS: &[Column] = &[
    col("order_id", Text, false),
    col("ts", Timestamp, false),
    col("lead_id", Text, true),
    col("email_sha256", Text, true),
    col("phone_sha256", Text, true),
    col("amount", Money, false),
    col("currency", Text, false),
    col("margin", Money, true),
];
/// `date` is not stored in the file: it is the Hive partition (`date=YYYY-MM-DD`).
const AD_COST_COLUMNS: &[Column] = &[
    col("platform", Text, false),
    col("account_id", Text, false),
    col("campaign_id", Text, false),
    col("campaign_name", Text, true),
    col("ad_group_id", Text, true),
    col("ad_group_name", Text, true),
    col("ad_id", Text, true),
    col("ad_name", Text, true),
    col("impressions", Count, true),
    col("clicks", Count, true),
    col("cost", Money, false),
    col("currency", Text, false),
];

/// `date` is the Hive partition, as for ad costs.
const FX_RATE_COLUMNS: &[Column] = &[
    col("currency", Text, false),
    col("base", Text, false),
    col("rate", Rate, false),
];
/// `date` is the Hive partition: the day of the click.
const AD_CLICK_COLUMNS: &[Column] = &[
    col("platform", Text, false),
    col("account_id", Text, false),
    col("click_id", Text, false),
    col("campaign_id", Text, false),
    col("ad_group_id", Text, true),
];

pub const DEAL_EVENT_TYPES: [&str; 4] = ["created", "stage_changed", "won", "lost"];

/// A stored value. Money is in units of 10^-4, rates in units of 10^-8 (see [`crate::money`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    Timestamp(i64),
    Money(i128),
    Count(i64),
    Rate(i128),
}

/// A validated row: its partition date (days since epoch) and values in stored-column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub date: i32,
    pub values: Vec<Value>,
}

/// Settings that change how records are read, per tenant.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Calling code for national-format phones, e.g. "380".
    pub default_country_code: Option<String>,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Touchpoints,
        Table::Leads,
        Table::DealEvents,
        Table::Orders,
        Table::AdCosts,
        Table::FxRates,
        Table::AdClicks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Touchpoints => "touchpoints",
            Table::Leads => "leads",
            Table::DealEvents => "deal_events",
            Table::Orders => "orders",
            Table::AdCosts => "ad_costs",
            Table::FxRates => "fx_rates",
            Table::AdClicks => "ad_clicks",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| Error::UnknownTable(name.to_owned()))
    }

    /// Stored columns, in file order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Touchpoints => TOUCHPOINT_COLUMNS,
            Table::Leads => LEAD_COLUMNS,
            Table::DealEvents => DEAL_EVENT_COLUMNS,
            Table::Orders => ORDER_COLUMNS,
            Table::AdCosts => AD_COST_COLUMNS,
            Table::FxRates => FX_RATE_COLUMNS,
            Table::AdClicks => AD_CLICK_COLUMNS,
        }
    }

    /// Columns an import file must have (a public interface: see docs/IMPORT.md).
    pub fn required_input_columns(self) -> &'static [&'static str] {
        match self {
            Table::Touchpoints => &["event_id", "ts"],
            Table::Leads => &["lead_id", "ts"],
            Table::DealEvents => &["event_id", "deal_id", "ts", "type"],
            Table::Orders => &["order_id", "ts", "amount", "currency"],
            Table::AdCosts => &[
                "date",
                "platform",
                "account_id",
                "campaign_id",
                "cost",
                "currency",
            ],
            Table::FxRates => &["date", "currency", "rate", "base"],
            Table::AdClicks => &["date", "platform", "account_id", "click_id", "campaign_id"],
        }
    }

    /// Every column an import file may carry; others are reported and ignored.
    pub fn input_columns(self) -> &'static [&'static str] {
        match self {
            Table::Touchpoints => &[
                "event_id",
                "ts",
                "visitor_id",
                "url",
                "referrer",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_content",
                "utm_term",
                "utm_id",
                "click_id",
                "click_id_type",
            ],
            Table::Leads => &[
                "lead_id",
                "ts",
                "visitor_id",
                "click_id",
                "email",
                "phone",
                "source",
                "manager",
                "first_response_ts",
            ],
            Table::DealEvents => &[
                "event_id",
                "deal_id",
                "lead_id",
                "ts",
                "type",
                "stage",
                "amount",
                "currency",
                "margin",
                "loss_reason",
                "manager",
                "offer",
            ],
            Table::Orders => &[
                "order_id", "ts", "lead_id", "email", "phone", "amount", "currency", "margin",
            ],
            Table::AdCosts => &[
                "date",
                "platform",
                "account_id",
                "campaign_id",
                "campaign_name",
                "ad_group_id",
                "ad_group_name",
                "ad_id",
                "ad_name",
                "impressions",
                "clicks",
                "cost",
                "currency",
            ],
            Table::FxRates => &["date", "currency", "rate", "units", "base"],
            Table::AdClicks => &[
                "date",
                "platform",
                "account_id",
                "click_id",
                "campaign_id",
                "ad_group_id",
            ],
        }
    }

    /// Stored columns whose values identify a row within its date partition: re-importing
    /// a row with the same key adds nothing.
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Table::Touchpoints | Table::DealEvents => &["event_id"],
            Table::Leads => &["lead_id"],
            Table::Orders => &["order_id"],
            Table::AdCosts => &[
                "platform",
                "account_id",
                "campaign_id",
                "ad_group_id",
                "ad_id",
            ],
            Table::FxRates => &["currency", "base"],
            Table::AdClicks => &["platform", "click_id"],
        }
    }

    /// The Arrow schema of the Parquet files (without the Hive partition columns).
    pub fn schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, arrow_type(c.kind), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The row's identity within its date partition (see `key_columns`), as one string.
    pub fn row_key(self, row: &Row) -> String {
        let columns = self.columns();
        let parts: Vec<&str> = self
            .key_columns()
            .iter()
            .map(|key| {
                match columns
                    .iter()
                    .position(|c| c.name == *key)
                    .map(|i| &row.values[i])
                {
                    Some(Value::Text(s)) => s.as_str(),
                    _ => "",
                }
            })
            .collect();
        join_key(&parts)
    }

    /// Validates one incoming record and turns it into a stored row.
    pub fn parse(self, record: &impl Record, options: &ParseOptions) -> Result<Row, RowError> {
        match self {
            Table::Touchpoints => touchpoint(record),
            Table::Leads => lead(record, options),
            Table::DealEvents => deal_event(record),
            Table::Orders => order(record, options),
            Table::AdCosts => ad_cost(record),
            Table::FxRates => fx_rate(record),
            Table::AdClicks => ad_click(record),
        }
    }
}

/// Joins key parts with the ASCII unit separator, which no accepted id contains.
pub fn join_key(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

pub fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Money => DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE),
        ColumnType::Count => DataType::Int64,
        ColumnType::Rate => DataType::Decimal128(RATE_PRECISION, RATE_SCALE),
    }
}

fn text(record: &impl Record, column: &str) -> Value {
    record
        .field(column)
        .map_or(Value::Null, |v| Value::Text(v.to_owned()))
}

fn required_text(record: &impl Record, column: &str) -> Result<Value, RowError> {
    required(record, column).map(|v| Value::Text(v.to_owned()))
}

fn timestamp(record: &impl Record, column: &str) -> Result<i64, RowError> {
    field::parse_timestamp(column, required(record, column)?)
}

fn optional_timestamp(record: &impl Record, column: &str) -> Result<Value, RowError> {
    match record.field(column) {
        Some(v) => field::parse_timestamp(column, v).map(Value::Timestamp),
        None => Ok(Value::Null),
    }
}

fn optional_money(
    record: &impl Record,
    column: &str,
    allow_negative: bool,
) -> Result<Value, RowError> {
    match record.field(column) {
        Some(v) => field::parse_money(column, v, allow_negative).map(Value::Money),
        None => Ok(Value::Null),
    }
}

fn optional_count(record: &impl Record, column: &str) -> Result<Value, RowError> {
    match record.field(column) {
        Some(v) => field::parse_count(column, v).map(Value::Count),
        None => Ok(Value::Null),
    }
}

fn hashed_email(record: &impl Record) -> Result<Value, RowError> {
    match record.field("email") {
        Some(v) => contact::hash_email(v)
            .map(Value::Text)
            .map_err(|r| RowError::new("email", r)),
        None => Ok(Value::Null),
    }
}

fn hashed_phone(record: &impl Record, options: &ParseOptions) -> Result<Value, RowError> {
    match record.field("phone") {
        Some(v) => contact::hash_phone(v, options.default_country_code.as_deref())
            .map(Value::Text)
            .map_err(|r| RowError::new("phone", r)),
        None => Ok(Value::Null),
    }
}

/// A currency is required wherever an amount is given.
fn currency_for(record: &impl Record, amount_columns: &[&str]) -> Result<Value, RowError> {
    match record.field("currency") {
        Some(v) => field::parse_currency("currency", v).map(Value::Text),
        None if amount_columns.iter().any(|c| record.field(c).is_some()) => Err(RowError::new(
            "currency",
            "is required when an amount is given",
        )),
        None => Ok(Value::Null),
    }
}

fn touchpoint(record: &impl Record) -> Result<Row, RowError> {
    let ts = timestamp(record, "ts")?;
    let from_url = record
        .field("url")
        .map(tracking::parse_landing_url)
        .unwrap_or_default();
    // Columns win; the URL fills only what the columns leave empty.
    let utm = tracking::UTM_PARAMS
        .iter()
        .zip(from_url.utm)
        .map(|(column, parsed)| match record.field(column) {
            Some(v) => Value::Text(v.to_owned()),
            None => parsed.map_or(Value::Null, Value::Text),
        });
    let (click_id, click_id_type) = match record.field("click_id") {
        Some(id) => (
            Value::Text(id.to_owned()),
            record
                .field("click_id_type")
                .map(|t| Value::Text(t.to_ascii_lowercase()))
                .or_else(|| {
                    from_url
                        .click_id_type
                        .filter(|_| from_url.click_id.as_deref() == Some(id))
                        .map(Value::Text)
                })
                .unwrap_or(Value::Null),
        ),
        None => (
            from_url.click_id.map_or(Value::Null, Value::Text),
            from_url.click_id_type.map_or(Value::Null, Value::Text),
        ),
    };
    let mut values = vec![
        required_text(record, "event_id")?,
        Value::Timestamp(ts),
        text(record, "visitor_id"),
        text(record, "url"),
        text(record, "referrer"),
    ];
    values.extend(utm);
    values.extend([
        click_id,
        click_id_type,
        from_url.click_ids.map_or(Value::Null, Value::Text),
    ]);
    Ok(Row {
        date: field::utc_date_of(ts),
        values,
    })
}

fn lead(record: &impl Record, options: &ParseOptions) -> Result<Row, RowError> {
    let ts = timestamp(record, "ts")?;
    let values = vec![
        required_text(record, "lead_id")?,
        Value::Timestamp(ts),
        text(record, "visitor_id"),
        text(record, "click_id"),
        hashed_email(record)?,
        hashed_phone(record, options)?,
        record
            .field("source")
            .map_or(Value::Null, |s| Value::Text(s.to_ascii_lowercase())),
        text(record, "manager"),
        optional_timestamp(record, "first_response_ts")?,
    ];
    Ok(Row {
        date: field::utc_date_of(ts),
        values,
    })
}

fn deal_event(record: &impl Record) -> Result<Row, RowError> {
    let ts = timestamp(record, "ts")?;
    let kind = field::parse_choice("type", required(record, "type")?, &DEAL_EVENT_TYPES)?;
    if kind == "stage_changed" && record.field("stage").is_none() {
        return Err(RowError::new(
            "stage",
            "is required for a stage_changed event",
        ));
    }
    let values = vec![
        required_text(record, "event_id")?,
        required_text(record, "deal_id")?,
        text(record, "lead_id"),
        Value::Timestamp(ts),
        Value::Text(kind),
        text(record, "stage"),
        optional_money(record, "amount", false)?,
        currency_for(record, &["amount", "margin"])?,
        optional_money(record, "margin", true)?,
        text(record, "loss_reason"),
        text(record, "manager"),
        text(record, "offer"),
    ];
    Ok(Row {
        date: field::utc_date_of(ts),
        values,
    })
}

fn order(record: &impl Record, options: &ParseOptions) -> Result<Row, RowError> {
    let ts = timestamp(record, "ts")?;
    let values = vec![
        required_text(record, "order_id")?,
        Value::Timestamp(ts),
        text(record, "lead_id"),
        hashed_email(record)?,
        hashed_phone(record, options)?,
        // Refunds are orders with a negative amount.
        Value::Money(field::parse_money(
            "amount",
            required(record, "amount")?,
            true,
        )?),
        Value::Text(field::parse_currency(
            "currency",
            required(record, "currency")?,
        )?),
        optional_money(record, "margin", true)?,
    ];
    Ok(Row {
        date: field::utc_date_of(ts),
        values,
    })
}

fn ad_cost(record: &impl Record) -> Result<Row, RowError> {
    let date = field::parse_stored_date("date", required(record, "date")?)?;
    let values = vec![
        Value::Text(required(record, "platform")?.to_ascii_lowercase()),
        required_text(record, "account_id")?,
        required_text(record, "campaign_id")?,
        text(record, "campaign_name"),
        text(record, "ad_group_id"),
        text(record, "ad_group_name"),
        text(record, "ad_id"),
        text(record, "ad_name"),
        optional_count(record, "impressions")?,
        optional_count(record, "clicks")?,
        Value::Money(field::parse_money(
            "cost",
            required(record, "cost")?,
            false,
        )?),
        Value::Text(field::parse_currency(
            "currency",
            required(record, "currency")?,
        )?),
    ];
    Ok(Row { date, values })
}

/// A rate of one day: one unit of `currency` buys `rate` units of `base`. `units` is how
/// many units of `currency` the quoted rate is for (1 when absent), as central banks quote
/// weak currencies per 10 or 100; the stored rate is always per one unit.
fn fx_rate(record: &impl Record) -> Result<Row, RowError> {
    let date = field::parse_stored_date("date", required(record, "date")?)?;
    let currency = field::parse_currency("currency", required(record, "currency")?)?;
    let base = field::parse_currency("base", required(record, "base")?)?;
    if currency == base {
        return Err(RowError::new(
            "base",
            format!(
                "is the same as currency {currency}; a rate converts one currency into another"
            ),
        ));
    }
    let units = match record.field("units") {
        Some(v) => u32::try_from(field::parse_count("units", v)?)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| RowError::new("units", format!("{v:?} is not a whole number from 1")))?,
        None => 1,
    };
    let rate = crate::money::parse_rate(required(record, "rate")?, units)
        .map_err(|reason| RowError::new("rate", reason))?;
    Ok(Row {
        date,
        values: vec![Value::Text(currency), Value::Text(base), Value::Rate(rate)],
    })
}

fn ad_click(record: &impl Record) -> Result<Row, RowError> {
    let date = field::parse_stored_date("date", required(record, "date")?)?;
    let values = vec![
        // Lower-cased like ad_costs.platform, so the two join.
        Value::Text(required(record, "platform")?.to_ascii_lowercase()),
        required_text(record, "account_id")?,
        required_text(record, "click_id")?,
        required_text(record, "campaign_id")?,
        text(record, "ad_group_id"),
    ];
    Ok(Row { date, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn record(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_table_has_matching_schema_and_keys() {
        for table in Table::ALL {
            assert_eq!(Table::from_name(table.name()).unwrap(), table);
            let schema = table.schema();
            for key in table.key_columns() {
                assert!(
                    schema.field_with_name(key).is_ok(),
                    "{}.{key}",
                    table.name()
                );
            }
        }
        assert!(Table::from_name("clicks").is_err());
    }

    #[test]
    fn touchpoint_fills_empty_columns_from_url() {
        let r = record(&[
            ("event_id", "tp-1"),
            ("ts", "2026-08-03T01:00:00+03:00"),
            (
                "url",
                "https://k.ua/?utm_source=google&utm_medium=cpc&gclid=abc",
            ),
            ("utm_source", "Google"),
        ]);
        let row = Table::Touchpoints
            .parse(&r, &ParseOptions::default())
            .unwrap();
        assert_eq!(
            row.date,
            field::parse_date("d", "2026-08-02").unwrap(),
            "partition is the UTC date"
        );
        assert_eq!(
            row.values[5],
            Value::Text("Google".into()),
            "column wins over URL"
        );
        assert_eq!(row.values[6], Value::Text("cpc".into()));
        assert_eq!(row.values[11], Value::Text("abc".into()));
        assert_eq!(row.values[12], Value::Text("gclid".into()));
        assert_eq!(row.values.len(), Table::Touchpoints.columns().len());
    }

    #[test]
    fn leads_never_keep_raw_contacts() {
        let r = record(&[
            ("lead_id", "L1"),
            ("ts", "2026-08-03T10:00:00Z"),
            ("email", " Olena@Example.com"),
            ("phone", "067 123 45 67"),
        ]);
        let options = ParseOptions {
            default_country_code: Some("380".into()),
        };
        let row = Table::Leads.parse(&r, &options).unwrap();
        assert_eq!(
            row.values[4],
            Value::Text(contact::sha256_hex("olena@example.com"))
        );
        assert_eq!(
            row.values[5],
            Value::Text(contact::sha256_hex("380671234567"))
        );
        assert!(!format!("{row:?}").contains("Olena") && !format!("{row:?}").contains("123 45"));
    }

    #[test]
    fn deal_events_are_checked() {
        let ok = record(&[
            ("event_id", "e1"),
            ("deal_id", "d1"),
            ("ts", "2026-08-03T10:00:00Z"),
            ("type", "won"),
            ("amount", "45800.00"),
            ("currency", "uah"),
        ]);
        let row = Table::DealEvents
            .parse(&ok, &ParseOptions::default())
            .unwrap();
        assert_eq!(row.values[6], Value::Money(458_000_000));
        assert_eq!(row.values[7], Value::Text("UAH".into()));

        let mut no_currency = ok.clone();
        no_currency.remove("currency");
        let err = Table::DealEvents
            .parse(&no_currency, &ParseOptions::default())
            .unwrap_err();
        assert_eq!(err.column, "currency");

        let mut bad_type = ok.clone();
        bad_type.insert("type".into(), "closed".into());
        assert_eq!(
            Table::DealEvents
                .parse(&bad_type, &ParseOptions::default())
                .unwrap_err()
                .column,
            "type"
        );
    }

    #[test]
    fn ad_costs_partition_by_their_date() {
        let r = record(&[
            ("date", "2026-08-01"),
            ("platform", "Google_Ads"),
            ("account_id", "123"),
            ("campaign_id", "987"),
            ("cost", "1520.35"),
            ("currency", "UAH"),
            ("clicks", "41"),
        ]);
        let row = Table::AdCosts.parse(&r, &ParseOptions::default()).unwrap();
        assert_eq!(field::date_string(row.date), "2026-08-01");
        assert_eq!(row.values[0], Value::Text("google_ads".into()));
        assert_eq!(row.values[9], Value::Count(41));
        assert_eq!(row.values.len(), Table::AdCosts.columns().len());
    }

    #[test]
    fn fx_rates_are_per_one_unit_and_checked() {
        let ok = record(&[
            ("date", "2026-11-25"),
            ("currency", "usd"),
            ("rate", "41.4123"),
            ("base", "UAH"),
        ]);
        let row = Table::FxRates.parse(&ok, &ParseOptions::default()).unwrap();
        assert_eq!(field::date_string(row.date), "2026-11-25");
        assert_eq!(
            row.values,
            vec![
                Value::Text("USD".into()),
                Value::Text("UAH".into()),
                Value::Rate(4_141_230_000),
            ]
        );
        assert_eq!(
            Table::FxRates.schema().field(2).data_type(),
            &DataType::Decimal128(18, 8)
        );

        let mut per_ten = ok.clone();
        per_ten.insert("currency".into(), "JPY".into());
        per_ten.insert("rate".into(), "2.7123".into());
        per_ten.insert("units".into(), "10".into());
        let row = Table::FxRates
            .parse(&per_ten, &ParseOptions::default())
            .unwrap();
        assert_eq!(
            row.values[2],
            Value::Rate(27_123_000),
            "0.27123 UAH per yen"
        );

        let reject = |changes: &[(&str, &str)]| {
            let mut r = ok.clone();
            for (k, v) in changes {
                r.insert(k.to_string(), v.to_string());
            }
            Table::FxRates
                .parse(&r, &ParseOptions::default())
                .unwrap_err()
                .to_string()
        };
        assert!(reject(&[("rate", "-41.4")]).starts_with("rate: \"-41.4\" must be greater than 0"));
        assert!(reject(&[("rate", "0")]).contains("greater than 0"));
        assert!(reject(&[("currency", "XYZ")]).starts_with("currency: unknown currency"));
        assert!(reject(&[("base", "usd")]).starts_with("base: is the same as currency USD"));
        assert!(reject(&[("units", "0")]).starts_with("units:"));
        assert!(reject(&[("date", "25.11.2026")]).starts_with("date:"));
        assert!(reject(&[("base", "")]).starts_with("base: is required"));
    }

    #[test]
    fn ad_clicks_keep_campaign_and_optional_ad_group() {
        let r = record(&[
            ("date", "2026-03-02"),
            ("platform", "Google_Ads"),
            ("account_id", "1234567890"),
            ("click_id", "Cj0KCQ-test"),
            ("campaign_id", "111"),
        ]);
        let row = Table::AdClicks.parse(&r, &ParseOptions::default()).unwrap();
        assert_eq!(field::date_string(row.date), "2026-03-02");
        assert_eq!(row.values[0], Value::Text("google_ads".into()));
        assert_eq!(row.values[4], Value::Null);
        assert_eq!(
            Table::AdClicks.row_key(&row),
            join_key(&["google_ads", "Cj0KCQ-test"])
        );
        let mut no_campaign = r.clone();
        no_campaign.remove("campaign_id");
        assert_eq!(
            Table::AdClicks
                .parse(&no_campaign, &ParseOptions::default())
                .unwrap_err()
                .column,
            "campaign_id"
        );
    }
}
