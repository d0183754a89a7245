"""rules_score_load and rules_score_load_events planned once per connection, by key.

The wallet's loads had this fix in its migration 0014; rules' two loads had the same problem.
PL/pgSQL prepares each statement of a function once per connection, and for each call picks
either a plan for that call's values (custom) or one plan for any values (generic). It keeps
making custom plans while they look cheaper than the generic one, and for some of these
statements they always do. Counted with pg_stat_statements (track = all, track_planning = on) on
the checkout bench, one order in flight:

- the order load's day-usage read was planned on every one of its 495 calls: 0.082 ms of
  planning per order against 0.037 ms of running it;
- in tests/rules/test_score_load_plans.py, the tier-window spend sum of both functions was
  planned on all of 20 calls; every other statement was planned 6 times (five custom plans, then
  the generic one).

Both functions now force the generic plan. They also plan without sequential scans, hash joins or
merge joins, as the wallet's do. A generic plan is made with the statistics of the moment: on a
new database's near-empty tables a scan is the cheapest way to find a row, and the plan would
keep reading whole tables as they grow until the next ANALYZE. Every lookup here is by a key
that has an index:

- rules_merchants, rules_orders, rules_events, rules_customers, rules_customer_rfm: primary keys;
- rules_campaigns: (merchant_id, campaign_id);
- usage and day usage: primary keys, merchant_id first and then campaign_id = ANY;
- spend: ix_rules_orders_customer_placed.

The settings are the functions' own (ALTER FUNCTION ... SET): they apply while a function runs, and
nowhere else. What the functions read, lock and return is unchanged.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from cashback_kit.migrations_env import plan_once, plan_per_call

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FUNCTIONS = (
    "rules_score_load(text, text, text, text, bigint, text[], text[], text[], text, timestamptz[], timestamptz)",
    "rules_score_load_events(text, text[], text[], text[], text[], text[], text, timestamptz[], int[], timestamptz[])",
)


def upgrade() -> None:
    for statement in plan_once(*FUNCTIONS):
        op.execute(statement)


def downgrade() -> None:
    for statement in plan_per_call(*FUNCTIONS):
        op.execute(statement)
