-- Daily KPI rollups: the ad costs and the attribution rows summed per day, currency and
-- every KPI grouping at once (channel, source / medium, campaign, ad group, platform).
-- kpi.sql reads only these two views and kpi_fx_rates. The job writes their rows to the
-- lake after each run (docs/LAKE.md, `kpi_rollups`), and the KPI answers read those few
-- rows instead of every day's files; with no current rollup (or `--live`) the views are
-- computed here from the tables. Either way the answer is the same SQL over the same sums.
--
-- Requires journeys.sql, the attribution table, and the lookups kpi_ad_groups and
-- kpi_touch_ad_groups (journeys.sql's ad_groups and touchpoint_campaign_ad_groups, or the
-- same `WHERE false` when no query will group by ad group: the lookups read every
-- touchpoint and every ad_costs file).
-- UDF: platform_channel(platform) — channel of ad cost that matches no touchpoint.
--
-- Costs are joined through campaigns: a campaign belongs to the channel (and source /
-- medium) most of its matched touchpoints have; cost matching no touchpoint still shows
-- under its campaign and its platform's default channel. Ad groups show as
-- "<campaign> / <ad group> [platform]" by their latest names (ad group names repeat across
-- campaigns: "Ad group 1"); cost without an ad group, and conversions whose touch matched
-- a campaign but none of its ad groups, as "<campaign> / (no ad group)".

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

-- Ad costs per day, currency and group; cost_rows counts the ad_costs rows summed.
CREATE OR REPLACE VIEW kpi_cost_days AS
SELECT
    c."date",
    c.currency,
    coalesce(ct.channel, platform_channel(c.platform)) AS channel_key,
    coalesce(ct.source_medium, c.platform || ' / (no matching touchpoint)') AS source_medium_key,
    coalesce(ac.campaign_name, c.campaign_id) || ' [' || c.platform || ']' AS campaign_key,
    coalesce(ac.campaign_name, c.campaign_id) || ' / '
        || coalesce(ag.ad_group_name, c.ad_group_id, '(no ad group)') || ' [' || c.platform || ']' AS ad_group_key,
    c.platform AS platform_key,
    sum(c.cost) AS cost,
    sum(c.impressions) AS impressions,
    sum(c.clicks) AS clicks,
    count(*) AS cost_rows
FROM ad_costs c
LEFT JOIN campaign_traffic ct ON ct.platform = c.platform AND ct.campaign_id = c.campaign_id
LEFT JOIN ad_campaigns ac ON ac.platform = c.platform AND ac.campaign_id = c.campaign_id
LEFT JOIN kpi_ad_groups ag
  ON ag.platform = c.platform AND ag.campaign_id = c.campaign_id AND ag.ad_group_id = c.ad_group_id
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Attribution credits per conversion day (UTC), model, currency and group. A touch's ad
-- group is the one for the campaign its attribution row matched (journeys.sql: the
-- platform's click report, else utm_content). `credit` is every row's credit, leads'
-- included: kpi.sql counts the credit of money it cannot convert from it.
CREATE OR REPLACE VIEW kpi_conversion_days AS
SELECT
    CAST(a.conversion_ts AS DATE) AS "date",
    a.model,
    a.currency,
    a.channel AS channel_key,
    a.source || ' / ' || a.medium AS source_medium_key,
    CASE
        WHEN a.platform_campaign_id IS NOT NULL
            THEN coalesce(ac.campaign_name, a.platform_campaign_id) || ' [' || a.platform || ']'
        WHEN a.channel = '(none)' THEN '(none)'
        ELSE coalesce(a.campaign, '(not set)')
    END AS campaign_key,
    CASE
        WHEN a.platform_campaign_id IS NOT NULL
            THEN coalesce(ac.campaign_name, a.platform_campaign_id) || ' / '
                || coalesce(ag.ad_group_name, tg.ad_group_id, '(no ad group)') || ' [' || a.platform || ']'
        WHEN a.channel = '(none)' THEN '(none)'
        ELSE coalesce(a.campaign, '(not set)')
    END AS ad_group_key,
    coalesce(a.platform, CASE WHEN a.channel = '(none)' THEN '(none)' ELSE '(not paid)' END) AS platform_key,
    sum(CASE WHEN a.conversion_type = 'lead' THEN a.credit ELSE 0 END) AS leads,
    sum(CASE WHEN a.conversion_type = 'deal_won' THEN a.credit ELSE 0 END) AS deals_won,
    sum(CASE WHEN a.conversion_type = 'deal_won' THEN a.revenue_credit END) AS revenue,
    sum(CASE WHEN a.conversion_type = 'deal_won' THEN a.margin_credit END) AS margin,
    sum(a.credit) AS credit
FROM attribution a
LEFT JOIN ad_campaigns ac ON ac.platform = a.platform AND ac.campaign_id = a.platform_campaign_id
LEFT JOIN kpi_touch_ad_groups tg
  ON tg.event_id = a.event_id AND tg.platform = a.platform AND tg.campaign_id = a.platform_campaign_id
LEFT JOIN kpi_ad_groups ag
  ON ag.platform = tg.platform AND ag.campaign_id = tg.campaign_id AND ag.ad_group_id = tg.ad_group_id
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
