-- Attribution: credit of each touchpoint in each conversion, for every rule-based model.
-- Requires journeys.sql. Model definitions (a public interface, see docs/MODELS.md):
--   first_touch      1 to the first touch
--   last_touch       1 to the last touch
--   last_non_direct  1 to the last touch whose channel is not Direct (all-Direct: the last touch)
--   linear           1/n to each of n touches
--   position_based   40% first, 40% last, 20% shared by the middle; 2 touches 50/50; 1 touch 100%
--   time_decay       2^(-Δt / half-life) per touch (Δt = time before the conversion), normalised
-- Touches are ordered by time, then event id. Credits of one conversion sum to 1.
-- Input: attribution_models(model), one row per model, registered by the engine from its
-- list of models (crates/engine/src/registry.rs).

-- Touches in order, with the running sum of the time-decay weights in that order through
-- each touch and through the touch before it (the same additions in the same order, so the
-- same double as the row before's own): what time_decay's money split needs, summed once
-- per conversion, not per model.
CREATE OR REPLACE VIEW ranked_touches AS
SELECT
    d.*,
    CAST(row_number() OVER (PARTITION BY d.conversion_id ORDER BY d.ts, d.event_id) AS BIGINT) AS position,
    sum(d.decay_weight) OVER (
        PARTITION BY d.conversion_id ORDER BY d.ts, d.event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS decay_through,
    coalesce(sum(d.decay_weight) OVER (
        PARTITION BY d.conversion_id ORDER BY d.ts, d.event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ), 0.0) AS decay_before
FROM (
    SELECT
        j.*,
        power(2.0, -CAST(j.seconds_before AS DOUBLE) / (p.half_life_days * 86400.0)) AS decay_weight
    FROM journey_touches j CROSS JOIN job_params p
) d;

-- Per conversion: its number of touches, the position of its last non-Direct touch and the
-- total of its decay weights, taken as the running sum at its last touch (the largest, as
-- weights are not negative), so that the last touch's cumulative share is exactly 1.
CREATE OR REPLACE VIEW touch_weights AS
SELECT
    r.*,
    count(*) OVER (PARTITION BY r.conversion_id) AS touches,
    coalesce(
        max(CASE WHEN r.channel <> 'Direct' THEN r.position END) OVER (PARTITION BY r.conversion_id),
        count(*) OVER (PARTITION BY r.conversion_id)
    ) AS last_non_direct_position,
    max(r.decay_through) OVER (PARTITION BY r.conversion_id) AS decay_total
FROM ranked_touches r;

-- Each touch once per model that credits it: every touch for linear, position_based and
-- time_decay (a weight that underflowed to 0 credits nothing), and for the single-credit
-- models only the touch at their position. Filters on the touch's own columns: no
-- touch × model pairs to build and test. (The job computes touch_weights once.)
CREATE OR REPLACE VIEW touch_models AS
SELECT w.*, 'linear' AS model FROM touch_weights w
UNION ALL
SELECT w.*, 'position_based' AS model FROM touch_weights w
UNION ALL
SELECT w.*, 'time_decay' AS model FROM touch_weights w WHERE w.decay_weight > 0
UNION ALL
SELECT w.*, 'first_touch' AS model FROM touch_weights w WHERE w.position = 1
UNION ALL
SELECT w.*, 'last_touch' AS model FROM touch_weights w WHERE w.position = w.touches
UNION ALL
SELECT w.*, 'last_non_direct' AS model FROM touch_weights w WHERE w.position = w.last_non_direct_position;

-- Each row's credit and its cumulative credit, for the money split below: C_i (credits at
-- positions 1..i) = share_through / share_total and C_(i-1) = share_before / share_total.
-- Where the model allows they are integers (exact fractions): single-credit models 1/1;
-- linear i/n; position_based with n > 2 in units of 1/(5(n-2)): 2(n-2) to the first and
-- the last touch, 1 to each middle one (0.4, 0.2/(n-2), 0.4), so C_i = (2(n-2) + i - 1) /
-- (5(n-2)) for i < n and 1 for n (n <= 2 is linear). share_before is share_through of the
-- position before, written out (integers, so it is the same value). time_decay: the running
-- sums through i and through i - 1 divided by the total, doubles, over 1. C_n = 1 exactly
-- in every model.
CREATE OR REPLACE VIEW touch_credits AS
SELECT * FROM (
    SELECT
        w.conversion_id, w.event_id, w.ts, w.channel, w.source, w.medium, w.utm_campaign,
        w.platform, w.platform_campaign_id, w.seconds_before, w.position, w.touches,
        w.model,
        CASE w.model
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
        END AS credit,
        CASE
            WHEN w.model = 'linear' OR (w.model = 'position_based' AND w.touches <= 2) THEN CAST(w.position AS DOUBLE)
            WHEN w.model = 'position_based' THEN CASE
                WHEN w.position = w.touches THEN CAST(5 * (w.touches - 2) AS DOUBLE)
                ELSE CAST(2 * (w.touches - 2) + w.position - 1 AS DOUBLE)
            END
            WHEN w.model = 'time_decay' THEN w.decay_through / w.decay_total
            ELSE 1.0
        END AS share_through,
        CASE
            WHEN w.model = 'linear' OR (w.model = 'position_based' AND w.touches <= 2) THEN CAST(w.position - 1 AS DOUBLE)
            WHEN w.model = 'position_based' THEN CASE
                WHEN w.position = 1 THEN 0.0
                ELSE CAST(2 * (w.touches - 2) + w.position - 2 AS DOUBLE)
            END
            WHEN w.model = 'time_decay' THEN w.decay_before / w.decay_total
            ELSE 0.0
        END AS share_before,
        CASE
            WHEN w.model = 'linear' OR (w.model = 'position_based' AND w.touches <= 2) THEN CAST(w.touches AS DOUBLE)
            WHEN w.model = 'position_based' THEN CAST(5 * (w.touches - 2) AS DOUBLE)
            ELSE 1.0
        END AS share_total
    FROM touch_models w
) c;

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
    1.0 AS credit,
    1.0 AS share_through,
    0.0 AS share_before,
    1.0 AS share_total
FROM window_conversions c CROSS JOIN attribution_models m
WHERE c.conversion_id NOT IN (SELECT conversion_id FROM touch_weights);

-- Conversion amounts in whole minor units.
CREATE OR REPLACE VIEW conversion_units AS
SELECT
    c.*,
    minor_unit_factor(c.currency) AS unit_factor,
    CAST(round(CAST(c.revenue AS DOUBLE) * minor_unit_factor(c.currency)) AS BIGINT) AS revenue_units,
    CAST(round(CAST(c.margin AS DOUBLE) * minor_unit_factor(c.currency)) AS BIGINT) AS margin_units
FROM window_conversions c;

-- Money is split in the currency's minor units (kopiyky for UAH) by cumulative rounding
-- (docs/MODELS.md, "Money"): the row at position i gets round(R * C_i) - round(R * C_(i-1)),
-- R the amount in minor units and C the cumulative credits of touch_credits, each product
-- taken as R * share / total (one division: for integer shares a product of exactly half a
-- unit stays so) and rounded half away from zero. As C_(i-1) is the row before's C_i, the
-- parts telescope: those of one conversion and model add up to R exactly, the last row
-- (C_n = 1) gets the rest, and every part is an amount that can actually be paid.
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
        CAST(round(c.revenue_units * k.share_through / k.share_total) AS BIGINT)
        - CAST(round(c.revenue_units * k.share_before / k.share_total) AS BIGINT)
        AS DECIMAL(22, 4)) / c.unit_factor AS DECIMAL(18, 4)) AS revenue_credit,
    CAST(CAST(
        CAST(round(c.margin_units * k.share_through / k.share_total) AS BIGINT)
        - CAST(round(c.margin_units * k.share_before / k.share_total) AS BIGINT)
        AS DECIMAL(22, 4)) / c.unit_factor AS DECIMAL(18, 4)) AS margin_credit,
    c.currency,
    k.channel,
    k.source,
    k.medium,
    k.utm_campaign AS campaign,
    k.platform,
    k.platform_campaign_id,
    CAST(k.seconds_before AS DOUBLE) / 86400.0 AS days_to_conversion
-- The conversions first: the join keeps its hash table on the smaller side (a join builds on
-- its left input when the sizes are not known), and the credited rows stream past it.
FROM conversion_units c JOIN credited k ON k.conversion_id = c.conversion_id;
