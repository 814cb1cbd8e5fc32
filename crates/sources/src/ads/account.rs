//! A tenant's ad accounts (`[tenants.<id>.ads]` in the config) and one interface over the
//! four connectors, so the driver that sends requests is written once.

use serde::Deserialize;

use super::{
    ApiRequest, DateRange, ErrorAction, Page, Platform, Result, google_ads, meta, microsoft, tiktok,
};
use crate::crm::Secret;

/// OAuth 2.0 refresh-token credentials (Google Ads, Microsoft Advertising): the driver
/// exchanges them for an access token at the start of each pull.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthRefresh {
    pub client_id: String,
    /// Required by Google; Microsoft's public (desktop) clients have none.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    pub refresh_token: Secret,
    /// The token endpoint; the platform's when absent.
    #[serde(default)]
    pub token_url: Option<String>,
}

/// A tenant's ad accounts and how far back each pull reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsSettings {
    /// Days every pull re-reads, because platforms restate recent days (late conversions,
    /// invalid-click refunds).
    #[serde(default = "default_lookback_days")]
    pub lookback_days: u32,
    /// Days the first pull of an account reads.
    #[serde(default = "default_backfill_days")]
    pub backfill_days: u32,
    /// Pages one report may have before the pull stops as "a page that never ends".
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    #[serde(default)]
    pub google_ads: Vec<google_ads::Settings>,
    #[serde(default)]
    pub meta: Vec<meta::Settings>,
    #[serde(default)]
    pub tiktok: Vec<tiktok::Settings>,
    #[serde(default)]
    pub microsoft: Vec<microsoft::Settings>,
}

fn default_lookback_days() -> u32 {
    7
}
fn default_backfill_days() -> u32 {
    30
}
fn default_max_pages() -> u32 {
    1000
}

impl AdsSettings {
    /// Every secret of the tenant's ad accounts with its place in the config
    /// (`ads.meta[0].access_token`), for the loader to resolve.
    pub fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        let mut found = Vec::new();
        for (i, account) in self.google_ads.iter_mut().enumerate() {
            let place = format!("ads.google_ads[{i}]");
            if let Some(token) = &mut account.developer_token {
                found.push((format!("{place}.developer_token"), token));
            }
            if let Some(auth) = &mut account.auth {
                found.extend(auth.secrets_mut(&place));
            }
        }
        for (i, account) in self.meta.iter_mut().enumerate() {
            if let Some(token) = &mut account.access_token {
                found.push((format!("ads.meta[{i}].access_token"), token));
            }
        }
        for (i, account) in self.tiktok.iter_mut().enumerate() {
            if let Some(token) = &mut account.access_token {
                found.push((format!("ads.tiktok[{i}].access_token"), token));
            }
        }
        for (i, account) in self.microsoft.iter_mut().enumerate() {
            let place = format!("ads.microsoft[{i}]");
            found.push((
                format!("{place}.developer_token"),
                &mut account.developer_token,
            ));
            if let Some(auth) = &mut account.auth {
                found.extend(auth.secrets_mut(&place));
            }
        }
        found
    }
}

impl OAuthRefresh {
    fn secrets_mut(&mut self, place: &str) -> Vec<(String, &mut Secret)> {
        let mut found = vec![(
            format!("{place}.auth.refresh_token"),
            &mut self.refresh_token,
        )];
        if let Some(secret) = &mut self.client_secret {
            found.push((format!("{place}.auth.client_secret"), secret));
        }
        found
    }
}

impl Default for AdsSettings {
    fn default() -> Self {
        Self {
            lookback_days: default_lookback_days(),
            backfill_days: default_backfill_days(),
            max_pages: default_max_pages(),
            google_ads: Vec::new(),
            meta: Vec::new(),
            tiktok: Vec::new(),
            microsoft: Vec::new(),
        }
    }
}

impl AdsSettings {
    /// Every configured account, in config order by platform.
    pub fn accounts(&self) -> Vec<Account<'_>> {
        let mut accounts: Vec<Account<'_>> = Vec::new();
        accounts.extend(self.google_ads.iter().map(Account::GoogleAds));
        accounts.extend(self.meta.iter().map(Account::Meta));
        accounts.extend(self.tiktok.iter().map(Account::TikTok));
        accounts.extend(self.microsoft.iter().map(Account::Microsoft));
        accounts
    }

    /// Checks what loading the config can: windows, credentials present, base URLs, one
    /// entry per account. The error names the entry, e.g. `ads.meta[1]: …`.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.lookback_days == 0 || self.lookback_days > 365 {
            return Err("ads.lookback_days: must be 1–365".into());
        }
        if self.backfill_days == 0 || self.backfill_days > 3 * 365 {
            return Err("ads.backfill_days: must be 1–1095".into());
        }
        if self.max_pages == 0 {
            return Err("ads.max_pages: must be at least 1".into());
        }
        let mut seen = std::collections::HashSet::new();
        let mut index: std::collections::HashMap<Platform, usize> = Default::default();
        for account in self.accounts() {
            let n = index.entry(account.platform()).or_default();
            let name = format!("ads.{}[{n}]", account.platform().name());
            *n += 1;
            account.check().map_err(|e| format!("{name}: {e}"))?;
            if !seen.insert((account.platform(), account.account_id())) {
                return Err(format!(
                    "{name}: account {} is listed twice",
                    account.account_id()
                ));
            }
        }
        Ok(())
    }
}

/// How the driver authenticates an account's requests.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// Exchange a refresh token at `token_url` (with `scope`, if any), then send
    /// `Authorization: Bearer <access token>`.
    OAuth {
        refresh: &'a OAuthRefresh,
        token_url: &'a str,
        scope: Option<&'static str>,
    },
    /// Send the token as is in `header`, after `prefix` (e.g. `Bearer `).
    Token {
        token: &'a Secret,
        header: &'static str,
        prefix: &'static str,
    },
}

const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const MICROSOFT_TOKEN_URL: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
/// The scope Microsoft Advertising's OAuth flow documents for API access.
const MICROSOFT_SCOPE: &str = "https://ads.microsoft.com/msads.manage offline_access";

/// One ad account of one platform.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    GoogleAds(&'a google_ads::Settings),
    Meta(&'a meta::Settings),
    TikTok(&'a tiktok::Settings),
    Microsoft(&'a microsoft::Settings),
}

impl<'a> Account<'a> {
    /// The account's configured secrets, resolved (for removing them from what is kept).
    pub fn secret_values(self) -> Vec<String> {
        let (auth, mut secrets): (Option<&OAuthRefresh>, Vec<&Secret>) = match self {
            Account::GoogleAds(s) => (s.auth.as_ref(), s.developer_token.iter().collect()),
            Account::Microsoft(s) => (s.auth.as_ref(), vec![&s.developer_token]),
            Account::Meta(s) => (None, s.access_token.iter().collect()),
            Account::TikTok(s) => (None, s.access_token.iter().collect()),
        };
        if let Some(auth) = auth {
            secrets.push(&auth.refresh_token);
            secrets.extend(auth.client_secret.as_ref());
        }
        secrets.into_iter().map(Secret::expose).collect()
    }

    pub fn platform(self) -> Platform {
        match self {
            Account::GoogleAds(_) => Platform::GoogleAds,
            Account::Meta(_) => Platform::Meta,
            Account::TikTok(_) => Platform::TikTok,
            Account::Microsoft(_) => Platform::Microsoft,
        }
    }

    /// The account id as the `account_id` column stores it (Google without dashes, Meta
    /// without `act_`).
    pub fn account_id(self) -> String {
        match self {
            Account::GoogleAds(s) => google_ads::customer_id(&s.account_id),
            Account::Meta(s) => meta::account(s),
            Account::TikTok(s) => s.account_id.trim().to_owned(),
            Account::Microsoft(s) => s.account_id.trim().to_owned(),
        }
    }

    /// The base URL requests are appended to, without a trailing slash.
    pub fn base_url(self) -> &'a str {
        let configured = match self {
            Account::GoogleAds(s) => s.base_url.as_deref(),
            Account::Meta(s) => s.base_url.as_deref(),
            Account::TikTok(s) => s.base_url.as_deref(),
            Account::Microsoft(s) => s.base_url.as_deref(),
        };
        configured
            .unwrap_or(self.platform().production_url())
            .trim_end_matches('/')
    }

    /// How to authenticate; `None` when the config gives no credentials.
    pub fn credentials(self) -> Option<Credentials<'a>> {
        let oauth =
            |refresh: &'a OAuthRefresh, default_url: &'static str, scope| Credentials::OAuth {
                refresh,
                token_url: refresh.token_url.as_deref().unwrap_or(default_url),
                scope,
            };
        match self {
            Account::GoogleAds(s) => s.auth.as_ref().map(|a| oauth(a, GOOGLE_TOKEN_URL, None)),
            Account::Microsoft(s) => s
                .auth
                .as_ref()
                .map(|a| oauth(a, MICROSOFT_TOKEN_URL, Some(MICROSOFT_SCOPE))),
            Account::Meta(s) => s.access_token.as_ref().map(|token| Credentials::Token {
                token,
                header: "Authorization",
                prefix: "Bearer ",
            }),
            // TikTok's Business API takes the token in its own header.
            Account::TikTok(s) => s.access_token.as_ref().map(|token| Credentials::Token {
                token,
                header: "Access-Token",
                prefix: "",
            }),
        }
    }

    fn check(self) -> std::result::Result<(), String> {
        if self.account_id().is_empty() {
            return Err("account_id is empty".into());
        }
        if self.credentials().is_none() {
            return Err(match self.platform() {
                Platform::GoogleAds | Platform::Microsoft => {
                    "no credentials: set auth = { client_id = …, client_secret = \"env:…\", refresh_token = \"ssm:…\" }"
                }
                Platform::Meta | Platform::TikTok => {
                    "no credentials: set access_token = \"env:…\" or \"ssm:…\""
                }
            }
            .into());
        }
        let mut urls = vec![self.base_url()];
        if let Some(Credentials::OAuth { token_url, .. }) = self.credentials() {
            urls.push(token_url);
        }
        for text in urls {
            match url::Url::parse(text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return Err(format!("{text:?} is not an http(s) URL")),
            }
        }
        Ok(())
    }

    /// The first request of the cost report for `range`.
    pub fn first_request(self, range: DateRange) -> ApiRequest {
        match self {
            Account::GoogleAds(s) => google_ads::first_request(s, range),
            Account::Meta(s) => meta::first_request(s, range),
            Account::TikTok(s) => tiktok::first_request(s, range),
            Account::Microsoft(s) => microsoft::first_request(s, range),
        }
    }

    /// Reads one successful answer. TikTok reports errors in HTTP 200 bodies: call
    /// [`Account::body_error`] first.
    pub fn read_page(self, range: DateRange, body: &[u8]) -> Result<Page> {
        match self {
            Account::GoogleAds(s) => google_ads::read_page(s, range, body),
            Account::Meta(s) => meta::read_page(s, range, body),
            Account::TikTok(s) => tiktok::read_page(s, range, body),
            Account::Microsoft(s) => microsoft::read_page(s, range, body),
        }
    }

    /// What to do about a non-2xx answer.
    pub fn read_error(self, status: u16, retry_after: Option<&str>, body: &[u8]) -> ErrorAction {
        match self {
            Account::GoogleAds(s) => google_ads::read_error(s, status, retry_after, body),
            Account::Meta(s) => meta::read_error(s, status, retry_after, body),
            Account::TikTok(s) => tiktok::read_error(s, status, retry_after, body),
            Account::Microsoft(s) => microsoft::read_error(s, status, retry_after, body),
        }
    }

    /// An error carried by a 2xx body (TikTok), if any.
    pub fn body_error(self, body: &[u8]) -> Option<ErrorAction> {
        match self {
            Account::TikTok(s) => tiktok::body_error(s, body),
            _ => None,
        }
    }

    /// Whether `next` means "send the previous request again, after a pause" (Microsoft's
    /// poll of a report still being built).
    pub fn repeats_previous_request(self, next: &ApiRequest) -> bool {
        matches!(self, Account::Microsoft(_)) && microsoft::repeats_previous_request(next)
    }

    /// Days one report may span (TikTok allows 30 for daily reports).
    pub fn max_days_per_report(self) -> u32 {
        30
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
        lookback_days = 10

        [[google_ads]]
        account_id = "123-456-7890"
        developer_token = "env:DEV"
        auth = { client_id = "cid", client_secret = "env:SECRET", refresh_token = "ssm:acme/google" }

        [[meta]]
        account_id = "act_42"
        access_token = "env:META_TOKEN"
        base_url = "http://127.0.0.1:9/"

        [[tiktok]]
        account_id = "701"
        access_token = "tok"

        [[microsoft]]
        account_id = "180012345"
        customer_id = "250012345"
        developer_token = "dev"
        auth = { client_id = "cid", refresh_token = "env:MS_REFRESH", token_url = "http://127.0.0.1:9/token" }
    "#;

    #[test]
    fn reads_accounts_of_every_platform() {
        let settings: AdsSettings = toml::from_str(CONFIG).unwrap();
        settings.check().unwrap();
        assert_eq!(settings.lookback_days, 10);
        assert_eq!(settings.backfill_days, 30);
        let accounts = settings.accounts();
        let ids: Vec<(&str, String)> = accounts
            .iter()
            .map(|a| (a.platform().name(), a.account_id()))
            .collect();
        assert_eq!(
            ids,
            [
                ("google_ads", "1234567890".to_string()),
                ("meta", "42".into()),
                ("tiktok", "701".into()),
                ("microsoft", "180012345".into()),
            ]
        );
        assert_eq!(accounts[0].base_url(), "https://googleads.googleapis.com");
        assert_eq!(accounts[1].base_url(), "http://127.0.0.1:9");
        match accounts[0].credentials() {
            Some(Credentials::OAuth {
                token_url, scope, ..
            }) => {
                assert_eq!(token_url, GOOGLE_TOKEN_URL);
                assert_eq!(scope, None);
            }
            other => panic!("{other:?}"),
        }
        match accounts[3].credentials() {
            Some(Credentials::OAuth {
                token_url, scope, ..
            }) => {
                assert_eq!(token_url, "http://127.0.0.1:9/token");
                assert_eq!(scope, Some(MICROSOFT_SCOPE));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            accounts[2].credentials(),
            Some(Credentials::Token {
                header: "Access-Token",
                ..
            })
        ));
    }

    #[test]
    fn refuses_what_a_pull_could_not_use() {
        let missing: AdsSettings = toml::from_str("[[meta]]\naccount_id = \"1\"").unwrap();
        assert!(
            missing
                .check()
                .unwrap_err()
                .starts_with("ads.meta[0]: no credentials")
        );

        let twice: AdsSettings = toml::from_str(
            "[[tiktok]]\naccount_id = \"7\"\naccess_token = \"t\"\n[[tiktok]]\naccount_id = \" 7\"\naccess_token = \"t\"",
        )
        .unwrap();
        assert_eq!(
            twice.check().unwrap_err(),
            "ads.tiktok[1]: account 7 is listed twice"
        );

        let bad_url: AdsSettings = toml::from_str(
            "[[tiktok]]\naccount_id = \"7\"\naccess_token = \"t\"\nbase_url = \"ftp://x\"",
        )
        .unwrap();
        assert!(bad_url.check().unwrap_err().contains("not an http(s) URL"));

        let window: AdsSettings = toml::from_str("lookback_days = 0").unwrap();
        assert!(window.check().is_err());
        assert!(toml::from_str::<AdsSettings>("lookback = 3").is_err());
    }
}
