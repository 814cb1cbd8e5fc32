-- Customers, repeat purchases and LTV by acquisition channel.
-- Requires journeys.sql and the attribution table (a customer's acquisition channel is the
-- first-touch channel of their first lead).
--
-- An order belongs to a lead by its lead_id, else by a lead with the same hashed e-mail or
-- phone (the earliest such lead). A customer is the earliest of the leads related to that
-- lead; orders nobody can link are customers of their own, keyed by their contact hash.

CREATE OR REPLACE VIEW lead_customers AS
SELECT lead_id, customer_id
FROM (
    SELECT
        r.lead_id,
        l.lead_id AS customer_id,
        row_number() OVER (PARTITION BY r.lead_id ORDER BY l.ts, l.lead_id) AS n
    FROM related_leads r JOIN leads l ON l.lead_id = r.related_lead_id
) ranked
WHERE n = 1;

CREATE OR REPLACE VIEW order_links AS
SELECT order_id, lead_id
FROM (
    SELECT order_id, lead_id, row_number() OVER (PARTITION BY order_id ORDER BY priority, lead_ts, lead_id) AS n
    FROM (
        SELECT o.order_id, l.lead_id, 1 AS priority, l.ts AS lead_ts
        FROM orders o JOIN leads l ON l.lead_id = o.lead_id
        UNION ALL
        SELECT o.order_id, l.lead_id, 2, l.ts FROM orders o JOIN leads l ON l.email_sha256 = o.email_sha256
        UNION ALL
        SELECT o.order_id, l.lead_id, 3, l.ts FROM orders o JOIN leads l ON l.phone_sha256 = o.phone_sha256
    ) candidates
) ranked
WHERE n = 1;

-- Every order with its customer and its place in that customer's purchases.
CREATE OR REPLACE VIEW customer_orders AS
SELECT
    o.*,
    k.lead_id AS linked_lead_id,
    k.customer_id,
    row_number() OVER (PARTITION BY k.customer_id ORDER BY o.ts, o.order_id) AS purchase_number,
    row_number() OVER (PARTITION BY k.customer_id ORDER BY o.ts, o.order_id) > 1 AS is_repeat
FROM (
    SELECT
        o.order_id,
        ol.lead_id,
        coalesce(lc.customer_id, 'contact:' || coalesce(o.email_sha256, o.phone_sha256, o.order_id)) AS customer_id
    FROM orders o
    LEFT JOIN order_links ol ON ol.order_id = o.order_id
    LEFT JOIN lead_customers lc ON lc.lead_id = ol.lead_id
) k
JOIN orders o ON o.order_id = k.order_id;

CREATE OR REPLACE VIEW customer_value AS
SELECT
    c.customer_id,
    coalesce(a.channel, '(unknown)') AS acquisition_channel,
    count(*) AS orders,
    sum(CASE WHEN c.is_repeat THEN 1 ELSE 0 END) AS repeat_orders,
    sum(c.amount) AS revenue,
    sum(CASE WHEN c.is_repeat THEN c.amount ELSE 0 END) AS repeat_revenue,
    sum(c.margin) AS margin,
    min(c.ts) AS first_order_ts,
    max(c.ts) AS last_order_ts
FROM customer_orders c
LEFT JOIN (
    SELECT lead_id, channel FROM attribution WHERE conversion_type = 'lead' AND model = 'first_touch'
) a ON a.lead_id = c.customer_id
GROUP BY c.customer_id, coalesce(a.channel, '(unknown)');

-- The report: per acquisition channel, customers, how many bought again, and value.
CREATE OR REPLACE VIEW ltv_report AS
SELECT
    acquisition_channel,
    count(*) AS customers,
    sum(CASE WHEN repeat_orders > 0 THEN 1 ELSE 0 END) AS repeat_customers,
    round(CAST(sum(CASE WHEN repeat_orders > 0 THEN 1 ELSE 0 END) AS DOUBLE) / count(*), 4) AS repeat_rate,
    sum(orders) AS orders,
    CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue,
    CAST(sum(repeat_revenue) AS DECIMAL(18, 2)) AS repeat_revenue,
    CAST(sum(revenue) / count(*) AS DECIMAL(18, 2)) AS ltv,
    CAST(sum(margin) / count(*) AS DECIMAL(18, 2)) AS margin_per_customer
FROM customer_value
GROUP BY acquisition_channel;
