//! Tracked links for messengers and social profiles: `GET /r/{code}` records the click
//! with its UTM tags and click id, then redirects (302) to the link's target with a token
//! — the visitor id — in it (e.g. Telegram's `?start=`). The CRM keeps the token on the
//! lead it creates from the conversation (mapped to `visitor_id`), which ties that lead,
//! and its deals, to the click. Unknown codes get 404: there is no open redirect.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use throughline_model::TenantId;
use throughline_model::tracking::UTM_PARAMS;

use throughline_settings::TrackedLink;

use crate::ApiError;
use crate::api::{Shared, store_touchpoints};

/// The visitor cookie, shared with the snippet (docs/SNIPPET.md).
const VISITOR_COOKIE: &str = "tl_vid";
const VISITOR_COOKIE_DAYS: u64 = 395;

pub(crate) async fn follow_link(
    State(ingestor): Shared,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let Some((tenant, link)) = ingestor.config.link(&code) else {
        return ApiError::NotFound("not found".into()).into_response();
    };
    let Ok(tenant) = TenantId::parse(tenant) else {
        return ApiError::NotFound("not found".into()).into_response();
    };
    let params: HashMap<String, String> = query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let visitor = params
        .get("vid")
        .map(String::as_str)
        .or_else(|| cookie(&headers, VISITOR_COOKIE))
        .filter(|v| is_token(v))
        .map_or_else(new_visitor_id, str::to_owned);
    let landing = landing_url(&headers, uri.path(), link, &params);
    let record: HashMap<String, String> = [
        ("event_id", format!("link-{}", uuid::Uuid::now_v7())),
        ("ts", chrono::Utc::now().to_rfc3339()),
        ("visitor_id", visitor.clone()),
        ("url", landing),
    ]
    .into_iter()
    .chain(
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .map(|r| ("referrer", r.to_owned())),
    )
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let raw = Bytes::from(serde_json::to_vec(&record).expect("a map serialises"));
    let stored = store_touchpoints(
        &ingestor,
        &tenant,
        &headers,
        "collect-links",
        raw,
        vec![record],
    )
    .await;
    // The visitor is sent on even when storage failed: losing one click is better than
    // losing the conversation. The failure is logged with the click for follow-up.
    if let Err(e) = stored {
        tracing::error!(%tenant, code, error = %e, "tracked link click not stored");
    }
    redirect(
        &link.target.replace("{token}", &visitor),
        &visitor,
        &headers,
    )
}

fn redirect(location: &str, visitor: &str, headers: &HeaderMap) -> Response {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let cookie = format!(
        "{VISITOR_COOKIE}={visitor}; Max-Age={}; Path=/; SameSite=Lax; HttpOnly{}",
        VISITOR_COOKIE_DAYS * 24 * 3600,
        if secure { "; Secure" } else { "" }
    );
    let mut response = StatusCode::FOUND.into_response();
    let answer = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => answer.insert(header::LOCATION, value),
        Err(_) => return ApiError::Internal(format!("bad link target {location}")).into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        answer.insert(header::SET_COOKIE, value);
    }
    answer.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    answer.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The URL the click is recorded with: the link's own address with the incoming query
/// (an ad's `fbclid`, `utm_*`), and the link's configured UTM tags only when the query has
/// no UTM tag at all. Tags are one set: an ad's `utm_source`/`utm_medium` with the link's
/// `utm_campaign` would credit the link's campaign with the ad's click.
fn landing_url(
    headers: &HeaderMap,
    path: &str,
    link: &TrackedLink,
    params: &HashMap<String, String>,
) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut names: Vec<&String> = params.keys().filter(|k| k.as_str() != "vid").collect();
    names.sort();
    for name in names {
        query.append_pair(name, &params[name]);
    }
    let tagged = UTM_PARAMS
        .iter()
        .any(|name| params.get(*name).is_some_and(|v| !v.trim().is_empty()));
    let link_tags = [
        ("utm_source", &link.utm_source),
        ("utm_medium", &link.utm_medium),
        ("utm_campaign", &link.utm_campaign),
        ("utm_content", &link.utm_content),
        ("utm_term", &link.utm_term),
    ];
    for (name, value) in link_tags.into_iter().filter(|_| !tagged) {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}{path}?{query}")
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A token fits every messenger's deep-link parameter: Telegram's `start` allows 1–64 of
/// `A-Z a-z 0-9 _ -`.
fn is_token(value: &str) -> bool {
    (8..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn new_visitor_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_safe_for_deep_links() {
        let id = new_visitor_id();
        assert!(is_token(&id), "{id}");
        assert!(!is_token("short"));
        assert!(!is_token("has space in it"));
        assert!(!is_token("<script>alert(1)</script>"));
    }

    #[test]
    fn the_ads_tags_win_over_the_links() {
        let link = TrackedLink {
            target: "https://t.me/acme_bot?start={token}".into(),
            utm_source: Some("instagram".into()),
            utm_medium: Some("social".into()),
            utm_campaign: None,
            utm_content: None,
            utm_term: None,
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "go.acme.test".parse().unwrap());
        let params = HashMap::from([
            ("utm_source".to_owned(), "facebook".to_owned()),
            ("fbclid".to_owned(), "IwAR1".to_owned()),
            ("vid".to_owned(), "abcdefgh12".to_owned()),
        ]);
        assert_eq!(
            landing_url(&headers, "/r/tg", &link, &params),
            "http://go.acme.test/r/tg?fbclid=IwAR1&utm_source=facebook",
            "the ad's tags win as a set: none of the link's is mixed in"
        );
        // An ad tagged with source and medium only (Meta's URL parameters), at a link that
        // names a campaign: the click keeps no campaign rather than the link's.
        let campaign_link = TrackedLink {
            utm_campaign: Some("spring-sale".into()),
            ..link.clone()
        };
        let params = HashMap::from([
            ("utm_source".to_owned(), "fb".to_owned()),
            ("utm_medium".to_owned(), "paid".to_owned()),
        ]);
        let url = landing_url(&headers, "/r/tg", &campaign_link, &params);
        assert!(!url.contains("spring-sale"), "{url}");
        // An untagged click (a bio link, a QR code) is recorded with the link's tags.
        let params = HashMap::from([("fbclid".to_owned(), "IwAR2".to_owned())]);
        assert_eq!(
            landing_url(&headers, "/r/tg", &campaign_link, &params),
            "http://go.acme.test/r/tg?fbclid=IwAR2&utm_source=instagram&utm_medium=social&utm_campaign=spring-sale"
        );
    }
}
