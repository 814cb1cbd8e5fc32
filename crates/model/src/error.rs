//! Errors of the domain layer.

/// Why one incoming record was rejected. `column` names the field at fault so the
/// message can point the user at the exact cell to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{column}: {reason}")]
pub struct RowError {
    pub column: String,
    pub reason: String,
}

impl RowError {
    pub fn new(column: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid tenant id {0:?}: use 1-63 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
    )]
    InvalidTenant(String),
    #[error(
        "unknown table {0:?}: expected one of touchpoints, leads, deal_events, orders, ad_costs, fx_rates, ad_clicks"
    )]
    UnknownTable(String),
    #[error("invalid default phone country code {0:?}: give 1-3 digits, e.g. 380")]
    InvalidCountryCode(String),
    #[error(transparent)]
    ChannelRules(#[from] crate::channel::ChannelRulesError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
