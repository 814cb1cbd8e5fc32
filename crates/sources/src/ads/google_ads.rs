//! GoogleAds reporting API. (Connector being written.)

#![allow(unused_imports)]

use serde::Deserialize;

use super::{AdsError, ApiRequest, DateRange, ErrorAction, Page, Platform, Result, malformed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The ad account id as the platform writes it.
    pub account_id: String,
}

/// The first request of the report for `range`.
pub fn first_request(_settings: &Settings, _range: DateRange) -> ApiRequest {
    ApiRequest {
        method: "GET",
        path_and_query: String::new(),
        headers: Vec::new(),
        body: None,
    }
}

/// Reads one response body (HTTP 2xx) into costs and the next request.
pub fn read_page(_settings: &Settings, _range: DateRange, _body: &[u8]) -> Result<Page> {
    Err(malformed(Platform::GoogleAds, "connector not written yet"))
}

/// What to do about a non-2xx answer, from its status, `Retry-After` header and body.
pub fn read_error(
    settings: &Settings,
    status: u16,
    _retry_after: Option<&str>,
    _body: &[u8],
) -> ErrorAction {
    ErrorAction::Stop(AdsError::Refused {
        platform: Platform::GoogleAds.name(),
        account: settings.account_id.clone(),
        reason: format!("HTTP {status}"),
    })
}
