-- Touchpoint facts over a set of touchpoints, written once and used over any subset.
--
-- journeys.sql instantiates this file with a line
--   -- @include touchpoint_facts.sql prefix=<name> touchpoints=<view> [drop=<col>,<col>]
-- which creates <name>_facts and <name>_campaigns over the rows of <view> (a view or
-- table with the touchpoints columns the classification reads: url, referrer, utm_source,
-- utm_medium, utm_campaign, click_id_type, and click_id, utm_id for the campaign match).
-- `drop` names input columns the facts leave out (the job's subset keeps only what
-- journeys need).

-- Each touchpoint with its channel group, ad platform and GA4 effective source / medium
-- (utm tags, else the click id's source / medium, else the referrer, else direct; an
-- untagged visit from a search engine reads `organic`), classified once per row by the
-- channel rules (classify_touchpoint, docs/CHANNELS.md).
CREATE OR REPLACE VIEW {prefix}_facts AS
SELECT
    t.* EXCLUDE (facts{drop}),
    t.facts['channel'] AS channel,
    t.facts['platform'] AS platform,
    t.facts['source'] AS source,
    t.facts['medium'] AS medium
FROM (
    SELECT
        tp.*,
        classify_touchpoint(tp.url, tp.referrer, tp.utm_source, tp.utm_medium, tp.utm_campaign, tp.click_id_type) AS facts
    FROM {touchpoints} tp
) t;

-- Each paid touchpoint's ad campaign, on the same platform: its click id in the platform's
-- click report first (so a click without UTM tags still finds its campaign), else utm_id =
-- campaign id, else utm_campaign equal to the campaign id or name (case-insensitive).
CREATE OR REPLACE VIEW {prefix}_campaigns AS
SELECT event_id, platform, campaign_id
FROM (
    SELECT m.*, row_number() OVER (PARTITION BY event_id ORDER BY priority, campaign_id) AS n
    FROM (
        SELECT t.event_id, k.platform, k.campaign_id, 0 AS priority
        FROM {prefix}_facts t JOIN platform_clicks k ON t.platform = k.platform AND t.click_id = k.click_id
        UNION ALL
        SELECT t.event_id, c.platform, c.campaign_id, 1 AS priority
        FROM {prefix}_facts t JOIN ad_campaigns c ON t.platform = c.platform AND t.utm_id = c.campaign_id
        UNION ALL
        SELECT t.event_id, c.platform, c.campaign_id, 2
        FROM {prefix}_facts t JOIN ad_campaigns c ON t.platform = c.platform AND lower(t.utm_campaign) = lower(c.campaign_id)
        UNION ALL
        SELECT t.event_id, c.platform, c.campaign_id, 3
        FROM {prefix}_facts t JOIN ad_campaigns c ON t.platform = c.platform AND lower(t.utm_campaign) = lower(c.campaign_name)
    ) m
) ranked
WHERE n = 1;
