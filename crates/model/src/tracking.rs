//! Campaign parameters in landing URLs: UTM tags and ad platforms' click ids.

use std::sync::LazyLock;

use url::Url;

use crate::channel::ChannelRules;

/// Click-id query parameters we recognise, in the order that decides when a URL carries
/// several: Google's auto-tagging ids first, `fbclid` last because Facebook appends it to
/// any shared link, paid or not. The one list of click ids: the snippet
/// (`crates/http/assets/throughline.js`), `[click_ids]` of the channel rules, the CRM
/// tracking fields and docs/CHANNELS.md follow it (tests hold them to it).
pub const CLICK_ID_PARAMS: [&str; 12] = [
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "yclid",
    "ttclid",
    "twclid",
    "li_fat_id",
    "epik",
    "sccid",
    "fbclid",
];

pub const UTM_PARAMS: [&str; 6] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "utm_id",
];

/// The campaign parameters found in one URL.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UrlCampaign {
    /// Values for `UTM_PARAMS`, in that order.
    pub utm: [Option<String>; 6],
    pub click_id: Option<String>,
    pub click_id_type: Option<String>,
    /// Every click id the URL carries, as `type=value` pairs in the URL's order (the first
    /// value of each type), form-encoded: `msclkid=…&gclid=…`. `None` without one. The
    /// stored `click_ids` column: the evidence the choice of `click_id` was made from.
    pub click_ids: Option<String>,
}

/// The built-in channel rules, for the platforms of click ids and of `utm_source` values
/// when a URL carries several click ids.
static BUILTIN_RULES: LazyLock<ChannelRules> = LazyLock::new(ChannelRules::builtin);

/// Parses UTM tags and the click id from a landing URL. Unparseable URLs yield nothing:
/// the URL itself is still stored, so a later fix can re-derive the tags.
pub fn parse_landing_url(raw: &str) -> UrlCampaign {
    let mut found = UrlCampaign::default();
    let Ok(url) = Url::parse(raw.trim()) else {
        return found;
    };
    // (rank in CLICK_ID_PARAMS, parameter, value): the first value of each parameter.
    let mut click_ids: Vec<(usize, String, String)> = Vec::new();
    let mut gclsrc = None;
    for (key, value) in url.query_pairs() {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let key = key.to_ascii_lowercase();
        if let Some(i) = UTM_PARAMS.iter().position(|p| *p == key) {
            found.utm[i].get_or_insert_with(|| value.to_owned());
        } else if let Some(rank) = CLICK_ID_PARAMS.iter().position(|p| *p == key) {
            if !click_ids.iter().any(|(r, ..)| *r == rank) {
                click_ids.push((rank, key, value.to_owned()));
            }
        } else if key == "gclsrc" {
            gclsrc.get_or_insert_with(|| value.to_owned());
        }
    }
    if !click_ids.is_empty() {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (_, kind, value) in &click_ids {
            pairs.append_pair(kind, value);
        }
        found.click_ids = Some(pairs.finish());
    }
    if let Some((kind, value)) =
        strongest_click_id(click_ids, found.utm[0].as_deref(), gclsrc.as_deref())
    {
        found.click_id = Some(value);
        found.click_id_type = Some(kind);
    }
    found
}

/// Of the click ids one URL carries, the one that tells which platform paid for the click
/// (docs/CHANNELS.md, "Platform"): one of the platform `utm_source` names, if any; else the
/// first in [`CLICK_ID_PARAMS`] order, where a `gclid` with a `gclsrc` other than `aw.ds`
/// (Search Ads 360 or Campaign Manager passing its own id along, not a Google Ads click)
/// comes last.
fn strongest_click_id(
    mut click_ids: Vec<(usize, String, String)>,
    utm_source: Option<&str>,
    gclsrc: Option<&str>,
) -> Option<(String, String)> {
    // One click id or none (nearly every URL): nothing to weigh, no rules to load.
    if click_ids.len() < 2 {
        return click_ids.pop().map(|(_, kind, value)| (kind, value));
    }
    let gclid_not_google_ads = gclsrc.is_some_and(|s| !s.eq_ignore_ascii_case("aw.ds"));
    click_ids.sort_by_key(|(rank, kind, _)| (gclid_not_google_ads && kind == "gclid", *rank));
    let rules = &*BUILTIN_RULES;
    let named = utm_source.and_then(|source| rules.platform_of_source(source));
    let chosen = named
        .and_then(|platform| {
            click_ids
                .iter()
                .position(|(_, kind, _)| rules.click_id_platform(kind) == Some(platform))
        })
        .unwrap_or(0);
    click_ids
        .into_iter()
        .nth(chosen)
        .map(|(_, kind, value)| (kind, value))
}

/// The host of a URL, lower-cased, without a leading `www.`.
pub fn host_of(raw: &str) -> Option<String> {
    let url = Url::parse(raw.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(host.strip_prefix("www.").map(str::to_owned).unwrap_or(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utm_and_click_ids() {
        let p = parse_landing_url(
            "https://kukhni.ua/kitchens?utm_source=google&utm_medium=cpc&utm_id=2187&gclid=Cj0K&fbclid=IwAR",
        );
        assert_eq!(p.utm[0].as_deref(), Some("google"));
        assert_eq!(p.utm[1].as_deref(), Some("cpc"));
        assert_eq!(p.utm[5].as_deref(), Some("2187"));
        assert_eq!(p.click_id.as_deref(), Some("Cj0K"));
        assert_eq!(p.click_id_type.as_deref(), Some("gclid"));
        assert_eq!(p.click_ids.as_deref(), Some("gclid=Cj0K&fbclid=IwAR"));
    }

    #[test]
    fn decodes_and_ignores_garbage() {
        let p =
            parse_landing_url("https://x.ua/?utm_campaign=Autumn%20Sale+UA&UTM_SOURCE=fb&ttclid=");
        assert_eq!(p.utm[2].as_deref(), Some("Autumn Sale UA"));
        assert_eq!(p.utm[0].as_deref(), Some("fb"));
        assert_eq!(p.click_id, None);
        assert_eq!(p.click_ids, None);
        assert_eq!(parse_landing_url("not a url"), UrlCampaign::default());
        assert_eq!(
            host_of("https://www.Google.com/search?q=1").as_deref(),
            Some("google.com")
        );
    }

    #[test]
    fn yandex_pinterest_and_snapchat_click_ids_are_read() {
        for (url, kind) in [
            (
                "https://shop.example/?utm_source=yandex&yclid=4371658392",
                "yclid",
            ),
            ("https://shop.example/?epik=dj0yJnU9&fbclid=IwAR", "epik"),
            ("https://shop.example/?ScCid=a1b2", "sccid"),
        ] {
            let p = parse_landing_url(url);
            assert_eq!(p.click_id_type.as_deref(), Some(kind), "{url}");
        }
    }

    /// A Microsoft Ads click through Search Ads 360 carries a `gclid` too: the platform is
    /// the one the evidence names (#14, item 8).
    #[test]
    fn the_click_id_of_the_platform_the_url_names_wins() {
        for (url, kind, value) in [
            // SA360's gclid (gclsrc=ds) beside Microsoft's msclkid, utm_source=bing.
            (
                "https://shop.example/?utm_source=bing&utm_medium=cpc&msclkid=5a1b2c3d4e5f&gclid=EAIaIQob&gclsrc=ds",
                "msclkid",
                "5a1b2c3d4e5f",
            ),
            // No utm tags: a gclsrc other than aw.ds still puts the gclid last.
            (
                "https://shop.example/?gclid=EAIaIQob&gclsrc=ds&msclkid=5a1b",
                "msclkid",
                "5a1b",
            ),
            // Google Ads' own auto-tagging (gclsrc=aw.ds) keeps the gclid first.
            (
                "https://shop.example/?gclid=EAIaIQob&gclsrc=aw.ds&msclkid=5a1b",
                "gclid",
                "EAIaIQob",
            ),
            // utm_source naming Meta picks fbclid over a gclid.
            (
                "https://shop.example/?utm_source=facebook&gclid=Cj0K&fbclid=IwAR",
                "fbclid",
                "IwAR",
            ),
            // A utm_source naming no platform of the URL's ids: the order decides.
            (
                "https://shop.example/?utm_source=newsletter&gclid=Cj0K&fbclid=IwAR",
                "gclid",
                "Cj0K",
            ),
            // Only an SA360 gclid: still the click id.
            (
                "https://shop.example/?gclid=EAIaIQob&gclsrc=ds",
                "gclid",
                "EAIaIQob",
            ),
        ] {
            let p = parse_landing_url(url);
            assert_eq!(p.click_id_type.as_deref(), Some(kind), "{url}");
            assert_eq!(p.click_id.as_deref(), Some(value), "{url}");
        }
        // The click ids not chosen are kept beside the chosen one, in the URL's order,
        // the first value of each type, encoded as a query.
        let p = parse_landing_url(
            "https://shop.example/?utm_source=bing&msclkid=5a1b&gclid=EAIa%2BQob&gclsrc=ds&msclkid=other",
        );
        assert_eq!(p.click_id.as_deref(), Some("5a1b"));
        assert_eq!(
            p.click_ids.as_deref(),
            Some("msclkid=5a1b&gclid=EAIa%2BQob")
        );
    }

    #[test]
    fn the_snippet_and_the_channel_rules_know_every_click_id() {
        let snippet = include_str!("../../http/assets/throughline.js");
        let line = snippet
            .lines()
            .find(|l| l.contains("var CLICK_IDS"))
            .expect("the snippet's CLICK_IDS line");
        let listed = line.split('\'').nth(1).expect("a quoted list");
        assert_eq!(listed.split(' ').collect::<Vec<_>>(), CLICK_ID_PARAMS);
        let rules: toml::Table = toml::from_str(crate::channel::DEFAULT_CHANNELS_TOML).unwrap();
        let mut configured: Vec<&str> = rules["click_ids"]
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut known = CLICK_ID_PARAMS.to_vec();
        configured.sort_unstable();
        known.sort_unstable();
        assert_eq!(configured, known);
    }
}
