"""Scoring in two statements, and no campaign row shared by every order.

- rules_campaigns.budgeted: whether the current version has a budget. Only
  those campaigns keep a budget_used counter, locked and updated by the orders
  they pay; what a campaign without a budget paid is summed from its award rows.
- rules_campaigns.paid_before: what each campaign had paid before this
  revision and cannot be summed from award rows (event awards had none).
- rules_event_awards: one row per award of a scored event, like rules_awards.
- rules_score_load(): the one statement that locks the customer (and the
  budgets the call may spend) and reads everything scoring needs.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = sa.String(128)

# A volatile function: each query in it takes a new snapshot (READ COMMITTED), so
# the reads that follow the customer lock see what the previous holder committed
# -- which one statement with CTEs would not (its snapshot predates the wait).
LOAD = """
CREATE OR REPLACE FUNCTION rules_score_load(
    p_merchant text, p_customer text, p_add_orders bigint, p_budget_ids text[], p_usage_ids text[],
    p_days text[], p_currency text, p_since timestamptz[], p_until timestamptz)
RETURNS TABLE (kind text, key text, day text, a bigint, b bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
BEGIN
    -- Created if new, locked until commit: every scorer and refund of this
    -- customer queues here. Returned as it was before this order is counted.
    RETURN QUERY
    WITH c AS (
        INSERT INTO rules_customers AS t (merchant_id, customer_id, manual_tier, order_count)
        VALUES (p_merchant, p_customer, '', p_add_orders)
        ON CONFLICT (merchant_id, customer_id) DO UPDATE SET order_count = t.order_count + p_add_orders
        RETURNING t.manual_tier, t.order_count)
    SELECT 'customer'::text, c.manual_tier::text, ''::text, c.order_count - p_add_orders, 0::bigint FROM c;
    -- The budgets this call may spend, in campaign_id order (no deadlock).
    RETURN QUERY
    SELECT 'budget'::text, x.campaign_id::text, ''::text, x.budget_used, 0::bigint
    FROM rules_campaigns x
    WHERE x.merchant_id = p_merchant AND x.campaign_id = ANY(p_budget_ids)
    ORDER BY x.campaign_id FOR UPDATE;
    RETURN QUERY
    SELECT 'usage'::text, u.campaign_id::text, ''::text, u.amount_minor, u.award_count
    FROM rules_customer_usage u
    WHERE u.merchant_id = p_merchant AND u.customer_id = p_customer AND u.campaign_id = ANY(p_usage_ids);
    RETURN QUERY
    SELECT 'day'::text, d.campaign_id::text, d.local_day::text, d.award_count, 0::bigint
    FROM rules_customer_day_usage d
    WHERE d.merchant_id = p_merchant AND d.customer_id = p_customer AND d.campaign_id = ANY(p_usage_ids)
      AND d.local_day = ANY(p_days);
    -- Net spend per tier window, [since_i, until), when a tier depends on it.
    IF cardinality(p_since) > 0 THEN
        RETURN QUERY
        SELECT 'spend'::text, w.i::text, ''::text,
               coalesce(sum(o.merchandise_minor - o.refunded_minor), 0)::bigint, 0::bigint
        FROM unnest(p_since) WITH ORDINALITY AS w(since, i)
        LEFT JOIN rules_orders o ON o.merchant_id = p_merchant AND o.customer_id = p_customer
            AND o.currency = p_currency AND o.placed_at >= w.since AND o.placed_at < p_until
        GROUP BY w.i;
    END IF;
END
$fn$
"""


def _budgeted_campaigns() -> list[tuple[str, str]]:
    """(merchant_id, campaign_id) of the campaigns whose current version has a budget."""
    from cashback.rules.v1 import rules_pb2

    rows = op.get_bind().execute(sa.text(
        "SELECT c.merchant_id, c.campaign_id, v.body FROM rules_campaigns c JOIN rules_campaign_versions v"
        " ON v.merchant_id = c.merchant_id AND v.campaign_id = c.campaign_id AND v.version = c.current_version"))
    return [(m, cid) for m, cid, body in rows if rules_pb2.Campaign.FromString(bytes(body)).HasField("budget")]


def upgrade() -> None:
    op.add_column("rules_campaigns", sa.Column("budgeted", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("rules_campaigns", sa.Column("paid_before", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "rules_event_awards",
        sa.Column("merchant_id", S, primary_key=True),
        sa.Column("event_id", S, primary_key=True),
        sa.Column("campaign_id", S, primary_key=True),
        sa.Column("campaign_version", sa.Integer, nullable=False),
        sa.Column("customer_id", S, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
    )
    # What a campaign paid, summed per campaign.
    op.create_index("ix_rules_awards_campaign", "rules_awards", ["merchant_id", "campaign_id"],
                    postgresql_include=["amount_minor", "reversed_minor"])
    op.create_index("ix_rules_event_awards_campaign", "rules_event_awards", ["merchant_id", "campaign_id"],
                    postgresql_include=["amount_minor"])
    for merchant_id, campaign_id in _budgeted_campaigns():
        op.get_bind().execute(sa.text(
            "UPDATE rules_campaigns SET budgeted = true WHERE merchant_id = :m AND campaign_id = :c"),
            {"m": merchant_id, "c": campaign_id})
    # budget_used counted every award so far; the award rows explain all but the
    # event awards, which had no rows: that rest is kept as paid_before.
    op.execute("""
        UPDATE rules_campaigns c SET paid_before = c.budget_used - coalesce((
            SELECT sum(a.amount_minor - a.reversed_minor) FROM rules_awards a
            WHERE a.merchant_id = c.merchant_id AND a.campaign_id = c.campaign_id), 0)""")
    op.execute(LOAD)


def downgrade() -> None:
    op.execute("DROP FUNCTION rules_score_load(text, text, bigint, text[], text[], text[], text, timestamptz[],"
               " timestamptz)")
    # The counters of campaigns without a budget were not kept: rebuild them.
    op.execute("""
        UPDATE rules_campaigns c SET budget_used = c.paid_before
            + coalesce((SELECT sum(a.amount_minor - a.reversed_minor) FROM rules_awards a
                        WHERE a.merchant_id = c.merchant_id AND a.campaign_id = c.campaign_id), 0)
            + coalesce((SELECT sum(e.amount_minor) FROM rules_event_awards e
                        WHERE e.merchant_id = c.merchant_id AND e.campaign_id = c.campaign_id), 0)
        WHERE NOT c.budgeted""")
    op.drop_index("ix_rules_awards_campaign", "rules_awards")
    op.drop_table("rules_event_awards")
    op.drop_column("rules_campaigns", "paid_before")
    op.drop_column("rules_campaigns", "budgeted")
