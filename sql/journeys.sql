-- Identity and journeys: which touchpoints belong to which conversion.
--
-- Inputs: touchpoints, leads, deal_events, ad_costs, ad_clicks (the lake tables of one tenant) and
-- job_params(lookback_days BIGINT, half_life_days DOUBLE, from_date DATE, to_date DATE).
-- UDF: classify_touchpoint(url, referrer, utm_source, utm_medium, utm_campaign,
-- click_id_type) applies the channel rules (docs/CHANNELS.md), in touchpoint_facts.sql.

-- The identity columns of leads (the views below read them several times).
CREATE OR REPLACE VIEW lead_keys AS
SELECT lead_id, visitor_id, click_id, email_sha256, phone_sha256 FROM leads;

-- Leads are the same person when they share a hashed e-mail or phone (one hop); every
-- lead is related to itself.
CREATE OR REPLACE VIEW related_leads AS
SELECT lead_id, lead_id AS related_lead_id FROM lead_keys
UNION
SELECT a.lead_id, b.lead_id FROM lead_keys a JOIN lead_keys b ON a.email_sha256 = b.email_sha256
UNION
SELECT a.lead_id, b.lead_id FROM lead_keys a JOIN lead_keys b ON a.phone_sha256 = b.phone_sha256;

-- The touchpoints carrying a related lead's click id.
CREATE OR REPLACE VIEW lead_clicked_touchpoints AS
SELECT r.lead_id, t.event_id, t.visitor_id
FROM related_leads r
JOIN lead_keys l ON l.lead_id = r.related_lead_id
JOIN touchpoints t ON t.click_id = l.click_id;

-- The visitors of a lead: the visitor ids its related leads carry, and the visitors whose
-- touchpoints carry a related lead's click id.
CREATE OR REPLACE VIEW lead_visitors AS
SELECT r.lead_id, l.visitor_id
FROM related_leads r JOIN lead_keys l ON l.lead_id = r.related_lead_id
WHERE l.visitor_id IS NOT NULL
UNION
SELECT lead_id, visitor_id FROM lead_clicked_touchpoints
WHERE visitor_id IS NOT NULL;

-- The touchpoints of a lead: its visitors' touchpoints, and those carrying its click ids.
CREATE OR REPLACE VIEW lead_touchpoints AS
SELECT v.lead_id, t.event_id
FROM lead_visitors v JOIN touchpoints t ON t.visitor_id = v.visitor_id
UNION
SELECT lead_id, event_id FROM lead_clicked_touchpoints;

-- One row per deal: its lead, latest manager and offer, and when it was first won.
CREATE OR REPLACE VIEW deals AS
SELECT
    deal_id,
    first_value(lead_id ORDER BY ts, event_id) FILTER (WHERE lead_id IS NOT NULL) AS lead_id,
    last_value(manager ORDER BY ts, event_id) FILTER (WHERE manager IS NOT NULL) AS manager,
    last_value(offer ORDER BY ts, event_id) FILTER (WHERE offer IS NOT NULL) AS offer,
    min(ts) AS created_ts,
    min(ts) FILTER (WHERE type = 'won') AS won_ts
FROM deal_events
GROUP BY deal_id;

-- Won deals with the amount and margin known when they were won: the won event's own,
-- else the latest quote before it.
CREATE OR REPLACE VIEW won_deals AS
SELECT
    e.deal_id,
    d.lead_id,
    d.manager,
    d.offer,
    d.won_ts,
    last_value(e.amount ORDER BY e.ts, e.event_id) FILTER (WHERE e.amount IS NOT NULL) AS amount,
    last_value(e.margin ORDER BY e.ts, e.event_id) FILTER (WHERE e.margin IS NOT NULL) AS margin,
    last_value(e.currency ORDER BY e.ts, e.event_id) FILTER (WHERE e.currency IS NOT NULL) AS currency
FROM deal_events e JOIN deals d ON d.deal_id = e.deal_id
WHERE d.won_ts IS NOT NULL AND e.ts <= d.won_ts
GROUP BY e.deal_id, d.lead_id, d.manager, d.offer, d.won_ts;

-- Conversions: every lead (for CPL and lead counts) and every won deal (for revenue).
CREATE OR REPLACE VIEW conversions AS
SELECT
    'lead:' || lead_id AS conversion_id,
    'lead' AS conversion_type,
    lead_id,
    CAST(NULL AS VARCHAR) AS deal_id,
    ts AS conversion_ts,
    CAST(0 AS DECIMAL(18, 4)) AS revenue,
    CAST(0 AS DECIMAL(18, 4)) AS margin,
    CAST(NULL AS VARCHAR) AS currency,
    manager,
    CAST(NULL AS VARCHAR) AS offer
FROM leads
UNION ALL
SELECT
    'deal:' || deal_id,
    'deal_won',
    lead_id,
    deal_id,
    won_ts,
    CAST(coalesce(amount, 0) AS DECIMAL(18, 4)),
    CAST(coalesce(margin, 0) AS DECIMAL(18, 4)),
    currency,
    manager,
    offer
FROM won_deals;

-- Conversions in the job's window (by UTC date of the conversion).
CREATE OR REPLACE VIEW window_conversions AS
SELECT c.*
FROM conversions c CROSS JOIN job_params p
WHERE (p.from_date IS NULL OR CAST(c.conversion_ts AS DATE) >= p.from_date)
  AND (p.to_date IS NULL OR CAST(c.conversion_ts AS DATE) <= p.to_date);

-- Ad-platform campaigns with their latest name (names change; the id is the key).
CREATE OR REPLACE VIEW ad_campaigns AS
SELECT
    platform,
    campaign_id,
    last_value(campaign_name ORDER BY "date") FILTER (WHERE campaign_name IS NOT NULL) AS campaign_name
FROM ad_costs
GROUP BY platform, campaign_id;

-- Ad groups with their latest name, like campaigns: the platform's id is the key.
CREATE OR REPLACE VIEW ad_groups AS
SELECT
    platform,
    campaign_id,
    ad_group_id,
    last_value(ad_group_name ORDER BY "date") FILTER (WHERE ad_group_name IS NOT NULL) AS ad_group_name
FROM ad_costs
WHERE ad_group_id IS NOT NULL
GROUP BY platform, campaign_id, ad_group_id;

-- The clicks an ad platform reported with their campaign and ad group (Google Ads
-- click_view), one row per click id: the latest day's report if a click was restated.
CREATE OR REPLACE VIEW platform_clicks AS
SELECT
    platform,
    click_id,
    last_value(campaign_id ORDER BY "date") AS campaign_id,
    last_value(ad_group_id ORDER BY "date") AS ad_group_id
FROM ad_clicks
GROUP BY platform, click_id;

-- touchpoint_facts (every touchpoint with its channel group, ad platform and GA4 effective
-- source / medium) and touchpoint_campaigns (each paid touchpoint's ad campaign): one
-- definition, touchpoint_facts.sql, here over all touchpoints.
-- @include touchpoint_facts.sql prefix=touchpoint touchpoints=touchpoints

-- The ad groups a touchpoint points at, within a campaign, best first: the ad group the
-- platform's click report gives its click id (1), else utm_content equal to an ad group id
-- of the campaign (2: Google's {adgroupid}, Meta's {{adset.id}} in utm_content), else to
-- its latest name (3), both ignoring case. Plain touchpoints columns only, so reports can
-- look up the ad group of an attributed touch without the channel functions.
CREATE OR REPLACE VIEW touchpoint_ad_group_candidates AS
SELECT t.event_id, k.platform, k.campaign_id, k.ad_group_id, 1 AS priority
FROM touchpoints t JOIN platform_clicks k ON t.click_id = k.click_id
WHERE k.ad_group_id IS NOT NULL
UNION ALL
SELECT t.event_id, g.platform, g.campaign_id, g.ad_group_id, g.priority
FROM touchpoints t
JOIN (
    -- Each ad group once under its id and once under its name: one pass over ad_groups.
    SELECT
        a.platform,
        a.campaign_id,
        a.ad_group_id,
        lower(CASE k.priority WHEN 2 THEN a.ad_group_id ELSE a.ad_group_name END) AS content,
        k.priority
    FROM ad_groups a CROSS JOIN (VALUES (2), (3)) AS k(priority)
) g ON lower(t.utm_content) = g.content;

-- The best of those per touchpoint and campaign.
CREATE OR REPLACE VIEW touchpoint_campaign_ad_groups AS
SELECT event_id, platform, campaign_id, ad_group_id
FROM (
    SELECT
        g.*,
        row_number() OVER (
            PARTITION BY g.event_id, g.platform, g.campaign_id ORDER BY g.priority, g.ad_group_id
        ) AS n
    FROM touchpoint_ad_group_candidates g
) ranked
WHERE n = 1;

-- Each paid touchpoint's ad group within the campaign it matched (touchpoint_campaigns).
CREATE OR REPLACE VIEW touchpoint_ad_groups AS
SELECT tc.event_id, tc.platform, tc.campaign_id, g.ad_group_id
FROM touchpoint_campaigns tc
JOIN touchpoint_campaign_ad_groups g
  ON g.event_id = tc.event_id AND g.platform = tc.platform AND g.campaign_id = tc.campaign_id;

-- The touchpoints of each conversion in the window, by id: at or before the conversion
-- and within the lookback.
CREATE OR REPLACE VIEW journey_events AS
SELECT
    c.conversion_id,
    t.event_id,
    t.ts,
    to_unixtime(c.conversion_ts) - to_unixtime(t.ts) AS seconds_before
FROM (
    -- The parameters joined to the conversions (few rows), so the lookback is a plain filter.
    SELECT w.conversion_id, w.lead_id, w.conversion_ts, p.lookback_days * 86400 AS lookback_seconds
    FROM window_conversions w CROSS JOIN job_params p
) c
JOIN lead_touchpoints lt ON lt.lead_id = c.lead_id
JOIN touchpoints t ON t.event_id = lt.event_id
WHERE t.ts <= c.conversion_ts
  AND to_unixtime(c.conversion_ts) - to_unixtime(t.ts) <= c.lookback_seconds;

-- The touchpoints that are in some journey, and only the columns journeys need: the
-- channel rules are the job's dearest step, and most touchpoints are in no journey of the
-- window. journey_touchpoint_facts and journey_touchpoint_campaigns are the same
-- definition as touchpoint_facts and touchpoint_campaigns, over these rows.
CREATE OR REPLACE VIEW journey_touchpoints AS
SELECT
    tp.event_id, tp.click_id, tp.utm_id, tp.utm_campaign,
    tp.url, tp.referrer, tp.utm_source, tp.utm_medium, tp.click_id_type
FROM touchpoints tp
WHERE tp.event_id IN (SELECT event_id FROM journey_events);

-- @include touchpoint_facts.sql prefix=journey_touchpoint touchpoints=journey_touchpoints drop=url,referrer,utm_source,utm_medium,click_id_type

-- The touchpoints of each conversion in the window with their channel facts and campaign.
CREATE OR REPLACE VIEW journey_touches AS
SELECT
    j.conversion_id,
    j.event_id,
    j.ts,
    t.channel,
    t.source,
    t.medium,
    t.utm_campaign,
    t.platform,
    tc.campaign_id AS platform_campaign_id,
    j.seconds_before
FROM journey_events j
JOIN journey_touchpoint_facts t ON t.event_id = j.event_id
LEFT JOIN journey_touchpoint_campaigns tc ON tc.event_id = j.event_id;
