//! What the planner fits: per channel (or campaign), spend and attributed margin per day
//! in one currency, every day from the first to the last of the data (a day with no row is
//! no spend and no margin). From the lake (the KPI report's daily series) or from a CSV
//! file a user brings (their own attribution or media-mix output).

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use throughline_model::field::parse_date;

use crate::Error;

/// One channel's days, both vectors indexed from [`Series::first`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDays {
    pub channel: String,
    pub spend: Vec<f64>,
    pub margin: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// First and last day (days since 1970-01-01) of any channel's row.
    pub first: i32,
    pub last: i32,
    /// By channel name.
    pub channels: Vec<ChannelDays>,
    /// The currency of its money, when known (the lake's reporting currency).
    pub currency: Option<String>,
    /// Ad-cost rows and conversion credits left out for want of an exchange rate.
    pub costs_without_rate: i64,
    pub conversions_without_rate: f64,
}

/// One row of a series: a day of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub date: i32,
    pub channel: String,
    pub spend: f64,
    pub margin: f64,
}

impl Series {
    /// Rows summed per channel and day; days between the first and the last row are 0.
    pub fn from_rows(rows: impl IntoIterator<Item = DayRow>) -> Series {
        let rows: Vec<DayRow> = rows.into_iter().collect();
        let (Some(first), Some(last)) = (
            rows.iter().map(|r| r.date).min(),
            rows.iter().map(|r| r.date).max(),
        ) else {
            return Series::default();
        };
        let days = (last - first + 1) as usize;
        let mut by_channel: BTreeMap<String, ChannelDays> = BTreeMap::new();
        for row in rows {
            let entry = by_channel
                .entry(row.channel.clone())
                .or_insert_with(|| ChannelDays {
                    channel: row.channel.clone(),
                    spend: vec![0.0; days],
                    margin: vec![0.0; days],
                });
            let day = (row.date - first) as usize;
            entry.spend[day] += row.spend;
            entry.margin[day] += row.margin;
        }
        Series {
            first,
            last,
            channels: by_channel.into_values().collect(),
            ..Series::default()
        }
    }

    /// From the engine's `kpi_days` answer (`date, group, cost, revenue, margin,
    /// costs_without_rate, conversions_without_rate, currency`). Money without a rate is
    /// NULL there and counted here.
    pub fn from_kpi_days(batches: &[RecordBatch]) -> Result<Series, Error> {
        let mut rows = Vec::new();
        let (mut costs_without_rate, mut conversions_without_rate) = (0, 0.0);
        let mut currency = None;
        for batch in batches {
            let column = |name: &str, to: &DataType| -> Result<arrow::array::ArrayRef, Error> {
                let index = batch.schema().index_of(name)?;
                Ok(cast(batch.column(index), to)?)
            };
            let dates = column("date", &DataType::Date32)?;
            let groups = column("group", &DataType::Utf8)?;
            let costs = column("cost", &DataType::Float64)?;
            let margins = column("margin", &DataType::Float64)?;
            let cost_gaps = column("costs_without_rate", &DataType::Int64)?;
            let credit_gaps = column("conversions_without_rate", &DataType::Float64)?;
            let currencies = column("currency", &DataType::Utf8)?;
            let currencies = currencies.as_string::<i32>();
            if let Some(code) = currencies.iter().flatten().next() {
                currency = Some(code.to_owned());
            }
            let dates = dates.as_primitive::<Date32Type>();
            let groups = groups.as_string::<i32>();
            let costs = costs.as_primitive::<Float64Type>();
            let margins = margins.as_primitive::<Float64Type>();
            costs_without_rate += cost_gaps
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .sum::<i64>();
            conversions_without_rate += credit_gaps
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .sum::<f64>();
            for i in 0..batch.num_rows() {
                if dates.is_null(i) || groups.is_null(i) {
                    continue;
                }
                rows.push(DayRow {
                    date: dates.value(i),
                    channel: groups.value(i).to_owned(),
                    spend: if costs.is_null(i) {
                        0.0
                    } else {
                        costs.value(i)
                    },
                    margin: if margins.is_null(i) {
                        0.0
                    } else {
                        margins.value(i)
                    },
                });
            }
        }
        Ok(Series {
            currency,
            costs_without_rate,
            conversions_without_rate,
            ..Series::from_rows(rows)
        })
    }

    /// A CSV file with a header row and the columns `date` (YYYY-MM-DD), `channel`,
    /// `spend` and `margin` (or `revenue`, when the user has no margin); other columns are
    /// ignored. An error names the file and line.
    pub fn read_csv(path: &Path) -> Result<Series, Error> {
        let file = path.display().to_string();
        let at = |line: u64, reason: String| Error::Input {
            file: file.clone(),
            line,
            reason,
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| at(0, e.to_string()))?;
        let header = reader.headers().map_err(|e| at(1, e.to_string()))?.clone();
        let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                at(
                    1,
                    format!("no `{name}` column: the header must name date, channel, spend and margin (or revenue)"),
                )
            })
        };
        let (date, channel, spend) = (need("date")?, need("channel")?, need("spend")?);
        let margin = find("margin")
            .or_else(|| find("revenue"))
            .ok_or_else(|| at(1, "no `margin` or `revenue` column".into()))?;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                at(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("");
            let number = |i: usize, name: &str| -> Result<f64, Error> {
                field(i)
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| at(line, format!("{name}: {:?} is not a number", field(i))))
            };
            let spent = number(spend, "spend")?;
            if spent < 0.0 {
                return Err(at(line, format!("spend: {spent} is negative")));
            }
            let name = field(channel);
            if name.is_empty() {
                return Err(at(line, "channel: empty".into()));
            }
            rows.push(DayRow {
                date: parse_date("date", field(date)).map_err(|e| at(line, e.to_string()))?,
                channel: name.to_owned(),
                spend: spent,
                margin: number(margin, "margin")?,
            });
        }
        if rows.is_empty() {
            return Err(at(1, "no rows: nothing to plan".into()));
        }
        Ok(Series::from_rows(rows))
    }

    /// The days from the first to the last with any spend: margin credited before spend
    /// began or after the last cost day (deals won since) is no point of a spend curve.
    pub fn spend_days(&self) -> Series {
        let any_spend = |day: usize| self.channels.iter().any(|c| c.spend[day] > 0.0);
        let days = self.days();
        let (Some(start), Some(end)) = (
            (0..days).find(|d| any_spend(*d)),
            (0..days).rev().find(|d| any_spend(*d)),
        ) else {
            return Series {
                channels: Vec::new(),
                ..self.clone()
            };
        };
        Series {
            first: self.first + start as i32,
            last: self.first + end as i32,
            channels: self
                .channels
                .iter()
                .map(|c| ChannelDays {
                    channel: c.channel.clone(),
                    spend: c.spend[start..=end].to_vec(),
                    margin: c.margin[start..=end].to_vec(),
                })
                .collect(),
            ..self.clone()
        }
    }

    /// Days from the first to the last.
    pub fn days(&self) -> usize {
        if self.channels.is_empty() {
            0
        } else {
            (self.last - self.first + 1) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fill_every_day_and_sum_per_channel_and_day() {
        let row = |date, channel: &str, spend, margin| DayRow {
            date,
            channel: channel.into(),
            spend,
            margin,
        };
        let series = Series::from_rows([
            row(10, "Paid Search", 5.0, 1.0),
            row(10, "Paid Search", 5.0, 2.0),
            row(13, "Paid Social", 7.0, 0.0),
        ]);
        assert_eq!((series.first, series.last, series.days()), (10, 13, 4));
        assert_eq!(series.channels[0].channel, "Paid Search");
        assert_eq!(series.channels[0].spend, vec![10.0, 0.0, 0.0, 0.0]);
        assert_eq!(series.channels[0].margin, vec![3.0, 0.0, 0.0, 0.0]);
        assert_eq!(series.channels[1].spend, vec![0.0, 0.0, 0.0, 7.0]);
        // Margin after the last spend (deals won since) is cut off the spend curve's points.
        let trimmed = Series::from_rows([
            row(10, "Paid Search", 0.0, 4.0),
            row(11, "Paid Search", 5.0, 1.0),
            row(12, "Paid Search", 5.0, 2.0),
            row(14, "Paid Search", 0.0, 9.0),
        ])
        .spend_days();
        assert_eq!((trimmed.first, trimmed.last), (11, 12));
        assert_eq!(trimmed.channels[0].margin, vec![1.0, 2.0]);
    }

    #[test]
    fn a_bad_csv_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series.csv");
        std::fs::write(
            &path,
            "date,channel,spend,revenue\n2026-01-01,Search,10,30\n2026-01-02,Search,ten,30\n",
        )
        .unwrap();
        let e = Series::read_csv(&path).unwrap_err().to_string();
        assert!(
            e.contains("series.csv:3: spend: \"ten\" is not a number"),
            "{e}"
        );
        std::fs::write(&path, "day,channel,spend,margin\n").unwrap();
        let e = Series::read_csv(&path).unwrap_err().to_string();
        assert!(e.contains("series.csv:1: no `date` column"), "{e}");
        std::fs::write(
            &path,
            "date,channel,spend,revenue\n2026-01-01,Search,10,30\n2026-01-03,Search,20,50\n",
        )
        .unwrap();
        let series = Series::read_csv(&path).unwrap();
        assert_eq!(series.channels[0].spend, vec![10.0, 0.0, 20.0]);
        assert_eq!(series.channels[0].margin, vec![30.0, 0.0, 50.0]);
    }
}
