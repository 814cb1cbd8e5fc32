//! Money is stored as `Decimal128(18, 4)`: exact, wide enough for any single amount, and
//! four decimals cover every ISO 4217 minor unit (at most 3) plus sub-cent ad costs.
//! Floats never hold money in the lake.

use rust_decimal::Decimal;
use std::str::FromStr;

pub const MONEY_PRECISION: u8 = 18;
pub const MONEY_SCALE: i8 = 4;
const MAX_ABS_UNITS: i128 = 999_999_999_999_999_999; // 18 digits

/// Parses a decimal amount into units of 10^-4 (the stored mantissa).
pub fn parse_money(text: &str) -> Result<i128, String> {
    let cleaned = text.trim();
    let amount = Decimal::from_str(cleaned)
        .or_else(|_| Decimal::from_scientific(cleaned))
        .map_err(|_| {
            format!("{cleaned:?} is not a decimal amount (use digits and '.', e.g. 1250.50)")
        })?;
    let amount = amount.normalize();
    if amount.scale() > MONEY_SCALE as u32 {
        return Err(format!(
            "{cleaned:?} has more than {MONEY_SCALE} decimal places; round it at the source"
        ));
    }
    let mut scaled = amount;
    scaled.rescale(MONEY_SCALE as u32);
    let units = scaled.mantissa();
    if units.abs() > MAX_ABS_UNITS {
        return Err(format!("{cleaned:?} is too large for an amount"));
    }
    Ok(units)
}

/// Formats stored units back as a plain decimal string (for reports and quarantine).
pub fn format_money(units: i128) -> String {
    Decimal::from_i128_with_scale(units, MONEY_SCALE as u32).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(parse_money("45800.00"), Ok(458_000_000));
        assert_eq!(parse_money(" 0.0125 "), Ok(125));
        assert_eq!(parse_money("-3"), Ok(-30_000));
        assert_eq!(format_money(458_000_000), "45800.0000");
    }

    #[test]
    fn rejects_what_would_lose_money() {
        assert!(
            parse_money("1.23456")
                .unwrap_err()
                .contains("decimal places")
        );
        assert!(parse_money("12,50").unwrap_err().contains("not a decimal"));
        assert!(parse_money("abc").is_err());
        assert!(parse_money("1e30").is_err());
    }
}
