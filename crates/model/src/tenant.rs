//! Tenant ids appear in lake paths (`tenant=<id>`), so they are restricted to characters
//! that are safe in object keys and Hive partition values and cannot escape a prefix.

use std::fmt;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(id: &str) -> Result<Self> {
        let valid_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let first_ok = id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if first_ok && id.len() <= 63 && id.chars().all(valid_char) {
            Ok(Self(id.to_owned()))
        } else {
            Err(Error::InvalidTenant(id.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_path_safe_ids_only() {
        assert!(TenantId::parse("kukhni-dnipro").is_ok());
        assert!(TenantId::parse("a_1").is_ok());
        for bad in [
            "",
            "Acme",
            "../x",
            "a/b",
            "-a",
            "a b",
            "a=b",
            &"x".repeat(64),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
