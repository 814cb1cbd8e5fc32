//! Credentials: the header each request carries. OAuth refresh tokens (Google Ads,
//! Microsoft Advertising) are exchanged for an access token once per pull; the access
//! token lives in memory only and is never logged.

use serde::Deserialize;
use throughline_sources::ads::{Account, AdsError, Credentials, ErrorAction, retry_after_secs};

use crate::PullError;
use crate::fetch::{PullPolicy, send_once, with_retries};

/// What a token endpoint answers (RFC 6749 §5.1 and §5.2).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The authentication header for `account`'s requests: (name, value).
pub(crate) async fn authorize(
    http: &reqwest::Client,
    policy: &PullPolicy,
    account: Account<'_>,
) -> Result<(&'static str, String), PullError> {
    let platform = account.platform().name();
    let fail = |reason: String| PullError::Failed {
        platform,
        account: account.account_id(),
        reason,
    };
    match account.credentials() {
        None => Err(fail(
            "no credentials in the config: see docs/ads/README.md".into(),
        )),
        Some(Credentials::Token {
            token,
            header,
            prefix,
        }) => {
            let value = token.expose();
            if value.is_empty() {
                return Err(fail(format!(
                    "the access token {token:?} is empty: set the variable or SSM parameter it names"
                )));
            }
            Ok((header, format!("{prefix}{value}")))
        }
        Some(Credentials::OAuth {
            refresh,
            token_url,
            scope,
        }) => {
            let refresh_token = refresh.refresh_token.expose();
            if refresh_token.is_empty() {
                return Err(fail(format!(
                    "the refresh token {:?} is empty: set the variable or SSM parameter it names",
                    refresh.refresh_token
                )));
            }
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("client_id", &refresh.client_id)
                .append_pair("refresh_token", &refresh_token);
            if let Some(secret) = &refresh.client_secret {
                form.append_pair("client_secret", &secret.expose());
            }
            if let Some(scope) = scope {
                form.append_pair("scope", scope);
            }
            let body = form.finish();
            let headers = [(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )];
            let (answer, _) = with_retries(
                policy,
                "the OAuth token exchange",
                fail,
                || send_once(http, "POST", token_url, &headers, Some(&body)),
                |answer| {
                    if answer.status == 429 || answer.status >= 500 {
                        let after_secs = retry_after_secs(answer.retry_after.as_deref());
                        return Err((
                            ErrorAction::Retry { after_secs },
                            format!("HTTP {}", answer.status),
                        ));
                    }
                    Ok(answer.body)
                },
            )
            .await?;
            let parsed: Option<TokenAnswer> = serde_json::from_slice(&answer).ok();
            match parsed {
                Some(TokenAnswer {
                    access_token: Some(token),
                    ..
                }) if !token.is_empty() => Ok(("Authorization", format!("Bearer {token}"))),
                Some(TokenAnswer {
                    error: Some(error),
                    error_description,
                    ..
                }) => Err(PullError::Platform(AdsError::Refused {
                    platform,
                    account: account.account_id(),
                    reason: format!(
                        "the OAuth refresh was refused ({error}: {}): re-authorise the {platform} connection and store the new refresh token",
                        error_description.unwrap_or_default()
                    ),
                })),
                _ => Err(fail(format!(
                    "the token endpoint {token_url} answered without an access_token: check auth.token_url"
                ))),
            }
        }
    }
}
