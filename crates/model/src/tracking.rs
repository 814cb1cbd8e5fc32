//! Campaign parameters in landing URLs: UTM tags and ad platforms' click ids.

use url::Url;

/// Click-id query parameters we recognise, in the order that decides when a URL carries
/// several: Google's auto-tagging ids first, `fbclid` last because Facebook appends it to
/// any shared link, paid or not.
pub const CLICK_ID_PARAMS: [&str; 9] = [
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "ttclid",
    "twclid",
    "li_fat_id",
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
}

/// Parses UTM tags and the click id from a landing URL. Unparseable URLs yield nothing:
/// the URL itself is still stored, so a later fix can re-derive the tags.
pub fn parse_landing_url(raw: &str) -> UrlCampaign {
    let mut found = UrlCampaign::default();
    let Ok(url) = Url::parse(raw.trim()) else {
        return found;
    };
    let mut click_rank = usize::MAX;
    for (key, value) in url.query_pairs() {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let key = key.to_ascii_lowercase();
        if let Some(i) = UTM_PARAMS.iter().position(|p| *p == key) {
            found.utm[i].get_or_insert_with(|| value.to_owned());
        } else if let Some(rank) = CLICK_ID_PARAMS.iter().position(|p| *p == key)
            && rank < click_rank
        {
            click_rank = rank;
            found.click_id = Some(value.to_owned());
            found.click_id_type = Some(key);
        }
    }
    found
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
    }

    #[test]
    fn decodes_and_ignores_garbage() {
        let p =
            parse_landing_url("https://x.ua/?utm_campaign=Autumn%20Sale+UA&UTM_SOURCE=fb&ttclid=");
        assert_eq!(p.utm[2].as_deref(), Some("Autumn Sale UA"));
        assert_eq!(p.utm[0].as_deref(), Some("fb"));
        assert_eq!(p.click_id, None);
        assert_eq!(parse_landing_url("not a url"), UrlCampaign::default());
        assert_eq!(
            host_of("https://www.Google.com/search?q=1").as_deref(),
            Some("google.com")
        );
    }
}
