//! Money is stored as `Decimal128(18, 4)`: exact, wide enough for any single amount, and
//! four decimals cover every ISO 4217 minor unit (at most 3) plus sub-cent ad costs.
//! Exchange rates are `Decimal128(18, 8)`: central banks publish up to 4-6 decimals, and a
//! rate per one unit of a currency quoted per 100 or 1000 units needs a few more.
//! Floats never hold money or rates in the lake.

use rust_decimal::Decimal;
use std::str::FromStr;

pub const MONEY_PRECISION: u8 = 18;
pub const MONEY_SCALE: i8 = 4;
/// The largest amount, in units of 10^-4: 99,999,999,999.9999. The job splits a deal's
/// amount into credits in the currency's minor units through a 64-bit float, exact below
/// 2^53 (≈ 9.007 × 10^15): an amount times 10^4 (the largest ISO 4217 minor unit) stays
/// below it, and so does it converted at any rate under 1,000 into Decimal(18, 4).
const MAX_ABS_MONEY_UNITS: i128 = 999_999_999_999_999; // 15 digits
const MAX_ABS_RATE_UNITS: i128 = 999_999_999_999_999_999; // 18 digits
pub const RATE_PRECISION: u8 = 18;
pub const RATE_SCALE: i8 = 8;

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
    if units.abs() > MAX_ABS_MONEY_UNITS {
        return Err(format!(
            "{cleaned:?} is too large for an amount: at most 99999999999.9999 (a larger one \
             could not be credited exactly); check the column or the currency"
        ));
    }
    Ok(units)
}

/// Formats stored units back as a plain decimal string (for reports and quarantine).
pub fn format_money(units: i128) -> String {
    Decimal::from_i128_with_scale(units, MONEY_SCALE as u32).to_string()
}

/// Parses an exchange rate quoted for `per_units` units of a currency (the NBU quotes some
/// currencies per 10 or 100 units) into the stored mantissa of the rate for one unit, in
/// units of 10^-8. The quote may have at most 8 decimals; the division by `per_units` is
/// rounded half-even to 8 decimals, the finest the lake keeps. The rate must be positive.
pub fn parse_rate(text: &str, per_units: u32) -> Result<i128, String> {
    let cleaned = text.trim();
    let quoted = Decimal::from_str(cleaned)
        .or_else(|_| Decimal::from_scientific(cleaned))
        .map_err(|_| {
            format!("{cleaned:?} is not a decimal rate (use digits and '.', e.g. 41.4123)")
        })?
        .normalize();
    if quoted <= Decimal::ZERO {
        return Err(format!("{cleaned:?} must be greater than 0"));
    }
    if quoted.scale() > RATE_SCALE as u32 {
        return Err(format!(
            "{cleaned:?} has more than {RATE_SCALE} decimal places"
        ));
    }
    if per_units == 0 {
        return Err("units must be 1 or more".into());
    }
    let mut per_unit = (quoted / Decimal::from(per_units)).round_dp_with_strategy(
        RATE_SCALE as u32,
        rust_decimal::RoundingStrategy::MidpointNearestEven,
    );
    if per_unit <= Decimal::ZERO {
        return Err(format!(
            "{cleaned:?} per {per_units} units is below 0.00000001 per unit"
        ));
    }
    per_unit.rescale(RATE_SCALE as u32);
    let mantissa = per_unit.mantissa();
    if mantissa > MAX_ABS_RATE_UNITS {
        return Err(format!("{cleaned:?} is too large for a rate"));
    }
    Ok(mantissa)
}

/// Formats a stored rate mantissa as a plain decimal string.
pub fn format_rate(mantissa: i128) -> String {
    Decimal::from_i128_with_scale(mantissa, RATE_SCALE as u32).to_string()
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

    #[test]
    fn amounts_stop_where_the_job_stays_exact() {
        assert_eq!(parse_money("99999999999.9999"), Ok(999_999_999_999_999));
        assert_eq!(parse_money("-99999999999.9999"), Ok(-999_999_999_999_999));
        // Stored until the limit was tightened, and broke every later job (#14, item 12).
        for too_large in ["100000000000", "99999999999999.9999"] {
            assert!(
                parse_money(too_large)
                    .unwrap_err()
                    .contains("at most 99999999999.9999"),
                "{too_large}"
            );
        }
        // The largest amount in minor units of the finest ISO 4217 currency is exact in
        // the job's f64 arithmetic.
        // (The job's arithmetic: round(CAST(amount AS DOUBLE) * 10^digits).)
        let largest: f64 = "99999999999.9999".parse().unwrap();
        let units = (largest * 10_000.0).round();
        assert_eq!(units, 999_999_999_999_999.0);
        assert!(units < 2_f64.powi(53));
    }

    #[test]
    fn rates_are_exact_per_unit_and_positive() {
        assert_eq!(parse_rate("41.4123", 1), Ok(4_141_230_000));
        assert_eq!(parse_rate("0.0123", 1), Ok(1_230_000));
        // 27.1234 UAH per 10 JPY: 2.71234 per yen, exactly.
        assert_eq!(parse_rate("27.1234", 10), Ok(271_234_000));
        // 1 / 3 rounds half-even at the 8th decimal.
        assert_eq!(format_rate(parse_rate("1", 3).unwrap()), "0.33333333");
        assert!(
            parse_rate("-41.2", 1)
                .unwrap_err()
                .contains("greater than 0")
        );
        assert!(parse_rate("0", 1).unwrap_err().contains("greater than 0"));
        assert!(
            parse_rate("41,2", 1)
                .unwrap_err()
                .contains("not a decimal rate")
        );
        assert!(
            parse_rate("0.123456789", 1)
                .unwrap_err()
                .contains("decimal places")
        );
        assert!(parse_rate("0.00000001", 100).unwrap_err().contains("below"));
    }
}
