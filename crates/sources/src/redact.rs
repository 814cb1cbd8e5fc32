//! Credentials out of what is kept: platforms echo tokens into the answers they send back
//! (Meta copies the `access_token` into `paging.next`; Microsoft's poll answer holds a
//! pre-signed download URL with its `sig`). Every body kept under `raw/` goes through
//! [`redact`] first.

/// Query parameters whose value is a credential, wherever a URL carries them.
pub const SECRET_PARAMS: [&str; 10] = [
    "access_token",
    "refresh_token",
    "client_secret",
    "token",
    "sig",
    "signature",
    "key",
    "api_key",
    "password",
    "code",
];

/// What a removed credential reads as.
pub const REDACTED: &str = "***";

/// The text with every value of `secrets` (the credentials configured or obtained; empty
/// ones ignored) and the value of every [`SECRET_PARAMS`] parameter of a URL in it
/// (after `?` or `&`, also JSON's `\u0026` and XML's `&amp;`) replaced by [`REDACTED`].
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, REDACTED);
    }
    for name in SECRET_PARAMS {
        // Most answers carry no URL with credentials: one scan each to skip the rest.
        if !out.contains(&format!("{name}=")) {
            continue;
        }
        for separator in ["?", "&", "\\u0026", "&amp;"] {
            out = redact_param(&out, &format!("{separator}{name}="));
        }
    }
    out
}

/// Replaces the value after each `marker` (e.g. `&sig=`) up to the end of the URL parameter.
fn redact_param(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let value_start = at + marker.len();
        out.push_str(&rest[..value_start]);
        let value = &rest[value_start..];
        let end = value
            .find(|c: char| {
                matches!(c, '&' | '"' | '\'' | '<' | '>' | '\\' | '#') || c.is_whitespace()
            })
            .unwrap_or(value.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_tokens_and_signed_urls_lose_their_credentials() {
        // Meta's paging link, as its Graph API documents it.
        let meta = r#"{"paging":{"next":"https://graph.facebook.com/v26.0/act_1/insights?access_token=EAAB-xyz&limit=2&after=MQZDZD"}}"#;
        let kept = redact(meta, &[]);
        assert!(!kept.contains("EAAB-xyz"), "{kept}");
        assert!(
            kept.contains("access_token=***&limit=2&after=MQZDZD"),
            "{kept}"
        );
        // A pre-signed download URL (Azure blob SAS) inside JSON, `&` escaped.
        let microsoft = r#"{"ReportDownloadUrl":"https://dl.example/r.zip?sv=2020\u0026sig=AbC%2Bd\u0026se=2026"}"#;
        let kept = redact(microsoft, &[]);
        assert!(kept.contains(r"\u0026sig=***\u0026se=2026"), "{kept}");
        // The configured secret anywhere, even outside a URL.
        let echoed = r#"{"token_echo":"s3cr3t-value","ok":true}"#;
        assert_eq!(
            redact(echoed, &["s3cr3t-value", ""]),
            r#"{"token_echo":"***","ok":true}"#
        );
        // Nothing to redact: the text is kept as it is.
        let plain = r#"{"data":[{"spend":"1.00","keyword":"x"}],"monkey=1":2}"#;
        assert_eq!(redact(plain, &[]), plain);
        assert_eq!(redact("a?key=&b=1", &[]), "a?key=&b=1");
    }
}
