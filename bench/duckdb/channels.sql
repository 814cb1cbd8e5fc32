-- Throughline's channel rules (crates/model/channels.toml, docs/CHANNELS.md) for DuckDB, so the
-- benchmark's DuckDB side classifies touchpoints itself, from the same rules, rather than
-- being handed Throughline's answers.
--
-- The lists are data, as in Throughline: bench/attribution.py loads them from channels.toml
-- into two tables before this file runs:
--   channel_sources(category, kind, entry)   every [categories] list and every [platforms]
--       `sources` list (category 'platform:<name>'); kind is 'name' (a plain source, also the
--       brand of a `brand.*` entry), 'domain', 'brand' or 'excluded' (a `!host` entry)
--   channel_click_ids(click_id_type, platform, source, medium)   the [click_ids] table
-- The [patterns] and the [[rule]] list are written out below as SQL, in the file's order:
-- a custom channels file would need them edited too (Throughline reads them at run time).
-- Differences to the Rust rules, none of which the generated data exercises: trim() drops
-- spaces only (Rust trims all Unicode white space).

-- A value as the rules see it: trimmed, lower-case, empty = missing.
CREATE OR REPLACE MACRO tl_norm(v) AS nullif(lower(trim(v)), '');

-- Host-name characters only (non-ASCII allowed, for IDNs: the class lists the ASCII
-- characters that are not allowed), no empty labels, with a dot. Expects lower case.
CREATE OR REPLACE MACRO tl_host_like(h) AS
    contains(h, '.') AND NOT starts_with(h, '.') AND NOT ends_with(h, '.') AND NOT contains(h, '..')
    AND NOT regexp_matches(h, '[\x00-\x2c\x2f\x3a-\x5e\x60\x7b-\x7f]');

-- A URL's host is found in steps (each a column of its own, so that no step runs twice):
-- tl_authority: the authority of a URL-ish string (https://h/p, //h/p, h/p,
-- android-app://com.x/) after any user info; tl_host_candidate: its host without port
-- and trailing dots, lower-case; tl_host_of: NULL for an IPv6 literal or anything not
-- host-like, else without a leading `www.`.
CREATE OR REPLACE MACRO tl_authority(u) AS
    regexp_extract(regexp_extract(trim(u), '^(?:[A-Za-z0-9+.\-]+://|//)?([^/?#\\]*)', 1), '([^@]*)$', 1);
CREATE OR REPLACE MACRO tl_host_candidate(authority) AS
    CASE WHEN NOT starts_with(authority, '[') THEN lower(rtrim(split_part(authority, ':', 1), '.')) END;
CREATE OR REPLACE MACRO tl_host_of(candidate) AS
    CASE WHEN tl_host_like(candidate) THEN regexp_replace(candidate, '^www\.', '') END;

-- The referrer's host unless it is missing or internal (the landing host or a subdomain of it).
CREATE OR REPLACE MACRO tl_external_host(landing_host, referrer_host) AS
    CASE WHEN referrer_host IS NULL THEN NULL
        WHEN landing_host IS NOT NULL
            AND (referrer_host = landing_host OR ends_with(referrer_host, '.' || landing_host)) THEN NULL
        ELSE referrer_host
    END;

-- [patterns] of channels.toml.
CREATE OR REPLACE MACRO tl_paid(m) AS contains(m, 'cp') OR m IN ('ppc', 'retargeting') OR starts_with(m, 'paid');
CREATE OR REPLACE MACRO tl_display(m) AS m IN ('display', 'banner', 'expandable', 'interstitial', 'cpm');
CREATE OR REPLACE MACRO tl_shop_campaign(c) AS
    regexp_matches(c, '(^|[^a-z])shop') OR contains(c, 'eshop') OR contains(c, 'shopping');
CREATE OR REPLACE MACRO tl_email(v) AS v IN ('email', 'e-mail', 'e_mail', 'e mail');

-- The [[rule]] list, top to bottom; the first match wins, else `fallback`.
CREATE OR REPLACE MACRO tl_channel(source, medium, campaign, is_search, is_social, is_video, is_shopping, is_messengers) AS
    CASE
        WHEN source = '(direct)' AND medium IN ('(none)', '(not set)') THEN 'Direct'
        WHEN contains(campaign, 'cross-network') THEN 'Cross-network'
        WHEN is_shopping AND tl_paid(medium) THEN 'Paid Shopping'
        WHEN tl_shop_campaign(campaign) AND tl_paid(medium) THEN 'Paid Shopping'
        WHEN is_search AND tl_paid(medium) THEN 'Paid Search'
        WHEN is_social AND tl_paid(medium) THEN 'Paid Social'
        WHEN is_video AND tl_paid(medium) THEN 'Paid Video'
        WHEN tl_display(medium) THEN 'Display'
        WHEN tl_paid(medium) THEN 'Paid Other'
        WHEN is_messengers THEN 'Messengers'
        WHEN medium IN ('messenger', 'messengers') THEN 'Messengers'
        WHEN is_shopping THEN 'Organic Shopping'
        WHEN tl_shop_campaign(campaign) THEN 'Organic Shopping'
        WHEN is_social THEN 'Organic Social'
        WHEN medium IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media') THEN 'Organic Social'
        WHEN is_video THEN 'Organic Video'
        WHEN contains(medium, 'video') THEN 'Organic Video'
        WHEN is_search THEN 'Organic Search'
        WHEN medium = 'organic' THEN 'Organic Search'
        WHEN medium IN ('referral', 'app', 'link') THEN 'Referral'
        WHEN tl_email(source) THEN 'Email'
        WHEN tl_email(medium) THEN 'Email'
        WHEN medium = 'affiliate' THEN 'Affiliates'
        WHEN medium = 'audio' THEN 'Audio'
        WHEN source = 'sms' THEN 'SMS'
        WHEN medium = 'sms' THEN 'SMS'
        WHEN ends_with(medium, 'push') OR contains(medium, 'mobile') OR contains(medium, 'notification') THEN 'Mobile Push Notifications'
        WHEN source = 'firebase' THEN 'Mobile Push Notifications'
        ELSE 'Unassigned'
    END;

-- 10^(ISO 4217 minor digits) of a currency; 100 when unknown or missing (as Throughline's
-- minor_unit_factor, which reads the iso_currency crate; the table here lists the ISO 4217
-- currencies whose minor unit is not 2).
CREATE OR REPLACE MACRO tl_minor_unit_factor(currency) AS
    CASE
        WHEN upper(currency) IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI',
                                 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 1
        WHEN upper(currency) IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 1000
        WHEN upper(currency) IN ('CLF', 'UYW') THEN 10000
        ELSE 100
    END;
