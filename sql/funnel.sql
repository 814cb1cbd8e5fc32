-- Funnel: per stage, deals that entered it, moved on, were lost in it or are still in it,
-- conversion to the next stage and median days in stage; and why deals were lost.
-- Requires journeys.sql and, for group_by = 'channel', the attribution table (a deal's
-- channel is its lead's last non-Direct touch).
-- Parameters: funnel_params(group_by VARCHAR) — 'channel', 'manager' or 'all'.

-- A deal enters a stage with `created` or `stage_changed`; repeats of the same stage are
-- one stay.
CREATE OR REPLACE VIEW stage_entries AS
SELECT deal_id, stage, ts AS entered_ts, event_id
FROM (
    SELECT
        deal_id, stage, ts, event_id,
        lag(stage) OVER (PARTITION BY deal_id ORDER BY ts, event_id) AS previous_stage
    FROM deal_events
    WHERE type IN ('created', 'stage_changed') AND stage IS NOT NULL
) e
WHERE previous_stage IS NULL OR previous_stage <> stage;

-- How each deal ended: its first won or lost event.
CREATE OR REPLACE VIEW deal_outcomes AS
SELECT deal_id, type AS outcome, ts AS closed_ts, loss_reason
FROM (
    SELECT deal_id, type, ts, loss_reason, row_number() OVER (PARTITION BY deal_id ORDER BY ts, event_id) AS n
    FROM deal_events
    WHERE type IN ('won', 'lost')
) o
WHERE n = 1;

CREATE OR REPLACE VIEW deal_groups AS
SELECT
    d.deal_id,
    CASE p.group_by
        WHEN 'manager' THEN coalesce(d.manager, '(none)')
        WHEN 'channel' THEN coalesce(lc.channel, '(none)')
        ELSE '(all)'
    END AS group_key
FROM deals d
CROSS JOIN funnel_params p
LEFT JOIN (
    SELECT lead_id, channel FROM attribution
    WHERE conversion_type = 'lead' AND model = 'last_non_direct'
) lc ON lc.lead_id = d.lead_id;

-- Each stay in a stage, and how it ended: the next stage, the deal's close, or still open.
-- Events after a deal closed do not reopen it.
CREATE OR REPLACE VIEW stage_stays AS
SELECT
    s.*,
    CASE
        WHEN s.next_entered_ts IS NOT NULL AND (s.closed_ts IS NULL OR s.next_entered_ts <= s.closed_ts) THEN 'moved_on'
        WHEN s.outcome = 'won' THEN 'moved_on'
        WHEN s.outcome = 'lost' THEN 'lost'
        ELSE 'open'
    END AS result,
    CASE
        WHEN s.next_entered_ts IS NOT NULL AND (s.closed_ts IS NULL OR s.next_entered_ts <= s.closed_ts)
            THEN s.next_entered_ts
        ELSE s.closed_ts
    END AS left_ts
FROM (
    SELECT
        e.deal_id, e.stage, e.entered_ts,
        lead(e.entered_ts) OVER (PARTITION BY e.deal_id ORDER BY e.entered_ts, e.event_id) AS next_entered_ts,
        row_number() OVER (PARTITION BY e.deal_id ORDER BY e.entered_ts, e.event_id) AS stay_number,
        o.outcome, o.closed_ts, o.loss_reason
    FROM stage_entries e LEFT JOIN deal_outcomes o ON o.deal_id = e.deal_id
    WHERE o.closed_ts IS NULL OR e.entered_ts <= o.closed_ts
) s;

-- Stage order is taken from the data: stages deals reach later sort later.
CREATE OR REPLACE VIEW stage_order AS
SELECT stage, avg(CAST(stay_number AS DOUBLE)) AS mean_position
FROM stage_stays
GROUP BY stage;

CREATE OR REPLACE VIEW funnel_report AS
SELECT
    g.group_key AS "group",
    s.stage,
    count(DISTINCT s.deal_id) AS entered,
    count(DISTINCT CASE WHEN s.result = 'moved_on' THEN s.deal_id END) AS moved_on,
    count(DISTINCT CASE WHEN s.result = 'lost' THEN s.deal_id END) AS lost,
    count(DISTINCT CASE WHEN s.result = 'open' THEN s.deal_id END) AS open,
    round(
        CAST(count(DISTINCT CASE WHEN s.result = 'moved_on' THEN s.deal_id END) AS DOUBLE)
            / count(DISTINCT s.deal_id),
        4
    ) AS conversion_to_next,
    round(median((to_unixtime(s.left_ts) - to_unixtime(s.entered_ts)) / 86400.0), 2) AS median_days_in_stage,
    min(o.mean_position) AS stage_position
FROM stage_stays s
JOIN deal_groups g ON g.deal_id = s.deal_id
JOIN stage_order o ON o.stage = s.stage
GROUP BY g.group_key, s.stage;

CREATE OR REPLACE VIEW loss_reasons AS
SELECT
    g.group_key AS "group",
    coalesce(s.loss_reason, '(not given)') AS loss_reason,
    s.stage,
    count(DISTINCT s.deal_id) AS lost_deals
FROM stage_stays s JOIN deal_groups g ON g.deal_id = s.deal_id
WHERE s.result = 'lost'
GROUP BY g.group_key, coalesce(s.loss_reason, '(not given)'), s.stage;
