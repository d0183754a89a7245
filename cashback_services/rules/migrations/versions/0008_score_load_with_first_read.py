"""Scoring's first read folded into its lock-and-load: ScoreOrder and ScoreEvent
in four statements (BEGIN, load, write, COMMIT).

rules_score_load(p_what, p_key, ...) -- an overload of 0004's function with the
order or event id in front -- returns, besides what the old one did, the
merchant's campaign generation, the stored score of a replay (and then stops,
before any lock) and the customer's RFM segment. The caller passes the
campaigns the order could pay for some customer (a superset that needs no
customer), so it no longer reads the customer before the lock.

rules_score_load_events() does the same for a group of ScoreEvents of one
merchant (service_layer/event_groups.py: one transaction per group): the
stored events, then every other event's customer locked in customer_id order,
then the budgets in campaign_id order -- customers always before budgets, as
in every other scoring or refund transaction, so none of them deadlock.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# VOLATILE, as 0004's: each query takes a new snapshot, so the reads that follow
# the customer lock see what the previous holder committed.
LOAD = """
CREATE OR REPLACE FUNCTION rules_score_load(
    p_what text, p_key text, p_merchant text, p_customer text, p_add_orders bigint, p_budget_ids text[],
    p_usage_ids text[], p_days text[], p_currency text, p_since timestamptz[], p_until timestamptz)
RETURNS TABLE (kind text, key text, day text, a bigint, b bigint, body bytea)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_fingerprint text;
    v_body bytea;
    v_tier text;
    v_count bigint;
BEGIN
    RETURN QUERY SELECT 'generation'::text, ''::text, ''::text,
        coalesce((SELECT m.generation FROM rules_merchants m WHERE m.merchant_id = p_merchant), 0)::bigint,
        0::bigint, NULL::bytea;
    -- A replay: the stored score, and no lock.
    IF p_what = 'order' THEN
        SELECT o.fingerprint, o.score_body INTO v_fingerprint, v_body
        FROM rules_orders o WHERE o.merchant_id = p_merchant AND o.order_id = p_key;
    ELSE
        SELECT e.fingerprint, e.score_body INTO v_fingerprint, v_body
        FROM rules_events e WHERE e.merchant_id = p_merchant AND e.event_id = p_key;
    END IF;
    IF FOUND THEN
        RETURN QUERY SELECT 'stored'::text, v_fingerprint::text, ''::text, 0::bigint, 0::bigint, v_body;
        RETURN;
    END IF;
    -- Created if new, locked until commit: every scorer and refund of this
    -- customer queues here. Returned as it was before this order is counted.
    INSERT INTO rules_customers AS t (merchant_id, customer_id, manual_tier, order_count)
    VALUES (p_merchant, p_customer, '', p_add_orders)
    ON CONFLICT (merchant_id, customer_id) DO UPDATE SET order_count = t.order_count + p_add_orders
    RETURNING t.manual_tier, t.order_count INTO v_tier, v_count;
    RETURN QUERY
    SELECT 'customer'::text, v_tier,
           coalesce((SELECT r.segment FROM rules_customer_rfm r
                     WHERE r.merchant_id = p_merchant AND r.customer_id = p_customer), '')::text,
           v_count - p_add_orders, 0::bigint, NULL::bytea;
    -- The budgets this call may spend, in campaign_id order (no deadlock).
    RETURN QUERY
    SELECT 'budget'::text, x.campaign_id::text, ''::text, x.budget_used, 0::bigint, NULL::bytea
    FROM rules_campaigns x
    WHERE x.merchant_id = p_merchant AND x.campaign_id = ANY(p_budget_ids)
    ORDER BY x.campaign_id FOR UPDATE;
    RETURN QUERY
    SELECT 'usage'::text, u.campaign_id::text, ''::text, u.amount_minor, u.award_count, NULL::bytea
    FROM rules_customer_usage u
    WHERE u.merchant_id = p_merchant AND u.customer_id = p_customer AND u.campaign_id = ANY(p_usage_ids);
    RETURN QUERY
    SELECT 'day'::text, d.campaign_id::text, d.local_day::text, d.award_count, 0::bigint, NULL::bytea
    FROM rules_customer_day_usage d
    WHERE d.merchant_id = p_merchant AND d.customer_id = p_customer AND d.campaign_id = ANY(p_usage_ids)
      AND d.local_day = ANY(p_days);
    -- Net spend per tier window, [since_i, until), when a tier depends on it
    -- (a manual tier wins over spend: then it is not summed).
    IF cardinality(p_since) > 0 AND v_tier = '' THEN
        RETURN QUERY
        SELECT 'spend'::text, w.i::text, ''::text,
               coalesce(sum(o.merchandise_minor - o.refunded_minor), 0)::bigint, 0::bigint, NULL::bytea
        FROM unnest(p_since) WITH ORDINALITY AS w(since, i)
        LEFT JOIN rules_orders o ON o.merchant_id = p_merchant AND o.customer_id = p_customer
            AND o.currency = p_currency AND o.placed_at >= w.since AND o.placed_at < p_until
        GROUP BY w.i;
    END IF;
END
$fn$
"""

# Rows: ('generation', 0, '', '', '', gen), ('stored', 0, event_id, fingerprint,
# '', 0, 0, body), ('customer', 0, customer, manual tier, segment, order count),
# ('budget', 0, campaign, '', '', used), ('usage', 0, customer, campaign, '',
# amount, count), ('day', 0, customer, campaign, day, count), ('spend', i, n,
# '', '', spend) for the i-th event's (1-based) n-th entry of p_since
# (p_since_of names the event of each entry). Every row is found by its key's
# index, one probe per key (LATERAL ... OFFSET 0, or = ANY on the key): the
# planner takes an array for 100 rows and would otherwise hash-join whole
# tables of a few thousand rows (docs/performance.md, migration 0011 of the wallet).
LOAD_EVENTS = """
CREATE OR REPLACE FUNCTION rules_score_load_events(
    p_merchant text, p_event_ids text[], p_customers text[], p_budget_ids text[], p_usage_ids text[],
    p_days text[], p_currency text, p_since timestamptz[], p_since_of int[], p_until timestamptz[])
RETURNS TABLE (kind text, i int, key text, sub text, extra text, a bigint, b bigint, body bytea)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_stored text[];
    v_new text[];
BEGIN
    RETURN QUERY SELECT 'generation'::text, 0, ''::text, ''::text, ''::text,
        coalesce((SELECT m.generation FROM rules_merchants m WHERE m.merchant_id = p_merchant), 0)::bigint,
        0::bigint, NULL::bytea;
    -- Replays: the stored events; their customers are not locked.
    SELECT coalesce(array_agg(e.event_id), '{}') INTO v_stored
    FROM rules_events e WHERE e.merchant_id = p_merchant AND e.event_id = ANY(p_event_ids);
    IF cardinality(v_stored) > 0 THEN
        RETURN QUERY
        SELECT 'stored'::text, 0, e.event_id::text, e.fingerprint::text, ''::text, 0::bigint, 0::bigint,
               e.score_body
        FROM rules_events e WHERE e.merchant_id = p_merchant AND e.event_id = ANY(v_stored);
    END IF;
    SELECT coalesce(array_agg(DISTINCT x.c ORDER BY x.c), '{}') INTO v_new
    FROM unnest(p_event_ids, p_customers) AS x(eid, c) WHERE x.eid <> ALL(v_stored);
    IF cardinality(v_new) = 0 THEN
        RETURN;
    END IF;
    -- Created if new, locked until commit, in customer_id order.
    RETURN QUERY
    WITH c AS (
        INSERT INTO rules_customers AS t (merchant_id, customer_id, manual_tier, order_count)
        SELECT p_merchant, x.c, '', 0 FROM unnest(v_new) AS x(c) ORDER BY x.c
        ON CONFLICT (merchant_id, customer_id) DO UPDATE SET order_count = t.order_count
        RETURNING t.customer_id, t.manual_tier, t.order_count)
    SELECT 'customer'::text, 0, c.customer_id::text, c.manual_tier::text,
           coalesce((SELECT r.segment FROM rules_customer_rfm r
                     WHERE r.merchant_id = p_merchant AND r.customer_id = c.customer_id), '')::text,
           c.order_count, 0::bigint, NULL::bytea
    FROM c;
    -- The budgets the group may spend, in campaign_id order.
    RETURN QUERY
    SELECT 'budget'::text, 0, x.campaign_id::text, ''::text, ''::text, x.budget_used, 0::bigint, NULL::bytea
    FROM rules_campaigns x
    WHERE x.merchant_id = p_merchant AND x.campaign_id = ANY(p_budget_ids)
    ORDER BY x.campaign_id FOR UPDATE;
    RETURN QUERY
    SELECT 'usage'::text, 0, x.c, u.campaign_id::text, ''::text, u.amount_minor, u.award_count, NULL::bytea
    FROM unnest(v_new) AS x(c)
    CROSS JOIN LATERAL (
        SELECT u.campaign_id, u.amount_minor, u.award_count FROM rules_customer_usage u
        WHERE u.merchant_id = p_merchant AND u.customer_id = x.c AND u.campaign_id = ANY(p_usage_ids)
        OFFSET 0) u;
    RETURN QUERY
    SELECT 'day'::text, 0, x.c, d.campaign_id::text, d.local_day::text, d.award_count, 0::bigint, NULL::bytea
    FROM unnest(v_new) AS x(c)
    CROSS JOIN LATERAL (
        SELECT d.campaign_id, d.local_day, d.award_count FROM rules_customer_day_usage d
        WHERE d.merchant_id = p_merchant AND d.customer_id = x.c AND d.campaign_id = ANY(p_usage_ids)
          AND d.local_day = ANY(p_days)
        OFFSET 0) d;
    -- Net spend per event and tier window, [since, the event's instant).
    IF cardinality(p_since) > 0 THEN
        RETURN QUERY
        SELECT 'spend'::text, w.ev, w.n::text, ''::text, ''::text, s.spend, 0::bigint, NULL::bytea
        FROM unnest(p_since, p_since_of) WITH ORDINALITY AS w(since, ev, n)
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(o.merchandise_minor - o.refunded_minor), 0)::bigint AS spend
            FROM rules_orders o
            WHERE o.merchant_id = p_merchant AND o.customer_id = p_customers[w.ev] AND o.currency = p_currency
              AND o.placed_at >= w.since AND o.placed_at < p_until[w.ev]
            OFFSET 0) s;
    END IF;
END
$fn$
"""


def upgrade() -> None:
    op.execute(LOAD)
    op.execute(LOAD_EVENTS)


def downgrade() -> None:
    op.execute("DROP FUNCTION rules_score_load_events(text, text[], text[], text[], text[], text[], text,"
               " timestamptz[], int[], timestamptz[])")
    op.execute("DROP FUNCTION rules_score_load(text, text, text, text, bigint, text[], text[], text[], text,"
               " timestamptz[], timestamptz)")
