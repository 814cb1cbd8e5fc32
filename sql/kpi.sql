-- KPIs by channel, source / medium, campaign, ad group or platform for one attribution
-- model, with money in one reporting currency.
-- Reads the daily rollups kpi_cost_days and kpi_conversion_days (rollups.sql: the views,
-- or the tables the job wrote from them) and kpi_fx_rates (fx_rates, or the rates the
-- rollups were written with; `fx_rates WHERE false` when all money is known to be in the
-- reporting currency, which planning removes with its scans).
-- Parameters: kpi_params(model VARCHAR, group_by VARCHAR, from_date DATE, to_date DATE,
-- currency VARCHAR): currency is the reporting currency (ISO 4217), which the engine
-- resolves when the caller gives none; NULL only when no cost or conversion has money.
--
-- Money is reported in the reporting currency. An amount already in it is kept as it is;
-- any other is converted with the rates of its own day (a cost's date, a conversion's UTC
-- date) from fx_rates, through a base both currencies have a rate into (the reporting
-- currency itself first, else the first base by code; a base into itself is 1):
-- amount × rate(currency → base) / rate(reporting currency → base), rounded half away from
-- zero to 4 decimals per day, currency and group of the rollups. An amount with no rate for
-- its day is never converted at 1: it is left out of the money sums and counted instead —
-- costs_without_rate (ad_costs rows) and conversions_without_rate (won deals' credits).
-- So, whatever the model and the grouping: total cost = the window's ad_costs converted,
-- and every ad_costs row of the window is either in that total or counted in
-- costs_without_rate.

-- The rates of each day into each base, and each base into itself at 1.
CREATE OR REPLACE VIEW fx_day_rates AS
SELECT "date", currency, base, rate FROM kpi_fx_rates
UNION ALL
SELECT DISTINCT "date", base AS currency, base, CAST(1 AS DECIMAL(18, 8)) AS rate FROM kpi_fx_rates;

-- Per day and currency, the two rates that take it into the reporting currency through
-- one base: amount × from_rate / to_rate.
CREATE OR REPLACE VIEW fx_reporting_rates AS
SELECT "date", currency, from_rate, to_rate
FROM (
    SELECT
        f."date",
        f.currency,
        f.rate AS from_rate,
        r.rate AS to_rate,
        row_number() OVER (
            PARTITION BY f."date", f.currency
            ORDER BY CASE WHEN f.base = p.currency THEN 0 ELSE 1 END, f.base
        ) AS n
    FROM fx_day_rates f
    CROSS JOIN kpi_params p
    JOIN fx_day_rates r ON r."date" = f."date" AND r.base = f.base AND r.currency = p.currency
) ranked
WHERE n = 1;

-- The parameters, once per day and currency of the window that has costs or conversions
-- (a few hundred rows): the rollups are joined to this on the key, so their many wide rows
-- never go through a cross join with the parameters. `currency_key` is '' for no
-- currency (leads); `from_rate` is NULL when the day has no rate for the currency.
CREATE OR REPLACE VIEW kpi_window_days AS
SELECT
    d."date",
    d.currency_key,
    p.model,
    p.group_by,
    p.currency AS reporting_currency,
    x.from_rate,
    x.to_rate
FROM (
    SELECT DISTINCT "date", coalesce(currency, '') AS currency_key FROM kpi_cost_days
    UNION
    SELECT DISTINCT "date", coalesce(currency, '') AS currency_key FROM kpi_conversion_days
) d
CROSS JOIN kpi_params p
LEFT JOIN fx_reporting_rates x ON x."date" = d."date" AND x.currency = d.currency_key
WHERE (p.from_date IS NULL OR d."date" >= p.from_date)
  AND (p.to_date IS NULL OR d."date" <= p.to_date);

-- The window's daily costs with their cost in the reporting currency (NULL: no rate that day).
CREATE OR REPLACE VIEW kpi_cost_rows AS
SELECT
    c.*,
    w.group_by,
    CASE
        WHEN c.currency = w.reporting_currency THEN c.cost
        ELSE CAST(c.cost * w.from_rate / w.to_rate AS DECIMAL(18, 4))
    END AS reporting_cost
FROM kpi_cost_days c
JOIN kpi_window_days w ON w."date" = c."date" AND w.currency_key = coalesce(c.currency, '');

-- Per day, the costs of the grouping a query asks for, out of the keys of every grouping
-- in the rollups.
CREATE OR REPLACE VIEW kpi_cost_group_days AS
SELECT
    c."date",
    CASE c.group_by
        WHEN 'channel' THEN c.channel_key
        WHEN 'source_medium' THEN c.source_medium_key
        WHEN 'campaign' THEN c.campaign_key
        WHEN 'ad_group' THEN c.ad_group_key
        WHEN 'platform' THEN c.platform_key
    END AS group_key,
    sum(c.reporting_cost) AS cost,
    sum(c.impressions) AS impressions,
    sum(c.clicks) AS clicks,
    sum(CASE WHEN c.reporting_cost IS NULL THEN c.cost_rows ELSE 0 END) AS costs_without_rate
FROM kpi_cost_rows c
GROUP BY 1, 2;

CREATE OR REPLACE VIEW kpi_costs AS
SELECT
    group_key,
    sum(cost) AS cost,
    sum(impressions) AS impressions,
    sum(clicks) AS clicks,
    sum(costs_without_rate) AS costs_without_rate
FROM kpi_cost_group_days
GROUP BY 1;

-- The model's daily credits in the window with revenue and margin in the reporting
-- currency (NULL: no rate for the conversion's day).
CREATE OR REPLACE VIEW kpi_attribution AS
SELECT
    a.*,
    w.group_by,
    a.currency IS NOT NULL AND (a.currency IS DISTINCT FROM w.reporting_currency) AND w.from_rate IS NULL AS without_rate,
    CASE
        WHEN a.currency IS NULL OR a.currency = w.reporting_currency THEN a.revenue
        ELSE CAST(a.revenue * w.from_rate / w.to_rate AS DECIMAL(18, 4))
    END AS reporting_revenue,
    CASE
        WHEN a.currency IS NULL OR a.currency = w.reporting_currency THEN a.margin
        ELSE CAST(a.margin * w.from_rate / w.to_rate AS DECIMAL(18, 4))
    END AS reporting_margin
FROM kpi_conversion_days a
JOIN kpi_window_days w
  ON w."date" = a."date" AND w.currency_key = coalesce(a.currency, '') AND w.model = a.model;

CREATE OR REPLACE VIEW kpi_conversion_group_days AS
SELECT
    a."date",
    CASE a.group_by
        WHEN 'channel' THEN a.channel_key
        WHEN 'source_medium' THEN a.source_medium_key
        WHEN 'campaign' THEN a.campaign_key
        WHEN 'ad_group' THEN a.ad_group_key
        WHEN 'platform' THEN a.platform_key
    END AS group_key,
    sum(a.leads) AS leads,
    sum(a.deals_won) AS deals_won,
    sum(a.reporting_revenue) AS revenue,
    sum(a.reporting_margin) AS margin,
    sum(CASE WHEN a.without_rate THEN a.credit ELSE 0 END) AS conversions_without_rate
FROM kpi_attribution a
GROUP BY 1, 2;

CREATE OR REPLACE VIEW kpi_conversions AS
SELECT
    group_key,
    sum(leads) AS leads,
    sum(deals_won) AS deals_won,
    sum(revenue) AS revenue,
    sum(margin) AS margin,
    sum(conversions_without_rate) AS conversions_without_rate
FROM kpi_conversion_group_days
GROUP BY 1;

-- Spend and attributed money per day and group, in the reporting currency (`currency`):
-- the series the budget planner fits its response curves to (docs/PLANNER.md). A day with no rate for
-- its currency has NULL money and counts in the *_without_rate columns.
CREATE OR REPLACE VIEW kpi_group_days AS
SELECT
    coalesce(c."date", v."date") AS "date",
    coalesce(c.group_key, v.group_key) AS "group",
    coalesce(c.cost, CAST(0 AS DECIMAL(18, 4))) AS cost,
    coalesce(v.revenue, CAST(0 AS DECIMAL(18, 4))) AS revenue,
    coalesce(v.margin, CAST(0 AS DECIMAL(18, 4))) AS margin,
    coalesce(c.costs_without_rate, 0) AS costs_without_rate,
    coalesce(v.conversions_without_rate, 0.0) AS conversions_without_rate,
    p.currency AS currency
FROM kpi_cost_group_days c
FULL OUTER JOIN kpi_conversion_group_days v ON c."date" = v."date" AND c.group_key = v.group_key
CROSS JOIN kpi_params p;

CREATE OR REPLACE VIEW kpi_groups AS
SELECT
    coalesce(c.group_key, v.group_key) AS group_key,
    coalesce(c.cost, CAST(0 AS DECIMAL(18, 4))) AS cost,
    coalesce(c.impressions, 0) AS impressions,
    coalesce(c.clicks, 0) AS clicks,
    coalesce(v.leads, 0.0) AS leads,
    coalesce(v.deals_won, 0.0) AS deals_won,
    coalesce(v.revenue, CAST(0 AS DECIMAL(18, 4))) AS revenue,
    coalesce(v.margin, CAST(0 AS DECIMAL(18, 4))) AS margin,
    coalesce(c.costs_without_rate, 0) AS costs_without_rate,
    coalesce(v.conversions_without_rate, 0.0) AS conversions_without_rate
FROM kpi_costs c FULL OUTER JOIN kpi_conversions v ON c.group_key = v.group_key;

-- The report: one row per group, then the total. Ratios of money are plain numbers;
-- money itself stays decimal, in the reporting currency the `currency` column names.
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
    p.currency AS currency,
    g.costs_without_rate,
    round(g.conversions_without_rate, 2) AS conversions_without_rate,
    0 AS is_total
FROM kpi_groups g CROSS JOIN kpi_params p
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
    (SELECT currency FROM kpi_params),
    coalesce(sum(costs_without_rate), 0),
    round(coalesce(sum(conversions_without_rate), 0.0), 2),
    1
FROM kpi_groups;
