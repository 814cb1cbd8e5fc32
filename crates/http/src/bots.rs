//! Bots and prefetches are flagged, not counted: crawlers and the link-preview fetchers of
//! messengers (which open every tracked link pasted into a chat) would otherwise read as
//! clicks. The payload is still kept under `raw/collect-bots/` for audit.

use axum::http::HeaderMap;

/// User-agent fragments (lower case) of crawlers, monitors and link-preview fetchers.
const BOT_AGENTS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "pingdom",
    "uptime",
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "whatsapp",
    "viber",
    "skypeuripreview",
    "embedly",
    "pinterest",
    "vkshare",
    "preview",
    "python-requests",
    "go-http-client",
    "wget",
];

/// Why a request is not a person's visit, if it is not.
pub fn bot_reason(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    for name in ["sec-purpose", "purpose", "x-purpose", "x-moz"] {
        if let Some(value) = header(name) {
            let value = value.to_ascii_lowercase();
            if value.contains("prefetch")
                || value.contains("preview")
                || value.contains("prerender")
            {
                return Some(format!("{name}: {value}"));
            }
        }
    }
    let agent = header("user-agent")?.to_ascii_lowercase();
    BOT_AGENTS
        .iter()
        .find(|fragment| agent.contains(*fragment))
        .map(|fragment| format!("user agent contains {fragment:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn flags_crawlers_previews_and_prefetches() {
        for agent in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "TelegramBot (like TwitterBot)",
            "facebookexternalhit/1.1",
            "WhatsApp/2.23.20.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0",
        ] {
            assert!(
                bot_reason(&headers(&[("user-agent", agent)])).is_some(),
                "{agent}"
            );
        }
        assert!(bot_reason(&headers(&[("sec-purpose", "prefetch;prerender")])).is_some());
    }

    #[test]
    fn people_are_not_flagged() {
        for agent in [
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        ] {
            assert_eq!(
                bot_reason(&headers(&[("user-agent", agent)])),
                None,
                "{agent}"
            );
        }
        // Server-side senders without a user agent are not guessed at.
        assert_eq!(bot_reason(&HeaderMap::new()), None);
    }
}
