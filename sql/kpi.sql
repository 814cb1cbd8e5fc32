-- KPIs by channel, source / medium, campaign or platform for one attribution model.
-- Requires journeys.sql and the attribution table (written by the job).
-- Parameters: kpi_params(model VARCHAR, group_by VARCHAR, from_date DATE, to_date DATE).
-- UDF: platform_channel(platform) — channel of ad cost that matches no touchpoint.
--
-- Costs are joined through campaigns: a campaign belongs to the channel (and source /
-- medium) most of its matched touchpoints have; cost matching no touchpoint still shows
-- under its campaign and its platform's default channel, so total cost = ad_costs total.

-- The channel and source / medium that most touchpoints of each ad campaign have.
CREATE OR REPLACE VIEW campaign_traffic AS
SELECT platform, campaign_id, channel, source_medium
FROM (
    SELECT
        tc.platform,
        tc.campaign_id,
        t.channel,
        t.source || ' / ' || t.medium AS source_medium,
        row_number() OVER (
            PARTITION BY tc.platform, tc.campaign_id
            ORDER BY count(*) DESC, t.channel, t.source || ' / ' || t.medium
        ) AS n
    FROM touchpoint_campaigns tc JOIN touchpoint_facts t ON t.event_id = tc.event_id
    GROUP BY tc.platform, tc.campaign_id, t.channel, t.source || ' / ' || t.medium
) ranked
WHERE n = 1;

CREATE OR REPLACE VIEW kpi_costs AS
SELECT
    CASE p.group_by
        WHEN 'channel' THEN coalesce(ct.channel, platform_channel(c.platform))
        WHEN 'source_medium' THEN coalesce(ct.source_medium, c.platform || ' / (no matching touchpoint)')
        WHEN 'campaign' THEN coalesce(ac.campaign_name, c.campaign_id) || ' [' || c.platform || ']'
        WHEN 'platform' THEN c.platform
    END AS group_key,
    sum(c.cost) AS cost,
    sum(c.impressions) AS impressions,
    sum(c.clicks) AS clicks
FROM ad_costs c
CROSS JOIN kpi_params p
LEFT JOIN campaign_traffic ct ON ct.platform = c.platform AND ct.campaign_id = c.campaign_id
LEFT JOIN ad_campaigns ac ON ac.platform = c.platform AND ac.campaign_id = c.campaign_id
WHERE (p.from_date IS NULL OR c."date" >= p.from_date)
  AND (p.to_date IS NULL OR c."date" <= p.to_date)
GROUP BY 1;

CREATE OR REPLACE VIEW kpi_conversions AS
SELECT
    CASE p.group_by
        WHEN 'channel' THEN a.channel
        WHEN 'source_medium' THEN a.source || ' / ' || a.medium
        WHEN 'campaign' THEN CASE
            WHEN a.platform_campaign_id IS NOT NULL
                THEN coalesce(ac.campaign_name, a.platform_campaign_id) || ' [' || a.platform || ']'
            WHEN a.channel = '(none)' THEN '(none)'
            ELSE coalesce(a.campaign, '(not set)')
        END
        WHEN 'platform' THEN coalesce(a.platform, CASE WHEN a.channel = '(none)' THEN '(none)' ELSE '(not paid)' END)
    END AS group_key,
    sum(CASE WHEN a.conversion_type = 'lead' THEN a.credit ELSE 0 END) AS leads,
    sum(CASE WHEN a.conversion_type = 'deal_won' THEN a.credit ELSE 0 END) AS deals_won,
    sum(CASE WHEN a.conversion_type = 'deal_won' THEN a.revenue_credit END) AS revenue,
    sum(CASE WHEN a.conversion_type = 'deal_won' THEN a.margin_credit END) AS margin
FROM attribution a
CROSS JOIN kpi_params p
LEFT JOIN ad_campaigns ac ON ac.platform = a.platform AND ac.campaign_id = a.platform_campaign_id
WHERE a.model = p.model
  AND (p.from_date IS NULL OR CAST(a.conversion_ts AS DATE) >= p.from_date)
  AND (p.to_date IS NULL OR CAST(a.conversion_ts AS DATE) <= p.to_date)
GROUP BY 1;

CREATE OR REPLACE VIEW kpi_groups AS
SELECT
    coalesce(c.group_key, v.group_key) AS group_key,
    coalesce(c.cost, CAST(0 AS DECIMAL(18, 4))) AS cost,
    coalesce(c.impressions, 0) AS impressions,
    coalesce(c.clicks, 0) AS clicks,
    coalesce(v.leads, 0.0) AS leads,
    coalesce(v.deals_won, 0.0) AS deals_won,
    coalesce(v.revenue, CAST(0 AS DECIMAL(18, 4))) AS revenue,
    coalesce(v.margin, CAST(0 AS DECIMAL(18, 4))) AS margin
FROM kpi_costs c FULL OUTER JOIN kpi_conversions v ON c.group_key = v.group_key;

-- The report: one row per group, then the total. Ratios of money are plain numbers;
-- money itself stays decimal.
CREATE OR REPLACE VIEW kpi_report AS
SELECT
    g.group_key AS "group",
    CAST(g.cost AS DECIMAL(18, 2)) AS cost,
    g.impressions,
    g.clicks,
    round(g.leads, 2) AS leads,
    round(g.deals_won, 2) AS deals_won,
    CAST(g.revenue AS DECIMAL(18, 2)) AS revenue,
    CAST(g.margin AS DECIMAL(18, 2)) AS margin,
    round(CAST(g.cost AS DOUBLE) / nullif(g.leads, 0), 2) AS cpl,
    round(CAST(g.cost AS DOUBLE) / nullif(g.deals_won, 0), 2) AS cac,
    round(CAST(g.revenue AS DOUBLE) / nullif(CAST(g.cost AS DOUBLE), 0), 2) AS roas,
    round((CAST(g.margin AS DOUBLE) - CAST(g.cost AS DOUBLE)) / nullif(CAST(g.cost AS DOUBLE), 0), 2) AS roi,
    round(g.deals_won / nullif(g.leads, 0), 4) AS lead_to_won,
    0 AS is_total
FROM kpi_groups g
UNION ALL
SELECT
    '(total)',
    CAST(sum(cost) AS DECIMAL(18, 2)),
    sum(impressions),
    sum(clicks),
    round(sum(leads), 2),
    round(sum(deals_won), 2),
    CAST(sum(revenue) AS DECIMAL(18, 2)),
    CAST(sum(margin) AS DECIMAL(18, 2)),
    round(CAST(sum(cost) AS DOUBLE) / nullif(sum(leads), 0), 2),
    round(CAST(sum(cost) AS DOUBLE) / nullif(sum(deals_won), 0), 2),
    round(CAST(sum(revenue) AS DOUBLE) / nullif(CAST(sum(cost) AS DOUBLE), 0), 2),
    round((CAST(sum(margin) AS DOUBLE) - CAST(sum(cost) AS DOUBLE)) / nullif(CAST(sum(cost) AS DOUBLE), 0), 2),
    round(sum(deals_won) / nullif(sum(leads), 0), 4),
    1
FROM kpi_groups;
