//! Contact data (e-mail, phone) is normalised and SHA-256 hashed at the edge, the way
//! Google's and Meta's customer-match uploads expect it, so raw PII never reaches the
//! lake and hashes from different sources join.

use sha2::{Digest, Sha256};

/// Lower-case, trimmed e-mail, hashed. Rejects values that cannot be an address.
pub fn hash_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
    }) && !email.contains(char::is_whitespace);
    if !valid {
        return Err("not an e-mail address (expected name@domain.tld)".to_owned());
    }
    Ok(sha256_hex(&email))
}

/// Phone in E.164 digits (country code included, no '+'), hashed.
pub fn hash_phone(raw: &str, default_country_code: Option<&str>) -> Result<String, String> {
    normalise_phone(raw, default_country_code).map(|digits| sha256_hex(&digits))
}

/// Normalises a phone number to E.164 digits.
///
/// `+380 67 123 45 67`, `00380671234567` and `380671234567` are international already;
/// a national number with a trunk `0` (`067 123 45 67`) needs the tenant's default
/// country code (`380` for Ukraine) and is rejected without one rather than guessed.
pub fn normalise_phone(raw: &str, default_country_code: Option<&str>) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
    {
        return Err("phone may contain only digits, spaces, '+', '-', '(', ')' and '.'".to_owned());
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = if trimmed.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(code) = default_country_code {
        if digits.starts_with(code) && digits.len() >= 11 {
            digits
        } else if let Some(national) = digits.strip_prefix('0') {
            format!("{code}{national}")
        } else {
            format!("{code}{digits}")
        }
    } else if digits.len() >= 11 && !digits.starts_with('0') {
        digits
    } else {
        return Err("phone is in national format; give it as +<country code>… or set the default country code (--phone-country)".to_owned());
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(format!(
            "phone has {} digits after normalising; E.164 numbers have 8 to 15 and no leading 0",
            international.len()
        ));
    }
    Ok(international)
}

/// Validates a default country calling code (1-3 digits, no leading zero).
pub fn check_country_code(code: &str) -> Result<(), crate::Error> {
    let ok = (1..=3).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_digit())
        && !code.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(crate::Error::InvalidCountryCode(code.to_owned()))
    }
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_lowercased_and_hashed() {
        // Known SHA-256 of "test@example.com".
        let expected = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b";
        assert_eq!(hash_email("  Test@Example.COM ").unwrap(), expected);
        assert!(hash_email("no-at-sign").is_err());
        assert!(hash_email("a@b").is_err());
        assert!(hash_email("a b@c.com").is_err());
    }

    #[test]
    fn ukrainian_phone_formats_agree() {
        let ua = Some("380");
        let want = "380671234567";
        for raw in [
            "+380 67 123 45 67",
            "+380671234567",
            "067 123 45 67",
            "(067) 123-45-67",
            "380671234567",
            "00380671234567",
        ] {
            assert_eq!(normalise_phone(raw, ua).unwrap(), want, "{raw}");
        }
        assert_eq!(normalise_phone("+380 67 123 45 67", None).unwrap(), want);
        assert!(
            normalise_phone("067 123 45 67", None)
                .unwrap_err()
                .contains("--phone-country")
        );
        assert!(normalise_phone("call me", ua).is_err());
        assert!(normalise_phone("+1 23", ua).is_err());
    }

    #[test]
    fn country_code_must_be_digits() {
        assert!(check_country_code("380").is_ok());
        assert!(check_country_code("1").is_ok());
        assert!(check_country_code("+380").is_err());
        assert!(check_country_code("0380").is_err());
    }
}
