-- Attribution: credit of each touchpoint in each conversion, for every rule-based model.
-- Requires journeys.sql. Model definitions (a public interface, see docs/MODELS.md):
--   first_touch      1 to the first touch
--   last_touch       1 to the last touch
--   last_non_direct  1 to the last touch whose channel is not Direct (all-Direct: the last touch)
--   linear           1/n to each of n touches
--   position_based   40% first, 40% last, 20% shared by the middle; 2 touches 50/50; 1 touch 100%
--   time_decay       2^(-Δt / half-life) per touch (Δt = time before the conversion), normalised
-- Touches are ordered by time, then event id. Credits of one conversion sum to 1.

CREATE OR REPLACE VIEW attribution_models AS
SELECT * FROM (VALUES
    ('first_touch'), ('last_touch'), ('last_non_direct'), ('linear'), ('position_based'), ('time_decay')
) AS m(model);

CREATE OR REPLACE VIEW ranked_touches AS
SELECT
    j.*,
    CAST(row_number() OVER (PARTITION BY j.conversion_id ORDER BY j.ts, j.event_id) AS BIGINT) AS position,
    count(*) OVER (PARTITION BY j.conversion_id) AS touches,
    power(2.0, -CAST(j.seconds_before AS DOUBLE) / (p.half_life_days * 86400.0)) AS decay_weight
FROM journey_touches j CROSS JOIN job_params p;

CREATE OR REPLACE VIEW touch_weights AS
SELECT
    r.*,
    coalesce(
        max(CASE WHEN r.channel <> 'Direct' THEN r.position END) OVER (PARTITION BY r.conversion_id),
        r.touches
    ) AS last_non_direct_position,
    sum(r.decay_weight) OVER (PARTITION BY r.conversion_id) AS decay_total
FROM ranked_touches r;

CREATE OR REPLACE VIEW touch_credits AS
SELECT * FROM (
    SELECT
        w.conversion_id, w.event_id, w.ts, w.channel, w.source, w.medium, w.utm_campaign,
        w.platform, w.platform_campaign_id, w.seconds_before, w.position, w.touches,
        m.model,
        CASE m.model
            WHEN 'first_touch' THEN CASE WHEN w.position = 1 THEN 1.0 ELSE 0.0 END
            WHEN 'last_touch' THEN CASE WHEN w.position = w.touches THEN 1.0 ELSE 0.0 END
            WHEN 'last_non_direct' THEN CASE WHEN w.position = w.last_non_direct_position THEN 1.0 ELSE 0.0 END
            WHEN 'linear' THEN 1.0 / w.touches
            WHEN 'position_based' THEN CASE
                WHEN w.touches = 1 THEN 1.0
                WHEN w.touches = 2 THEN 0.5
                WHEN w.position = 1 OR w.position = w.touches THEN 0.4
                ELSE 0.2 / (w.touches - 2)
            END
            WHEN 'time_decay' THEN w.decay_weight / w.decay_total
        END AS credit
    FROM touch_weights w CROSS JOIN attribution_models m
) c
WHERE c.credit > 0;

-- Conversions without any touchpoint keep one '(none)' row per model, so attributed
-- totals always equal the CRM's.
CREATE OR REPLACE VIEW credited AS
SELECT * FROM touch_credits
UNION ALL
SELECT
    c.conversion_id,
    CAST(NULL AS VARCHAR) AS event_id,
    arrow_cast(NULL, 'Timestamp(Microsecond, Some("UTC"))') AS ts,
    '(none)' AS channel,
    '(none)' AS source,
    '(none)' AS medium,
    CAST(NULL AS VARCHAR) AS utm_campaign,
    CAST(NULL AS VARCHAR) AS platform,
    CAST(NULL AS VARCHAR) AS platform_campaign_id,
    CAST(NULL AS BIGINT) AS seconds_before,
    CAST(1 AS BIGINT) AS position,
    CAST(0 AS BIGINT) AS touches,
    m.model,
    1.0 AS credit
FROM window_conversions c CROSS JOIN attribution_models m
WHERE c.conversion_id NOT IN (SELECT conversion_id FROM journey_touches);

-- Money is split in the currency's minor units (kopiyky for UAH) by cumulative rounding:
-- each row gets round(R * credits up to it) - round(R * credits before it) and the last
-- row the rest, so the parts of one conversion add up to its amount exactly and every
-- part is an amount that can actually be paid.
CREATE OR REPLACE VIEW credited_cumulative AS
SELECT
    k.*,
    sum(k.credit) OVER (
        PARTITION BY k.conversion_id, k.model ORDER BY k.position
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS credit_through,
    row_number() OVER (PARTITION BY k.conversion_id, k.model ORDER BY k.position DESC) = 1 AS is_last
FROM credited k;

CREATE OR REPLACE VIEW credited_split AS
SELECT
    k.*,
    coalesce(lag(k.credit_through) OVER (PARTITION BY k.conversion_id, k.model ORDER BY k.position), 0.0) AS credit_before
FROM credited_cumulative k;

-- Conversion amounts in whole minor units.
CREATE OR REPLACE VIEW conversion_units AS
SELECT
    c.*,
    minor_unit_factor(c.currency) AS unit_factor,
    CAST(round(CAST(c.revenue AS DOUBLE) * minor_unit_factor(c.currency)) AS BIGINT) AS revenue_units,
    CAST(round(CAST(c.margin AS DOUBLE) * minor_unit_factor(c.currency)) AS BIGINT) AS margin_units
FROM window_conversions c;

CREATE OR REPLACE VIEW attribution_result AS
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
    CAST(k.position AS BIGINT) AS position,
    CAST(k.touches AS BIGINT) AS touches,
    k.credit,
    CAST(CAST(
        CASE WHEN k.is_last THEN c.revenue_units - CAST(round(c.revenue_units * k.credit_before) AS BIGINT)
        ELSE CAST(round(c.revenue_units * k.credit_through) AS BIGINT) - CAST(round(c.revenue_units * k.credit_before) AS BIGINT)
        END AS DECIMAL(22, 4)) / c.unit_factor AS DECIMAL(18, 4)) AS revenue_credit,
    CAST(CAST(
        CASE WHEN k.is_last THEN c.margin_units - CAST(round(c.margin_units * k.credit_before) AS BIGINT)
        ELSE CAST(round(c.margin_units * k.credit_through) AS BIGINT) - CAST(round(c.margin_units * k.credit_before) AS BIGINT)
        END AS DECIMAL(22, 4)) / c.unit_factor AS DECIMAL(18, 4)) AS margin_credit,
    c.currency,
    k.channel,
    k.source,
    k.medium,
    k.utm_campaign AS campaign,
    k.platform,
    k.platform_campaign_id,
    CAST(k.seconds_before AS DOUBLE) / 86400.0 AS days_to_conversion
FROM credited_split k JOIN conversion_units c ON c.conversion_id = k.conversion_id;
