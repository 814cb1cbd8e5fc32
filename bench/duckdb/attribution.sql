-- Throughline's attribution job (sql/journeys.sql + sql/attribution.sql, docs/MODELS.md)
-- written for DuckDB, for the benchmark in bench/attribution.py. Same inputs (the lake's
-- Parquet files of one tenant), same semantics, same output rows and columns, written as
-- zstd Parquet partitioned by conversion date like Throughline's `attribution` table.
--
-- Placeholders, filled by bench/attribution.py: ${touchpoints}, ${leads}, ${deal_events},
-- ${ad_costs} (list literals of the tenant's Parquet files that each table's Delta log
-- names: a glob would also read files a commit removed or never added), ${lookback_days},
-- ${half_life_days}, ${out} (output directory). Requires bench/duckdb/channels.sql.
--
-- Written the way one would write it for DuckDB, not transliterated view by view:
-- - the journey is found on the narrow columns (ids, visitor, click id, ts); the channel,
--   source / medium and ad campaign are worked out only for touchpoints that are in some
--   journey, and the channel rules run once per distinct source, not once per row;
-- - identity stitching and models are the same as Throughline's: one hop through shared
--   hashed e-mail or phone, visitors linked by visitor id or by a click id, touches at or
--   before the conversion and within the lookback (whole seconds, as to_unixtime), ordered
--   by ts then event id; the six models, zero credits dropped, '(none)' rows for
--   conversions without touches, money split in minor units by cumulative rounding of
--   exact cumulative credits (docs/MODELS.md, "Money"): below, one macro gives the minor
--   units credited to a conversion's first k touches, and each row gets its value at its
--   position less its value at the position before.

SET TimeZone = 'UTC';

CREATE OR REPLACE TEMP VIEW touchpoints AS
SELECT * FROM read_parquet(${touchpoints}, hive_partitioning = false);
CREATE OR REPLACE TEMP VIEW leads AS
SELECT * FROM read_parquet(${leads}, hive_partitioning = false);
CREATE OR REPLACE TEMP VIEW deal_events AS
SELECT * FROM read_parquet(${deal_events}, hive_partitioning = false);
CREATE OR REPLACE TEMP VIEW ad_costs AS
SELECT * EXCLUDE (tenant) FROM read_parquet(${ad_costs}, hive_partitioning = true, hive_types = {'date': DATE});

-- The sum of a list of doubles, strictly left to right from 0 (a running sum in position
-- order, so the same double as any engine's sequential running sum).
CREATE OR REPLACE TEMP MACRO tl_fold_sum(xs) AS list_reduce(xs, lambda acc, x: acc + x, 0.0::DOUBLE);

-- round(R x C_k) in whole minor units: the part of an amount R (minor units) credited to the
-- first k of a conversion's n touches, C_k their cumulative credit. An exact fraction where
-- the model has one, the product taken as R x numerator / denominator (one division, so a
-- product that is exactly half a unit stays so); time_decay's C_k is the running sum of the
-- weights over their sum. C_0 = 0 and C_n = 1 (a '(none)' row, n = 0, has everything).
CREATE OR REPLACE TEMP MACRO tl_units_through(amount, model, k, n, last_non_direct, weights) AS
CAST(round(CASE
    WHEN k <= 0 THEN 0
    WHEN k >= n THEN amount
    WHEN model = 'first_touch' THEN amount
    WHEN model = 'last_touch' THEN 0
    WHEN model = 'last_non_direct' THEN CASE WHEN k >= last_non_direct THEN amount ELSE 0 END
    WHEN model = 'linear' OR (model = 'position_based' AND n <= 2) THEN amount * k::DOUBLE / n
    -- 0.4, 0.2 / (n - 2) each, 0.4: in fifths of (n - 2), 2(n - 2), 1 each, 2(n - 2)
    WHEN model = 'position_based' THEN amount * (2 * (n - 2) + k - 1)::DOUBLE / (5 * (n - 2))
    WHEN model = 'time_decay' THEN amount * (tl_fold_sum(weights[1:k]) / tl_fold_sum(weights))
END) AS BIGINT);

COPY (
WITH
-- Leads are the same person when they share a hashed e-mail or phone (one hop).
related AS (
    SELECT lead_id, lead_id AS related_id FROM leads
    UNION
    SELECT a.lead_id, b.lead_id FROM leads a JOIN leads b ON a.email_sha256 = b.email_sha256
    UNION
    SELECT a.lead_id, b.lead_id FROM leads a JOIN leads b ON a.phone_sha256 = b.phone_sha256
),
related_ids AS (
    SELECT r.lead_id, l.visitor_id, l.click_id
    FROM related r JOIN leads l ON l.lead_id = r.related_id
),
-- Touchpoints carrying a related lead's click id.
clicked AS MATERIALIZED (
    SELECT r.lead_id, t.event_id, t.ts, t.visitor_id
    FROM related_ids r JOIN touchpoints t ON t.click_id = r.click_id
),
lead_visitors AS (
    SELECT lead_id, visitor_id FROM related_ids WHERE visitor_id IS NOT NULL
    UNION
    SELECT lead_id, visitor_id FROM clicked WHERE visitor_id IS NOT NULL
),
-- The touchpoints of a lead: its visitors' and those carrying its click ids.
lead_touches AS (
    SELECT v.lead_id, t.event_id, t.ts
    FROM lead_visitors v JOIN touchpoints t ON t.visitor_id = v.visitor_id
    UNION
    SELECT lead_id, event_id, ts FROM clicked
),
deals AS (
    SELECT
        deal_id,
        first(lead_id ORDER BY ts, event_id) FILTER (WHERE lead_id IS NOT NULL) AS lead_id,
        last(manager ORDER BY ts, event_id) FILTER (WHERE manager IS NOT NULL) AS manager,
        last(offer ORDER BY ts, event_id) FILTER (WHERE offer IS NOT NULL) AS offer,
        min(ts) FILTER (WHERE type = 'won') AS won_ts
    FROM deal_events
    GROUP BY deal_id
),
-- The amount and margin known when the deal was won: the won event's, else the latest quote.
won_deals AS (
    SELECT
        e.deal_id, d.lead_id, d.manager, d.offer, d.won_ts,
        last(e.amount ORDER BY e.ts, e.event_id) FILTER (WHERE e.amount IS NOT NULL) AS amount,
        last(e.margin ORDER BY e.ts, e.event_id) FILTER (WHERE e.margin IS NOT NULL) AS margin,
        last(e.currency ORDER BY e.ts, e.event_id) FILTER (WHERE e.currency IS NOT NULL) AS currency
    FROM deal_events e JOIN deals d ON d.deal_id = e.deal_id
    WHERE d.won_ts IS NOT NULL AND e.ts <= d.won_ts
    GROUP BY e.deal_id, d.lead_id, d.manager, d.offer, d.won_ts
),
conversions AS MATERIALIZED (
    SELECT
        'lead:' || lead_id AS conversion_id, 'lead' AS conversion_type, lead_id, NULL::VARCHAR AS deal_id,
        ts AS conversion_ts, 0::DECIMAL(18, 4) AS revenue, 0::DECIMAL(18, 4) AS margin,
        NULL::VARCHAR AS currency, manager, NULL::VARCHAR AS offer
    FROM leads
    UNION ALL
    SELECT
        'deal:' || deal_id, 'deal_won', lead_id, deal_id, won_ts,
        coalesce(amount, 0)::DECIMAL(18, 4), coalesce(margin, 0)::DECIMAL(18, 4), currency, manager, offer
    FROM won_deals
),
-- The touches of each conversion: at or before it, within the lookback (whole seconds).
journey AS MATERIALIZED (
    SELECT
        c.conversion_id, lt.event_id, lt.ts,
        epoch_us(c.conversion_ts) // 1000000 - epoch_us(lt.ts) // 1000000 AS seconds_before
    FROM conversions c JOIN lead_touches lt ON lt.lead_id = c.lead_id
    WHERE lt.ts <= c.conversion_ts
      AND epoch_us(c.conversion_ts) // 1000000 - epoch_us(lt.ts) // 1000000 <= ${lookback_days} * 86400
),
-- The touchpoints that are in some journey, with their traffic fields normalised. Hosts are
-- worked out in steps, one column each, so that no step runs twice per row.
journey_touchpoints AS (
    SELECT
        t.event_id, t.utm_campaign, t.utm_id,
        tl_norm(t.utm_source) AS utm_source, tl_norm(t.utm_medium) AS utm_medium,
        tl_norm(t.utm_campaign) AS campaign_rule_value,
        k.platform AS click_platform, k.source AS click_source, k.medium AS click_medium,
        tl_authority(t.url) AS landing, tl_authority(t.referrer) AS referring
    FROM touchpoints t
    LEFT JOIN channel_click_ids k ON k.click_id_type = tl_norm(t.click_id_type)
    WHERE t.event_id IN (SELECT event_id FROM journey)
),
journey_hosts AS (
    SELECT * REPLACE (tl_host_of(landing) AS landing, tl_host_of(referring) AS referring)
    FROM (
        SELECT * REPLACE (tl_host_candidate(landing) AS landing, tl_host_candidate(referring) AS referring)
        FROM journey_touchpoints
    )
),
-- Effective source / medium (GA4): utm tags, else the click id's, else the external
-- referrer's host / referral, else direct.
journey_traffic AS (
    SELECT
        event_id, utm_campaign, utm_id, click_platform, campaign_rule_value,
        CASE
            WHEN utm_source IS NOT NULL OR utm_medium IS NOT NULL THEN coalesce(utm_source, click_source, '(not set)')
            WHEN click_source IS NOT NULL THEN click_source
            ELSE coalesce(referral_host, '(direct)')
        END AS source,
        CASE
            WHEN utm_source IS NOT NULL OR utm_medium IS NOT NULL THEN coalesce(utm_medium, click_medium, '(not set)')
            WHEN click_medium IS NOT NULL THEN click_medium
            WHEN referral_host IS NOT NULL THEN 'referral'
            ELSE '(none)'
        END AS medium
    FROM (SELECT *, tl_external_host(landing, referring) AS referral_host FROM journey_hosts)
),
-- Category membership of each distinct source (names; hosts by domain suffix or brand,
-- unless excluded), and the first platform (alphabetical) whose sources it matches.
source_hosts AS (
    SELECT source, CASE WHEN tl_host_like(source) THEN regexp_replace(source, '^www\.', '') END AS host
    FROM (SELECT DISTINCT source FROM journey_traffic)
),
source_sets AS (
    SELECT h.source, s.category
    FROM source_hosts h JOIN channel_sources s ON
        (s.kind = 'name' AND s.entry = h.source)
        OR (h.host IS NOT NULL AND s.kind IN ('domain', 'excluded')
            AND (h.host = s.entry OR ends_with(h.host, '.' || s.entry)))
        OR (h.host IS NOT NULL AND s.kind = 'brand'
            AND regexp_matches(h.host, '(^|\.)' || s.entry || '\.([^.]+|[^.]{1,3}\.[^.]+)$'))
    GROUP BY h.source, s.category
    HAVING bool_or(s.kind = 'name') OR (bool_or(s.kind IN ('domain', 'brand')) AND NOT bool_or(s.kind = 'excluded'))
),
source_flags AS (
    SELECT
        h.source,
        coalesce(bool_or(s.category = 'search'), false) AS is_search,
        coalesce(bool_or(s.category = 'social'), false) AS is_social,
        coalesce(bool_or(s.category = 'video'), false) AS is_video,
        coalesce(bool_or(s.category = 'shopping'), false) AS is_shopping,
        coalesce(bool_or(s.category = 'messengers'), false) AS is_messengers,
        min(CASE WHEN starts_with(s.category, 'platform:') THEN substr(s.category, 10) END) AS source_platform
    FROM source_hosts h LEFT JOIN source_sets s ON s.source = h.source
    GROUP BY h.source
),
journey_facts AS (
    SELECT
        event_id, utm_campaign, utm_id, source, channel, platform,
        CASE WHEN channel = 'Organic Search' AND medium = 'referral' THEN 'organic' ELSE medium END AS medium
    FROM (
        SELECT
            j.*,
            tl_channel(j.source, j.medium, coalesce(j.campaign_rule_value, '(not set)'),
                       f.is_search, f.is_social, f.is_video, f.is_shopping, f.is_messengers) AS channel,
            coalesce(j.click_platform,
                     CASE WHEN tl_paid(j.medium) OR tl_display(j.medium) THEN f.source_platform END) AS platform
        FROM journey_traffic j JOIN source_flags f ON f.source = j.source
    )
),
-- Ad campaigns with their latest name; each paid touch's campaign: utm_id = id first, else
-- utm_campaign = id, else utm_campaign = name (case-insensitive), on the same platform.
ad_campaigns AS (
    SELECT
        platform, campaign_id,
        last(campaign_name ORDER BY "date") FILTER (WHERE campaign_name IS NOT NULL) AS campaign_name
    FROM ad_costs
    GROUP BY platform, campaign_id
),
touch_campaigns AS (
    SELECT event_id, campaign_id
    FROM (
        SELECT t.event_id, c.campaign_id, 1 AS priority
        FROM journey_facts t JOIN ad_campaigns c ON t.platform = c.platform AND t.utm_id = c.campaign_id
        UNION ALL
        SELECT t.event_id, c.campaign_id, 2
        FROM journey_facts t JOIN ad_campaigns c ON t.platform = c.platform AND lower(t.utm_campaign) = lower(c.campaign_id)
        UNION ALL
        SELECT t.event_id, c.campaign_id, 3
        FROM journey_facts t JOIN ad_campaigns c ON t.platform = c.platform AND lower(t.utm_campaign) = lower(c.campaign_name)
    )
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY priority, campaign_id) = 1
),
ranked AS (
    SELECT
        j.conversion_id, j.event_id, j.ts, j.seconds_before,
        f.channel, f.source, f.medium, f.utm_campaign, f.platform, tc.campaign_id AS platform_campaign_id,
        row_number() OVER (PARTITION BY j.conversion_id ORDER BY j.ts, j.event_id) AS position,
        pow(2.0::DOUBLE, -CAST(j.seconds_before AS DOUBLE) / (${half_life_days} * 86400.0::DOUBLE)) AS decay_weight
    FROM journey j
    JOIN journey_facts f ON f.event_id = j.event_id
    LEFT JOIN touch_campaigns tc ON tc.event_id = j.event_id
),
-- Per conversion: its length, its last non-Direct touch and its decay weights in order.
journey_totals AS (
    SELECT
        conversion_id,
        count(*) AS touches,
        coalesce(max(position) FILTER (WHERE channel <> 'Direct'), count(*)) AS last_non_direct_position,
        list(decay_weight ORDER BY position) AS decay_weights
    FROM ranked
    GROUP BY conversion_id
),
weights AS (
    SELECT r.*, t.touches, t.last_non_direct_position, t.decay_weights, tl_fold_sum(t.decay_weights) AS decay_total
    FROM ranked r JOIN journey_totals t USING (conversion_id)
),
models AS (
    SELECT * FROM (VALUES
        ('first_touch'), ('last_touch'), ('last_non_direct'), ('linear'), ('position_based'), ('time_decay')
    ) AS m(model)
),
touch_credits AS (
    SELECT * FROM (
        SELECT
            w.conversion_id, w.event_id, w.ts, w.channel, w.source, w.medium, w.utm_campaign,
            w.platform, w.platform_campaign_id, w.seconds_before, w.position, w.touches,
            w.last_non_direct_position, w.decay_weights, m.model,
            CASE m.model
                WHEN 'first_touch' THEN CASE WHEN w.position = 1 THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END
                WHEN 'last_touch' THEN CASE WHEN w.position = w.touches THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END
                WHEN 'last_non_direct' THEN CASE WHEN w.position = w.last_non_direct_position THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END
                WHEN 'linear' THEN 1.0::DOUBLE / w.touches
                WHEN 'position_based' THEN CASE
                    WHEN w.touches = 1 THEN 1.0::DOUBLE
                    WHEN w.touches = 2 THEN 0.5::DOUBLE
                    WHEN w.position = 1 OR w.position = w.touches THEN 0.4::DOUBLE
                    ELSE 0.2::DOUBLE / (w.touches - 2)
                END
                WHEN 'time_decay' THEN w.decay_weight / w.decay_total
            END AS credit
        FROM weights w CROSS JOIN models m
    )
    WHERE credit > 0
),
credited AS (
    SELECT * FROM touch_credits
    UNION ALL
    SELECT
        c.conversion_id, NULL::VARCHAR, NULL::TIMESTAMPTZ, '(none)', '(none)', '(none)', NULL::VARCHAR,
        NULL::VARCHAR, NULL::VARCHAR, NULL::BIGINT, 1::BIGINT, 0::BIGINT, NULL::BIGINT, NULL::DOUBLE[],
        m.model, 1.0::DOUBLE
    FROM conversions c CROSS JOIN models m
    WHERE NOT EXISTS (SELECT 1 FROM journey j WHERE j.conversion_id = c.conversion_id)
),
conversion_units AS (
    SELECT
        c.*,
        tl_minor_unit_factor(c.currency) AS unit_factor,
        CAST(round(CAST(c.revenue AS DOUBLE) * tl_minor_unit_factor(c.currency)) AS BIGINT) AS revenue_units,
        CAST(round(CAST(c.margin AS DOUBLE) * tl_minor_unit_factor(c.currency)) AS BIGINT) AS margin_units
    FROM conversions c
)
SELECT
    c.conversion_id,
    c.conversion_type,
    c.conversion_ts,
    c.lead_id,
    c.deal_id,
    c.manager,
    c.offer,
    k.model,
    k.event_id,
    k.ts AS touch_ts,
    k.position::BIGINT AS position,
    k.touches::BIGINT AS touches,
    k.credit,
    CAST((tl_units_through(c.revenue_units, k.model, k.position, k.touches, k.last_non_direct_position, k.decay_weights)
          - tl_units_through(c.revenue_units, k.model, k.position - 1, k.touches, k.last_non_direct_position, k.decay_weights)
         )::DOUBLE / c.unit_factor AS DECIMAL(18, 4)) AS revenue_credit,
    CAST((tl_units_through(c.margin_units, k.model, k.position, k.touches, k.last_non_direct_position, k.decay_weights)
          - tl_units_through(c.margin_units, k.model, k.position - 1, k.touches, k.last_non_direct_position, k.decay_weights)
         )::DOUBLE / c.unit_factor AS DECIMAL(18, 4)) AS margin_credit,
    c.currency,
    k.channel,
    k.source,
    k.medium,
    k.utm_campaign AS campaign,
    k.platform,
    k.platform_campaign_id,
    CAST(k.seconds_before AS DOUBLE) / 86400.0::DOUBLE AS days_to_conversion,
    CAST(c.conversion_ts AS DATE) AS "date"
FROM credited k JOIN conversion_units c ON c.conversion_id = k.conversion_id
ORDER BY c.conversion_ts, c.conversion_id, k.model, k.position
) TO '${out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY ("date"));
