//! Channel grouping: which marketing channel (and which ad platform) a touchpoint belongs to.
//!
//! The channels follow Google Analytics 4's *default channel group*, because that is the
//! vocabulary marketers already read reports in, plus one extra group, `Messengers`
//! (Telegram, Viber, WhatsApp), which matters for Ukrainian traffic and which GA4 scatters
//! over Referral and Unassigned.
//!
//! The rules are data, not code: the default set lives in `crates/model/channels.toml`
//! (embedded in the binary) and a user can replace it with their own file, because every
//! business tags its links a little differently. See `docs/CHANNELS.md` for the format.
//!
//! Classification runs once per touchpoint over millions of rows, so everything that can be
//! prepared ahead (lowercased sets, resolved pattern and category references) is prepared
//! when the rules are loaded; [`ChannelRules::classify_ref`] allocates nothing unless an
//! input value contains uppercase characters.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The default rules, as shipped (the text of `crates/model/channels.toml`).
pub const DEFAULT_CHANNELS_TOML: &str = include_str!("../channels.toml");

/// The traffic fields of one touchpoint that decide its channel. Values are raw (any case,
/// maybe empty); empty or all-whitespace values count as missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic<'a> {
    /// Landing page URL; its host tells internal from external referrers.
    pub url: Option<&'a str>,
    /// Full referrer URL.
    pub referrer: Option<&'a str>,
    pub utm_source: Option<&'a str>,
    pub utm_medium: Option<&'a str>,
    pub utm_campaign: Option<&'a str>,
    /// Name of the click-id parameter the landing URL carried: gclid, gbraid, wbraid, dclid,
    /// fbclid, ttclid, msclkid, li_fat_id, twclid, ... Names not in the rules are ignored.
    pub click_id_type: Option<&'a str>,
}

/// The result of classifying one touchpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Channel group, e.g. `Paid Search`, `Organic Social`, `Messengers`, `Unassigned`.
    pub channel: String,
    /// Ad platform, e.g. `google_ads`, `meta`; `None` for unpaid traffic or unknown sources.
    pub platform: Option<String>,
}

/// A touchpoint's traffic, classified once ([`ChannelRules::touchpoint_facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TouchpointFacts<'r> {
    pub channel: &'r str,
    pub platform: Option<&'r str>,
    /// GA4's effective source, lower-case.
    pub source: Cow<'r, str>,
    /// GA4's effective medium, lower-case; `organic` for an untagged search engine visit.
    pub medium: Cow<'r, str>,
}

/// The channel whose untagged referrals GA4 reports with the medium `organic`.
const ORGANIC_SEARCH: &str = "Organic Search";

/// Borrowed form of [`Classification`], for hot loops that should not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassificationRef<'r> {
    pub channel: &'r str,
    pub platform: Option<&'r str>,
}

impl ClassificationRef<'_> {
    pub fn to_owned(self) -> Classification {
        Classification {
            channel: self.channel.to_owned(),
            platform: self.platform.map(str::to_owned),
        }
    }
}

/// Why a rules file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ChannelRulesError {
    /// Not valid TOML, a value of the wrong type, or an unknown key (the message names it
    /// and gives the line).
    #[error("channel rules: {0}")]
    Toml(#[from] toml::de::Error),
    /// Valid TOML whose content does not make sense; `key` is the path of the bad key,
    /// e.g. `rule[3].medium.pattern`.
    #[error("channel rules: `{key}`: {message}")]
    Invalid { key: String, message: String },
    /// The file could not be read.
    #[error("channel rules: cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ChannelRulesError {
    ChannelRulesError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// TOML shape
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default = "default_fallback")]
    fallback: String,
    #[serde(default = "default_unknown_platform_channel")]
    unknown_platform_channel: String,
    #[serde(default)]
    platform_mediums: Vec<String>,
    #[serde(default)]
    categories: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    patterns: BTreeMap<String, RawMatcher>,
    #[serde(default)]
    click_ids: BTreeMap<String, RawClickId>,
    #[serde(default)]
    platforms: BTreeMap<String, RawPlatform>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

fn default_fallback() -> String {
    "Unassigned".to_owned()
}

fn default_unknown_platform_channel() -> String {
    "Paid Other".to_owned()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    prefix: Vec<String>,
    #[serde(default)]
    suffix: Vec<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    word_start: Vec<String>,
    #[serde(default)]
    category: Vec<String>,
    #[serde(default)]
    pattern: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClickId {
    platform: String,
    source: String,
    medium: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    #[serde(default)]
    sources: Vec<String>,
    channel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    channel: String,
    source: Option<RawMatcher>,
    medium: Option<RawMatcher>,
    campaign: Option<RawMatcher>,
}

// ---------------------------------------------------------------------------------------------
// Compiled form
// ---------------------------------------------------------------------------------------------

/// A list of sources: plain names, domains, `brand.*` wildcards and `!exclusions`.
#[derive(Debug, Clone, Default)]
struct SourceSet {
    names: HashSet<String>,
    domains: HashSet<String>,
    brands: HashSet<String>,
    excluded: HashSet<String>,
}

impl SourceSet {
    fn compile(key: &str, entries: &[String]) -> Result<Self, ChannelRulesError> {
        let mut set = SourceSet::default();
        for (i, raw) in entries.iter().enumerate() {
            let entry = clean(raw, &format!("{key}[{i}]"))?;
            if let Some(ex) = entry.strip_prefix('!') {
                let ex = ex.trim();
                if !ex.contains('.') || !is_host_like(ex) {
                    return Err(invalid(
                        format!("{key}[{i}]"),
                        format!("exclusion `{raw}` must be a domain such as `!mail.google.com`"),
                    ));
                }
                set.excluded.insert(ex.to_owned());
            } else if let Some(brand) = entry.strip_suffix(".*") {
                if brand.is_empty() || brand.contains('.') || !is_host_like(brand) {
                    return Err(invalid(
                        format!("{key}[{i}]"),
                        format!("brand wildcard `{raw}` must look like `google.*`"),
                    ));
                }
                set.names.insert(brand.to_owned());
                set.brands.insert(brand.to_owned());
            } else if entry.contains('*') {
                return Err(invalid(
                    format!("{key}[{i}]"),
                    format!("`{raw}`: `*` is only allowed as a trailing `.*` (brand wildcard)"),
                ));
            } else if entry.contains('.') && is_host_like(&entry) {
                set.domains.insert(entry);
            } else {
                set.names.insert(entry);
            }
        }
        Ok(set)
    }

    /// Does the (lowercased, trimmed) value belong to this set? Values with a dot are also
    /// tried as host names.
    fn matches(&self, value: &str) -> bool {
        if self.names.contains(value) {
            return true;
        }
        if !value.contains('.') || !is_host_like(value) {
            return false;
        }
        let host = value.strip_prefix("www.").unwrap_or(value);
        if !self.excluded.is_empty() && suffixes(host).any(|s| self.excluded.contains(s)) {
            return false;
        }
        if suffixes(host).any(|s| self.domains.contains(s)) {
            return true;
        }
        !self.brands.is_empty() && self.matches_brand(host)
    }

    /// `brand.<tld>` or `brand.<sld>.<tld>` (sld at most 3 chars), anywhere in the host.
    fn matches_brand(&self, host: &str) -> bool {
        let mut rest = host;
        loop {
            let (label, tail) = match rest.split_once('.') {
                Some(pair) => pair,
                None => return false,
            };
            if self.brands.contains(label) && is_public_suffix_like(tail) {
                return true;
            }
            rest = tail;
        }
    }
}

/// `com`, `ua`, `com.ua`, `co.uk`: one label, or two labels where the first is short.
fn is_public_suffix_like(tail: &str) -> bool {
    match tail.split_once('.') {
        None => !tail.is_empty(),
        Some((sld, tld)) => {
            !sld.is_empty() && sld.len() <= 3 && !tld.is_empty() && !tld.contains('.')
        }
    }
}

/// `a.b.c` -> `a.b.c`, `b.c`, `c`.
fn suffixes(host: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(host), |h| h.split_once('.').map(|(_, t)| t))
}

/// Hostname characters only (non-ASCII allowed for IDNs), no empty labels.
fn is_host_like(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' || !c.is_ascii())
}

#[derive(Debug, Clone, Default)]
struct Matcher {
    exact: HashSet<String>,
    prefix: Vec<String>,
    suffix: Vec<String>,
    contains: Vec<String>,
    word_start: Vec<String>,
    categories: Vec<usize>,
}

impl Matcher {
    fn is_empty(&self) -> bool {
        self.exact.is_empty()
            && self.prefix.is_empty()
            && self.suffix.is_empty()
            && self.contains.is_empty()
            && self.word_start.is_empty()
            && self.categories.is_empty()
    }

    fn matches(&self, v: &str, categories: &[SourceSet]) -> bool {
        self.exact.contains(v)
            || self.prefix.iter().any(|p| v.starts_with(p.as_str()))
            || self.suffix.iter().any(|s| v.ends_with(s.as_str()))
            || self.contains.iter().any(|c| v.contains(c.as_str()))
            || self.word_start.iter().any(|w| word_start(v, w))
            || self.categories.iter().any(|&i| categories[i].matches(v))
    }
}

/// `w` occurs in `v` at the start or right after a byte that is not an ASCII letter.
fn word_start(v: &str, w: &str) -> bool {
    let bytes = v.as_bytes();
    v.match_indices(w)
        .any(|(i, _)| i == 0 || !bytes[i - 1].is_ascii_alphabetic())
}

#[derive(Debug, Clone)]
struct Rule {
    channel: String,
    source: Option<Matcher>,
    medium: Option<Matcher>,
    campaign: Option<Matcher>,
}

#[derive(Debug, Clone)]
struct ClickId {
    platform: String,
    source: String,
    medium: String,
}

#[derive(Debug, Clone)]
struct Platform {
    name: String,
    sources: SourceSet,
    channel: Option<String>,
}

/// Parsed, ready-to-use channel rules. Cheap to share by reference across threads.
#[derive(Debug, Clone)]
pub struct ChannelRules {
    fallback: String,
    unknown_platform_channel: String,
    platform_mediums: Matcher,
    categories: Vec<SourceSet>,
    click_ids: HashMap<String, ClickId>,
    platforms: Vec<Platform>,
    rules: Vec<Rule>,
}

impl Default for ChannelRules {
    fn default() -> Self {
        Self::builtin()
    }
}

/// Trim + lowercase a configured value; reject empty ones.
fn clean(raw: &str, key: &str) -> Result<String, ChannelRulesError> {
    let v = raw.trim().to_lowercase();
    if v.is_empty() {
        return Err(invalid(
            key,
            "empty value (it would match everything or nothing)",
        ));
    }
    Ok(v)
}

fn clean_list(list: &[String], key: &str) -> Result<Vec<String>, ChannelRulesError> {
    list.iter()
        .enumerate()
        .map(|(i, v)| clean(v, &format!("{key}[{i}]")))
        .collect()
}

struct Compiler<'a> {
    category_index: HashMap<&'a str, usize>,
    patterns: &'a BTreeMap<String, RawMatcher>,
}

impl Compiler<'_> {
    /// Compile one matcher table; `pattern` references are inlined (one level deep).
    fn matcher(
        &self,
        raw: &RawMatcher,
        key: &str,
        allow_pattern: bool,
    ) -> Result<Matcher, ChannelRulesError> {
        let mut m = Matcher::default();
        self.add(&mut m, raw, key)?;
        if !raw.pattern.is_empty() {
            if !allow_pattern {
                return Err(invalid(
                    format!("{key}.pattern"),
                    "a pattern cannot refer to another pattern",
                ));
            }
            for (i, name) in raw.pattern.iter().enumerate() {
                let p = self.patterns.get(name.trim()).ok_or_else(|| {
                    invalid(
                        format!("{key}.pattern[{i}]"),
                        format!("unknown pattern `{name}` (define it under [patterns])"),
                    )
                })?;
                self.add(&mut m, p, &format!("patterns.{}", name.trim()))?;
            }
        }
        if m.is_empty() {
            return Err(invalid(
                key,
                "matcher has no tests (exact, prefix, suffix, contains, word_start, category or pattern)",
            ));
        }
        Ok(m)
    }

    fn add(&self, m: &mut Matcher, raw: &RawMatcher, key: &str) -> Result<(), ChannelRulesError> {
        m.exact
            .extend(clean_list(&raw.exact, &format!("{key}.exact"))?);
        m.prefix
            .extend(clean_list(&raw.prefix, &format!("{key}.prefix"))?);
        m.suffix
            .extend(clean_list(&raw.suffix, &format!("{key}.suffix"))?);
        m.contains
            .extend(clean_list(&raw.contains, &format!("{key}.contains"))?);
        m.word_start
            .extend(clean_list(&raw.word_start, &format!("{key}.word_start"))?);
        for (i, name) in raw.category.iter().enumerate() {
            let idx = self.category_index.get(name.trim()).ok_or_else(|| {
                invalid(
                    format!("{key}.category[{i}]"),
                    format!("unknown category `{name}` (define it under [categories])"),
                )
            })?;
            if !m.categories.contains(idx) {
                m.categories.push(*idx);
            }
        }
        Ok(())
    }
}

impl ChannelRules {
    /// The embedded default rules ([`DEFAULT_CHANNELS_TOML`]).
    pub fn builtin() -> Self {
        Self::from_toml(DEFAULT_CHANNELS_TOML).expect("embedded channels.toml is valid")
    }

    /// Load rules from a TOML file (the CLI's `--channels FILE`).
    pub fn from_file(path: &Path) -> Result<Self, ChannelRulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| ChannelRulesError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parse rules from TOML text. Errors name the offending key.
    pub fn from_toml(text: &str) -> Result<Self, ChannelRulesError> {
        let raw: RawRules = toml::from_str(text)?;

        let fallback = non_empty(&raw.fallback, "fallback")?;
        let unknown_platform_channel =
            non_empty(&raw.unknown_platform_channel, "unknown_platform_channel")?;

        let mut categories = Vec::with_capacity(raw.categories.len());
        let mut category_index = HashMap::new();
        for (name, entries) in &raw.categories {
            let key = format!("categories.{name}");
            if name.trim().is_empty() {
                return Err(invalid(key, "empty category name"));
            }
            category_index.insert(name.as_str(), categories.len());
            categories.push(SourceSet::compile(&key, entries)?);
        }

        let compiler = Compiler {
            category_index,
            patterns: &raw.patterns,
        };
        // Validate every pattern even when unused, so typos surface at load time.
        for (name, p) in &raw.patterns {
            compiler.matcher(p, &format!("patterns.{name}"), false)?;
        }

        let mut platform_mediums = Matcher::default();
        for (i, name) in raw.platform_mediums.iter().enumerate() {
            let p = raw.patterns.get(name.trim()).ok_or_else(|| {
                invalid(
                    format!("platform_mediums[{i}]"),
                    format!("unknown pattern `{name}` (define it under [patterns])"),
                )
            })?;
            compiler.add(
                &mut platform_mediums,
                p,
                &format!("patterns.{}", name.trim()),
            )?;
        }

        let mut platforms = Vec::with_capacity(raw.platforms.len());
        for (name, p) in &raw.platforms {
            let key = format!("platforms.{name}");
            let name = clean(name, &key)?;
            let channel = match &p.channel {
                Some(c) => Some(non_empty(c, &format!("{key}.channel"))?),
                None => None,
            };
            platforms.push(Platform {
                sources: SourceSet::compile(&format!("{key}.sources"), &p.sources)?,
                name,
                channel,
            });
        }

        let mut click_ids = HashMap::with_capacity(raw.click_ids.len());
        for (name, c) in &raw.click_ids {
            let key = format!("click_ids.{name}");
            let platform = clean(&c.platform, &format!("{key}.platform"))?;
            if !platforms.iter().any(|p| p.name == platform) {
                return Err(invalid(
                    format!("{key}.platform"),
                    format!(
                        "unknown platform `{}` (define it under [platforms])",
                        c.platform
                    ),
                ));
            }
            click_ids.insert(
                clean(name, &key)?,
                ClickId {
                    platform,
                    source: clean(&c.source, &format!("{key}.source"))?,
                    medium: clean(&c.medium, &format!("{key}.medium"))?,
                },
            );
        }

        let mut rules = Vec::with_capacity(raw.rule.len());
        for (i, r) in raw.rule.iter().enumerate() {
            let key = format!("rule[{i}]");
            let channel = non_empty(&r.channel, &format!("{key}.channel"))?;
            let field = |m: &Option<RawMatcher>, f: &str| {
                m.as_ref()
                    .map(|m| compiler.matcher(m, &format!("{key}.{f}"), true))
                    .transpose()
            };
            let rule = Rule {
                channel,
                source: field(&r.source, "source")?,
                medium: field(&r.medium, "medium")?,
                campaign: field(&r.campaign, "campaign")?,
            };
            if rule.source.is_none() && rule.medium.is_none() && rule.campaign.is_none() {
                return Err(invalid(
                    key,
                    format!(
                        "rule for `{}` has no conditions (source, medium or campaign); use `fallback` for a catch-all",
                        rule.channel
                    ),
                ));
            }
            rules.push(rule);
        }

        Ok(ChannelRules {
            fallback,
            unknown_platform_channel,
            platform_mediums,
            categories,
            click_ids,
            platforms,
            rules,
        })
    }

    /// Classify one touchpoint. Never panics.
    pub fn classify(&self, t: &Traffic) -> Classification {
        self.classify_ref(t).to_owned()
    }

    /// Like [`classify`](Self::classify) but borrows the names from the rules: no allocation
    /// unless an input value has uppercase characters.
    /// GA4's effective source and medium of a touchpoint (see docs/CHANNELS.md): utm tags,
    /// else the click id's configured source / medium, else the external referrer's host /
    /// `referral`, else `(direct)` / `(none)`. Lower-case.
    pub fn source_medium<'a>(&'a self, t: &Traffic<'a>) -> (Cow<'a, str>, Cow<'a, str>) {
        let utm_source = norm(t.utm_source);
        let utm_medium = norm(t.utm_medium);
        let click = norm(t.click_id_type).and_then(|c| self.click_ids.get(c.as_ref()));
        if utm_source.is_some() || utm_medium.is_some() {
            let source = utm_source
                .or(click.map(|c| Cow::Borrowed(c.source.as_str())))
                .unwrap_or(Cow::Borrowed(NOT_SET));
            let medium = utm_medium
                .or(click.map(|c| Cow::Borrowed(c.medium.as_str())))
                .unwrap_or(Cow::Borrowed(NOT_SET));
            (source, medium)
        } else if let Some(c) = click {
            (
                Cow::Borrowed(c.source.as_str()),
                Cow::Borrowed(c.medium.as_str()),
            )
        } else {
            match external_referrer_host(t.url, t.referrer) {
                Some(host) => (host, Cow::Borrowed("referral")),
                None => (Cow::Borrowed("(direct)"), Cow::Borrowed("(none)")),
            }
        }
    }

    pub fn classify_ref(&self, t: &Traffic) -> ClassificationRef<'_> {
        let (source, medium) = self.source_medium(t);
        self.classify_with(t, &source, &medium)
    }

    /// Everything the reports know of a touchpoint's traffic, classified once: its channel,
    /// ad platform and GA4 effective source / medium. An untagged visit from a search
    /// engine reads `organic` as its medium (not `referral`), as in GA4 reports.
    pub fn touchpoint_facts<'a>(&'a self, t: &Traffic<'a>) -> TouchpointFacts<'a> {
        let (source, medium) = self.source_medium(t);
        let ClassificationRef { channel, platform } = self.classify_with(t, &source, &medium);
        let medium = if channel == ORGANIC_SEARCH && medium == "referral" {
            Cow::Borrowed("organic")
        } else {
            medium
        };
        TouchpointFacts {
            channel,
            platform,
            source,
            medium,
        }
    }

    /// The channel and platform of a touchpoint whose effective source and medium are known.
    fn classify_with(&self, t: &Traffic, source: &str, medium: &str) -> ClassificationRef<'_> {
        let campaign = norm(t.utm_campaign);
        let click = norm(t.click_id_type).and_then(|c| self.click_ids.get(c.as_ref()));
        let campaign = campaign.as_deref().unwrap_or(NOT_SET);

        let channel = self
            .rules
            .iter()
            .find(|r| {
                r.medium
                    .as_ref()
                    .is_none_or(|m| m.matches(medium, &self.categories))
                    && r.source
                        .as_ref()
                        .is_none_or(|m| m.matches(source, &self.categories))
                    && r.campaign
                        .as_ref()
                        .is_none_or(|m| m.matches(campaign, &self.categories))
            })
            .map_or(self.fallback.as_str(), |r| r.channel.as_str());

        let platform = match click {
            Some(c) => Some(c.platform.as_str()),
            None if self.platform_mediums.matches(medium, &self.categories) => self
                .platforms
                .iter()
                .find(|p| p.sources.matches(source))
                .map(|p| p.name.as_str()),
            None => None,
        };

        ClassificationRef { channel, platform }
    }

    /// The platform a `utm_source` names by the `[platforms]` sources (`bing` →
    /// `microsoft_ads`), if any.
    pub fn platform_of_source(&self, source: &str) -> Option<&str> {
        let source = source.trim().to_lowercase();
        self.platforms
            .iter()
            .find(|p| p.sources.matches(&source))
            .map(|p| p.name.as_str())
    }

    /// The platform of a click-id parameter by `[click_ids]` (`msclkid` → `microsoft_ads`).
    pub fn click_id_platform(&self, click_id_type: &str) -> Option<&str> {
        self.click_ids
            .get(&click_id_type.trim().to_lowercase())
            .map(|c| c.platform.as_str())
    }

    /// Channel to show for ad cost that matched no touchpoint, by platform name (any case):
    /// the platform's `channel`, or `unknown_platform_channel` ("Paid Other") when the
    /// platform is unknown or has none.
    pub fn platform_channel(&self, platform: &str) -> String {
        self.platform_channel_ref(platform).to_owned()
    }

    /// Borrowing form of [`platform_channel`](Self::platform_channel).
    pub fn platform_channel_ref(&self, platform: &str) -> &str {
        let p = norm(Some(platform));
        p.and_then(|p| {
            self.platforms
                .iter()
                .find(|x| x.name == p.as_ref())
                .and_then(|x| x.channel.as_deref())
        })
        .unwrap_or(&self.unknown_platform_channel)
    }

    /// Every channel these rules can produce, in rule order, without duplicates, ending with
    /// the fallback.
    pub fn channel_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self
            .rules
            .iter()
            .map(|r| r.channel.as_str())
            .chain(std::iter::once(self.fallback.as_str()));
        for c in all {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// Names of the configured ad platforms (sorted).
    pub fn platform_names(&self) -> Vec<&str> {
        self.platforms.iter().map(|p| p.name.as_str()).collect()
    }
}

const NOT_SET: &str = "(not set)";

fn non_empty(v: &str, key: &str) -> Result<String, ChannelRulesError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    Ok(v.to_owned())
}

/// Trim, treat empty as missing, lowercase (allocating only when there is uppercase).
fn norm(v: Option<&str>) -> Option<Cow<'_, str>> {
    let v = v?.trim();
    if v.is_empty() {
        None
    } else if v.chars().any(char::is_uppercase) {
        Some(Cow::Owned(v.to_lowercase()))
    } else {
        Some(Cow::Borrowed(v))
    }
}

/// Host of a URL-ish string, lowercased, without a leading `www.`; `None` when there is no
/// plausible host (it must contain a dot). Accepts `https://h/p`, `//h/p`, `h/p`,
/// `android-app://com.x/`, user info and ports.
fn url_host(url: Option<&str>) -> Option<Cow<'_, str>> {
    let s = url?.trim();
    let rest = match s.find("://") {
        Some(i)
            if i > 0
                && s[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.') =>
        {
            &s[i + 3..]
        }
        _ => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if authority.starts_with('[') {
        return None; // IPv6 literal: never a known site, and never "our" landing host.
    } else {
        authority.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.');
    if !host.contains('.') || !is_host_like(host) {
        return None;
    }
    let host = if host.bytes().any(|b| b.is_ascii_uppercase()) || !host.is_ascii() {
        Cow::Owned(host.to_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    Some(match host {
        Cow::Borrowed(h) => Cow::Borrowed(h.strip_prefix("www.").unwrap_or(h)),
        Cow::Owned(h) => match h.strip_prefix("www.") {
            Some(stripped) => Cow::Owned(stripped.to_owned()),
            None => Cow::Owned(h),
        },
    })
}

/// The referrer's host, unless it is missing or internal: the same host as the landing page
/// (ignoring `www.`) or a subdomain of it. A parent domain is *not* internal: a shop at
/// `myshop.prom.ua` visited from `prom.ua` came from the marketplace.
fn external_referrer_host<'a>(
    url: Option<&str>,
    referrer: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    let r = url_host(referrer)?;
    if let Some(l) = url_host(url) {
        let (r, l) = (r.as_ref(), l.as_ref());
        let sub_of = |a: &str, b: &str| {
            a.len() > b.len() && a.ends_with(b) && a.as_bytes()[a.len() - b.len() - 1] == b'.'
        };
        if r == l || sub_of(r, l) {
            return None;
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn touchpoint_facts_are_the_classification_and_the_effective_source_and_medium() {
        let rules = ChannelRules::builtin();
        let search = Traffic {
            url: Some("https://shop.example/"),
            referrer: Some("https://www.google.com/search?q=kitchen"),
            ..Traffic::default()
        };
        let facts = rules.touchpoint_facts(&search);
        assert_eq!(facts.channel, "Organic Search");
        assert_eq!(
            facts.medium, "organic",
            "GA4 reports search referrals as organic"
        );
        assert_eq!(rules.source_medium(&search).1, "referral");
        for traffic in [
            Traffic {
                utm_source: Some("google"),
                utm_medium: Some("cpc"),
                click_id_type: Some("gclid"),
                ..Traffic::default()
            },
            Traffic {
                url: Some("https://shop.example/?fbclid=x"),
                click_id_type: Some("fbclid"),
                ..Traffic::default()
            },
            Traffic::default(),
        ] {
            let facts = rules.touchpoint_facts(&traffic);
            let class = rules.classify(&traffic);
            let (source, medium) = rules.source_medium(&traffic);
            assert_eq!(facts.channel, class.channel);
            assert_eq!(facts.platform, class.platform.as_deref());
            assert_eq!((facts.source, facts.medium), (source, medium));
        }
    }

    use super::*;

    fn rules() -> ChannelRules {
        ChannelRules::builtin()
    }

    fn utm<'a>(source: &'a str, medium: &'a str) -> Traffic<'a> {
        Traffic {
            utm_source: Some(source),
            utm_medium: Some(medium),
            ..Traffic::default()
        }
    }

    fn chan(t: Traffic) -> String {
        rules().classify(&t).channel
    }

    fn plat(t: Traffic) -> Option<String> {
        rules().classify(&t).platform
    }

    #[test]
    fn builtin_parses_and_has_all_ga4_channels() {
        let r = rules();
        let names = r.channel_names();
        for c in [
            "Direct",
            "Cross-network",
            "Paid Shopping",
            "Paid Search",
            "Paid Social",
            "Paid Video",
            "Display",
            "Paid Other",
            "Messengers",
            "Organic Shopping",
            "Organic Social",
            "Organic Video",
            "Organic Search",
            "Referral",
            "Email",
            "Affiliates",
            "Audio",
            "SMS",
            "Mobile Push Notifications",
            "Unassigned",
        ] {
            assert!(names.contains(&c), "missing channel {c}");
        }
        assert_eq!(names.last(), Some(&"Unassigned"));
        assert_eq!(ChannelRules::default().channel_names(), names);
    }

    #[test]
    fn case_insensitive_and_trimmed() {
        assert_eq!(chan(utm("  Google ", " CPC ")), "Paid Search");
        assert_eq!(chan(utm("FACEBOOK", "Paid_Social")), "Paid Social");
        let t = Traffic {
            referrer: Some("HTTPS://WWW.GOOGLE.COM.UA/search?q=x"),
            url: Some("https://Shop.Example.com/"),
            ..Traffic::default()
        };
        assert_eq!(chan(t), "Organic Search");
        let t = Traffic {
            click_id_type: Some(" GCLID "),
            ..Traffic::default()
        };
        assert_eq!(plat(t).as_deref(), Some("google_ads"));
    }

    #[test]
    fn empty_strings_count_as_missing() {
        let t = Traffic {
            url: Some(""),
            referrer: Some("   "),
            utm_source: Some(""),
            utm_medium: Some(" "),
            utm_campaign: Some(""),
            click_id_type: Some(""),
        };
        assert_eq!(
            rules().classify(&t),
            Classification {
                channel: "Direct".into(),
                platform: None
            }
        );
    }

    #[test]
    fn click_id_decides_platform() {
        for (id, p) in [
            ("gclid", "google_ads"),
            ("gbraid", "google_ads"),
            ("wbraid", "google_ads"),
            ("dclid", "google_ads"),
            ("fbclid", "meta"),
            ("ttclid", "tiktok"),
            ("msclkid", "microsoft_ads"),
            ("li_fat_id", "linkedin_ads"),
            ("twclid", "x_ads"),
        ] {
            let t = Traffic {
                click_id_type: Some(id),
                ..Traffic::default()
            };
            assert_eq!(plat(t).as_deref(), Some(p), "{id}");
        }
        // Even with utm tags that say something else.
        let t = Traffic {
            click_id_type: Some("fbclid"),
            ..utm("newsletter", "email")
        };
        let c = rules().classify(&t);
        assert_eq!(c.channel, "Email");
        assert_eq!(c.platform.as_deref(), Some("meta"));
    }

    #[test]
    fn platform_from_source_only_for_paid_mediums() {
        assert_eq!(plat(utm("google", "cpc")).as_deref(), Some("google_ads"));
        assert_eq!(plat(utm("adwords", "ppc")).as_deref(), Some("google_ads"));
        assert_eq!(plat(utm("ig", "paid")).as_deref(), Some("meta"));
        assert_eq!(plat(utm("meta", "cpm")).as_deref(), Some("meta"));
        assert_eq!(plat(utm("instagram", "display")).as_deref(), Some("meta"));
        assert_eq!(
            plat(utm("tiktok", "paid_social")).as_deref(),
            Some("tiktok")
        );
        assert_eq!(plat(utm("bing", "cpc")).as_deref(), Some("microsoft_ads"));
        assert_eq!(
            plat(utm("microsoft", "cpc")).as_deref(),
            Some("microsoft_ads")
        );
        assert_eq!(plat(utm("google", "organic")), None);
        assert_eq!(plat(utm("facebook", "social")), None);
        assert_eq!(plat(utm("unknown-network", "cpc")), None);
        let t = Traffic {
            referrer: Some("https://www.facebook.com/"),
            ..Traffic::default()
        };
        assert_eq!(plat(t), None);
    }

    #[test]
    fn click_id_without_utm_is_paid_traffic_of_the_platform() {
        let with = |id| Traffic {
            click_id_type: Some(id),
            referrer: Some("https://www.google.com/"),
            ..Traffic::default()
        };
        assert_eq!(chan(with("gclid")), "Paid Search");
        assert_eq!(chan(with("wbraid")), "Paid Search");
        assert_eq!(chan(with("dclid")), "Display");
        assert_eq!(chan(with("fbclid")), "Paid Social");
        assert_eq!(chan(with("ttclid")), "Paid Social");
        assert_eq!(chan(with("msclkid")), "Paid Search");
        // A click id fills in only what utm tags leave out.
        let t = Traffic {
            click_id_type: Some("gclid"),
            utm_source: Some("google"),
            ..Traffic::default()
        };
        assert_eq!(chan(t), "Paid Search");
        assert_eq!(chan(with("yclid")), "Paid Search");
        assert_eq!(plat(with("yclid")).as_deref(), Some("yandex_direct"));
        // An unknown click id is ignored.
        let t = Traffic {
            click_id_type: Some("mc_eid"),
            ..Traffic::default()
        };
        assert_eq!(rules().classify(&t).channel, "Direct");
        assert_eq!(plat(t), None);
    }

    #[test]
    fn messengers() {
        assert_eq!(chan(utm("telegram", "social")), "Messengers");
        assert_eq!(chan(utm("Viber", "post")), "Messengers");
        assert_eq!(chan(utm("whatsapp", "referral")), "Messengers");
        assert_eq!(chan(utm("newsletter-bot", "messenger")), "Messengers");
        for r in [
            "https://t.me/somechannel/123",
            "https://wa.me/380501234567",
            "https://invite.viber.com/?g2=abc",
            "android-app://org.telegram.messenger/",
            "https://web.telegram.org/k/",
        ] {
            let t = Traffic {
                referrer: Some(r),
                url: Some("https://example.com/"),
                ..Traffic::default()
            };
            assert_eq!(chan(t), "Messengers", "{r}");
        }
        // Paid messenger traffic stays paid.
        assert_eq!(chan(utm("telegram", "cpc")), "Paid Social");
        assert_eq!(chan(utm("viber", "cpm")), "Paid Social");
        assert_eq!(chan(utm("telegram", "banner")), "Display");
    }

    #[test]
    fn direct() {
        assert_eq!(chan(Traffic::default()), "Direct");
        let page = Some("https://www.example.com/p?x=1");
        for r in [
            "https://www.example.com/other",
            "https://example.com/",
            "https://blog.example.com/post",
            "http://EXAMPLE.com:8080/",
        ] {
            let t = Traffic {
                url: page,
                referrer: Some(r),
                ..Traffic::default()
            };
            assert_eq!(chan(t), "Direct", "{r}");
        }
        assert_eq!(chan(utm("(direct)", "(none)")), "Direct");
        assert_eq!(chan(utm("(Direct)", "(not set)")), "Direct");
        // utm_campaign alone is not tagging: still direct.
        let t = Traffic {
            utm_campaign: Some("spring"),
            ..Traffic::default()
        };
        assert_eq!(chan(t), "Direct");
        // A parent domain is external (a shop hosted on a marketplace subdomain).
        let t = Traffic {
            url: Some("https://myshop.prom.ua/"),
            referrer: Some("https://prom.ua/search?q=x"),
            ..Traffic::default()
        };
        assert_eq!(chan(t), "Organic Shopping");
        // Different site sharing a suffix is external.
        let t = Traffic {
            url: page,
            referrer: Some("https://notexample.com/"),
            ..Traffic::default()
        };
        assert_eq!(chan(t), "Referral");
    }

    #[test]
    fn referrers_without_utm() {
        let via = |r| Traffic {
            url: Some("https://shop.example.ua/"),
            referrer: Some(r),
            ..Traffic::default()
        };
        assert_eq!(chan(via("https://www.google.com/")), "Organic Search");
        assert_eq!(
            chan(via("https://www.bing.com/search?q=a")),
            "Organic Search"
        );
        assert_eq!(chan(via("https://duckduckgo.com/")), "Organic Search");
        assert_eq!(chan(via("https://www.ukr.net/")), "Organic Search");
        assert_eq!(chan(via("https://meta.ua/search")), "Organic Search");
        assert_eq!(
            chan(via("https://l.facebook.com/l.php?u=x")),
            "Organic Social"
        );
        assert_eq!(chan(via("https://lm.facebook.com/")), "Organic Social");
        assert_eq!(chan(via("https://t.co/abc")), "Organic Social");
        assert_eq!(
            chan(via("https://www.youtube.com/watch?v=1")),
            "Organic Video"
        );
        assert_eq!(chan(via("https://m.youtube.com/")), "Organic Video");
        assert_eq!(chan(via("https://prom.ua/p123")), "Organic Shopping");
        assert_eq!(chan(via("https://rozetka.com.ua/x")), "Organic Shopping");
        assert_eq!(chan(via("https://dou.ua/forums/")), "Referral");
        // Webmail on a search engine's domain is not a search.
        assert_eq!(chan(via("https://mail.google.com/mail/u/0/")), "Referral");
        assert_eq!(chan(via("https://mail.ukr.net/desktop")), "Referral");
    }

    #[test]
    fn first_match_wins_in_documented_order() {
        // Cross-network precedes everything but Direct.
        let t = Traffic {
            utm_campaign: Some("pmax_cross-network_ua"),
            ..utm("google", "cpc")
        };
        assert_eq!(chan(t), "Cross-network");
        // Paid Shopping precedes Paid Search.
        let t = Traffic {
            utm_campaign: Some("shopping_feed"),
            ..utm("google", "cpc")
        };
        assert_eq!(chan(t), "Paid Shopping");
        // cpm is both "paid" and "display": Paid Social comes first for social sources.
        assert_eq!(chan(utm("facebook", "cpm")), "Paid Social");
        assert_eq!(chan(utm("somenetwork", "cpm")), "Display");
        // Referral precedes Email.
        assert_eq!(chan(utm("email", "referral")), "Referral");
        // Nothing matches -> Unassigned.
        assert_eq!(chan(utm("newsletter", "(not set)")), "Unassigned");
        assert_eq!(chan(utm("partner", "weird")), "Unassigned");
    }

    #[test]
    fn shop_campaign_word_start_mirrors_ga4_regex() {
        let camp = |c| Traffic {
            utm_campaign: Some(c),
            ..utm("newsletter", "weird")
        };
        assert_eq!(chan(camp("shop_summer")), "Organic Shopping");
        assert_eq!(chan(camp("summer-shop")), "Organic Shopping");
        assert_eq!(chan(camp("2024shop")), "Organic Shopping");
        assert_eq!(chan(camp("eshop")), "Organic Shopping");
        assert_eq!(chan(camp("google shopping")), "Organic Shopping");
        assert_eq!(chan(camp("workshop")), "Unassigned");
        assert_eq!(chan(camp("bishop")), "Unassigned");
    }

    #[test]
    fn platform_channel_for_unmatched_cost() {
        let r = rules();
        assert_eq!(r.platform_channel("google_ads"), "Paid Search");
        assert_eq!(r.platform_channel("Meta"), "Paid Social");
        assert_eq!(r.platform_channel("tiktok"), "Paid Social");
        assert_eq!(r.platform_channel("microsoft_ads"), "Paid Search");
        assert_eq!(r.platform_channel("some_dsp"), "Paid Other");
        assert_eq!(r.platform_channel(""), "Paid Other");
        // Consistent with how the rules classify that platform's own paid clicks.
        for id in [
            "gclid",
            "fbclid",
            "ttclid",
            "msclkid",
            "li_fat_id",
            "twclid",
            "yclid",
            "epik",
            "sccid",
        ] {
            let c = r.classify(&Traffic {
                click_id_type: Some(id),
                ..Traffic::default()
            });
            assert_eq!(
                r.platform_channel(c.platform.as_deref().unwrap()),
                c.channel,
                "{id}"
            );
        }
    }

    #[test]
    fn table_of_realistic_cases() {
        type Row<'a> = (
            &'a str,         // utm_source
            &'a str,         // utm_medium
            &'a str,         // utm_campaign
            &'a str,         // referrer
            &'a str,         // click id type
            &'a str,         // expected channel
            Option<&'a str>, // expected platform
        );
        let landing = "https://shop.example.com.ua/catalog?utm=...";
        let rows: &[Row] = &[
            (
                "google",
                "cpc",
                "brand_ua",
                "",
                "gclid",
                "Paid Search",
                Some("google_ads"),
            ),
            (
                "",
                "",
                "",
                "https://www.google.com/",
                "gclid",
                "Paid Search",
                Some("google_ads"),
            ),
            ("", "", "", "", "gbraid", "Paid Search", Some("google_ads")),
            (
                "google",
                "cpc",
                "PMax | Cross-Network",
                "",
                "gclid",
                "Cross-network",
                Some("google_ads"),
            ),
            (
                "google",
                "cpc",
                "Shopping - all",
                "",
                "",
                "Paid Shopping",
                Some("google_ads"),
            ),
            ("prom.ua", "cpc", "", "", "", "Paid Shopping", None),
            (
                "bing",
                "cpc",
                "",
                "",
                "msclkid",
                "Paid Search",
                Some("microsoft_ads"),
            ),
            (
                "facebook",
                "paid",
                "retargeting_30d",
                "",
                "fbclid",
                "Paid Social",
                Some("meta"),
            ),
            ("ig", "cpc", "", "", "", "Paid Social", Some("meta")),
            (
                "",
                "",
                "",
                "https://l.instagram.com/",
                "fbclid",
                "Paid Social",
                Some("meta"),
            ),
            (
                "tiktok",
                "paid_social",
                "",
                "",
                "ttclid",
                "Paid Social",
                Some("tiktok"),
            ),
            (
                "youtube",
                "cpv",
                "",
                "",
                "",
                "Paid Video",
                Some("google_ads"),
            ),
            ("gdn", "display", "", "", "", "Display", None),
            (
                "google",
                "banner",
                "",
                "",
                "",
                "Display",
                Some("google_ads"),
            ),
            ("criteo", "retargeting", "", "", "", "Paid Other", None),
            ("telegram", "post", "", "", "", "Messengers", None),
            ("", "", "", "https://t.me/channel/5", "", "Messengers", None),
            ("olx", "referral", "", "", "", "Organic Shopping", None),
            (
                "newsletter",
                "email",
                "spring_shop",
                "",
                "",
                "Organic Shopping",
                None,
            ),
            ("facebook", "social", "", "", "", "Organic Social", None),
            (
                "",
                "",
                "",
                "https://www.linkedin.com/feed/",
                "",
                "Organic Social",
                None,
            ),
            (
                "",
                "",
                "",
                "https://vimeo.com/123",
                "",
                "Organic Video",
                None,
            ),
            ("partner", "video", "", "", "", "Organic Video", None),
            (
                "",
                "",
                "",
                "https://www.google.de/",
                "",
                "Organic Search",
                None,
            ),
            (
                "",
                "",
                "",
                "android-app://com.google.android.googlequicksearchbox/",
                "",
                "Organic Search",
                None,
            ),
            ("ecosia", "organic", "", "", "", "Organic Search", None),
            ("", "", "", "https://dou.ua/lenta/", "", "Referral", None),
            ("partner-blog", "referral", "", "", "", "Referral", None),
            ("esputnik", "email", "weekly", "", "", "Email", None),
            ("e-mail", "newsletter", "", "", "", "Email", None),
            ("admitad", "affiliate", "", "", "", "Affiliates", None),
            ("spotify", "audio", "", "", "", "Audio", None),
            ("turbosms", "sms", "", "", "", "SMS", None),
            ("sms", "(not set)", "", "", "", "SMS", None),
            (
                "onesignal",
                "web_push",
                "",
                "",
                "",
                "Mobile Push Notifications",
                None,
            ),
            (
                "firebase",
                "(not set)",
                "",
                "",
                "",
                "Mobile Push Notifications",
                None,
            ),
            (
                "app",
                "mobile_notification",
                "",
                "",
                "",
                "Mobile Push Notifications",
                None,
            ),
            (
                "",
                "",
                "",
                "https://shop.example.com.ua/cart",
                "",
                "Direct",
                None,
            ),
            ("", "", "", "", "", "Direct", None),
            ("(direct)", "(none)", "", "", "", "Direct", None),
            ("qr_code", "", "", "", "", "Unassigned", None),
            ("", "print", "", "", "", "Unassigned", None),
        ];
        let r = rules();
        let opt = |s: &'static str| (!s.is_empty()).then_some(s);
        for &(source, medium, campaign, referrer, click, channel, platform) in rows {
            let t = Traffic {
                url: Some(landing),
                referrer: opt(referrer),
                utm_source: opt(source),
                utm_medium: opt(medium),
                utm_campaign: opt(campaign),
                click_id_type: opt(click),
            };
            let got = r.classify_ref(&t);
            assert_eq!(
                (got.channel, got.platform),
                (channel, platform),
                "source={source:?} medium={medium:?} campaign={campaign:?} referrer={referrer:?} click={click:?}"
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        let r = rules();
        let huge = "ш".repeat(200_000) + "://" + &"a.".repeat(50_000);
        let nasty = [
            "",
            " ",
            "://",
            "http://",
            "https://@:/",
            "https://[::1]:80/",
            "https://[",
            "//",
            "\u{0}\u{1}\u{fffd}\u{fffd}",
            "İSTANBUL.COM",
            "https://ÄÖÜ.DE/x",
            "javascript:alert(1)",
            "a..b",
            ".",
            "..",
            "*.*",
            "!",
            "🙂://🙂.🙂/🙂",
            "https://user:pass@www.google.com:443/search",
            "%%%%%",
            "ftp://a.b.c.d.e.f.g.h.i.j.k",
            huge.as_str(),
        ];
        for a in nasty {
            for b in nasty {
                let t = Traffic {
                    url: Some(a),
                    referrer: Some(b),
                    utm_source: Some(a),
                    utm_medium: Some(b),
                    utm_campaign: Some(a),
                    click_id_type: Some(b),
                };
                let _ = r.classify(&t);
                let t = Traffic {
                    url: Some(b),
                    referrer: Some(a),
                    ..Traffic::default()
                };
                let _ = r.classify(&t);
            }
            let _ = r.platform_channel(a);
        }
        // Userinfo and port do not hide the host.
        let t = Traffic {
            referrer: Some("https://user:pass@www.google.com:443/search"),
            ..Traffic::default()
        };
        assert_eq!(r.classify(&t).channel, "Organic Search");
    }

    #[test]
    fn url_host_parsing() {
        let h = |s| url_host(Some(s)).map(|c| c.into_owned());
        assert_eq!(h("https://www.Google.com/x").as_deref(), Some("google.com"));
        assert_eq!(h("google.com/search?q=1").as_deref(), Some("google.com"));
        assert_eq!(h("//cdn.example.org").as_deref(), Some("cdn.example.org"));
        assert_eq!(
            h("android-app://com.viber.voip").as_deref(),
            Some("com.viber.voip")
        );
        assert_eq!(
            h("https://example.com.:8443#x").as_deref(),
            Some("example.com")
        );
        assert_eq!(h("localhost"), None);
        assert_eq!(h("not a url"), None);
        assert_eq!(h("(direct)"), None);
    }

    #[test]
    fn custom_rules_from_toml() {
        let text = r#"
            fallback = "Other"
            platform_mediums = ["ads"]
            [categories]
            search = ["google.*"]
            [patterns]
            ads = { exact = ["cpc"] }
            [platforms]
            google_ads = { sources = ["google.*"], channel = "Search Ads" }
            [click_ids]
            gclid = { platform = "google_ads", source = "google", medium = "cpc" }
            [[rule]]
            channel = "Search Ads"
            source = { category = ["search"] }
            medium = { pattern = ["ads"] }
        "#;
        let r = ChannelRules::from_toml(text).unwrap();
        assert_eq!(
            r.classify(&utm("google.com.ua", "CPC")),
            Classification {
                channel: "Search Ads".into(),
                platform: Some("google_ads".into())
            }
        );
        assert_eq!(r.classify(&utm("x", "y")).channel, "Other");
        assert_eq!(r.platform_channel("google_ads"), "Search Ads");
        assert_eq!(r.platform_channel("meta"), "Paid Other");
        assert_eq!(r.platform_names(), vec!["google_ads"]);
    }

    #[test]
    fn from_file_reads_and_reports_missing_file() {
        let dir = std::env::temp_dir().join(format!("throughline-channels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("channels.toml");
        std::fs::write(&path, DEFAULT_CHANNELS_TOML).unwrap();
        let r = ChannelRules::from_file(&path).unwrap();
        assert_eq!(r.channel_names(), rules().channel_names());
        std::fs::remove_file(&path).unwrap();
        let err = ChannelRules::from_file(&path).unwrap_err();
        assert!(matches!(err, ChannelRulesError::Io { .. }), "{err}");
        assert!(err.to_string().contains("channels.toml"), "{err}");
        let _ = std::fs::remove_dir(&dir);
    }

    fn err(text: &str) -> String {
        ChannelRules::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_bad_key() {
        let e = err("[[rule]]\nchannel = \"X\"\nmedum = { exact = [\"a\"] }\n");
        assert!(e.contains("medum"), "{e}");
        let e = err("[[rule]]\nchannel = \"X\"\nmedium = { exacty = [\"a\"] }\n");
        assert!(e.contains("exacty"), "{e}");
        let e = err("colour = 1\n");
        assert!(e.contains("colour"), "{e}");
        let e = err("[[rule]]\nchannel = \"X\"\nmedium = { exact = \"cpc\" }\n");
        assert!(e.contains("exact") || e.contains("sequence"), "{e}");
        let e = err("[[rule]]\nchannel = \"X\"\nsource = { category = [\"serch\"] }\n");
        assert!(
            e.contains("rule[0].source.category[0]") && e.contains("serch"),
            "{e}"
        );
        let e = err("[[rule]]\nchannel = \"X\"\nmedium = { pattern = [\"payd\"] }\n");
        assert!(
            e.contains("rule[0].medium.pattern[0]") && e.contains("payd"),
            "{e}"
        );
        let e = err("[[rule]]\nchannel = \"X\"\n");
        assert!(e.contains("rule[0]") && e.contains("no conditions"), "{e}");
        let e = err("[[rule]]\nchannel = \" \"\nmedium = { exact = [\"a\"] }\n");
        assert!(e.contains("rule[0].channel"), "{e}");
        let e = err("[[rule]]\nchannel = \"X\"\nmedium = { contains = [\"\"] }\n");
        assert!(e.contains("rule[0].medium.contains[0]"), "{e}");
        let e = err("[[rule]]\nchannel = \"X\"\nmedium = {}\n");
        assert!(e.contains("rule[0].medium"), "{e}");
        let e =
            err("[click_ids]\ngclid = { platform = \"gads\", source = \"g\", medium = \"cpc\" }\n");
        assert!(
            e.contains("click_ids.gclid.platform") && e.contains("gads"),
            "{e}"
        );
        let e = err("platform_mediums = [\"nope\"]\n");
        assert!(e.contains("platform_mediums[0]"), "{e}");
        let e = err("[categories]\nsearch = [\"goo*gle\"]\n");
        assert!(e.contains("categories.search[0]"), "{e}");
        let e = err("[categories]\nsearch = [\"!google\"]\n");
        assert!(e.contains("categories.search[0]"), "{e}");
        let e = err("[patterns]\na = { exact = [\"x\"] }\nb = { pattern = [\"a\"] }\n");
        assert!(e.contains("patterns.b.pattern"), "{e}");
    }
}
