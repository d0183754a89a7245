"""wallet_load is planned once per connection, and that plan reads every row through its key's index.

PL/pgSQL prepares each statement of a function once per connection, and for each call chooses
between a plan made for that call's values (custom) and one plan for any values (generic). It
keeps making custom plans while it estimates them cheaper than the generic one, and for
wallet_load's last statement (the one that reads the customer's holds, allocations, lots,
records and awards into the returned document) it always did: a custom plan drops every branch
the request does not ask for (no order, no lots to spend), which the generic plan keeps behind
one-time filters, so the generic plan's estimate never won. Planning that statement took longer
than running it.

Measured with pg_stat_statements (track = all, track_planning = on) on the checkout bench, one
order in flight, 10 campaigns: the statement was planned on every one of its 1,249 calls,
3.52 ms of planning per order against 0.56 ms of execution; wallet_load cost 1.2 ms a call,
5.97 ms an order, the largest single cost of an order in the whole stack.

Forcing the generic plan alone was not enough: estimated on tables of a few thousand rows, it
joined the lots to load by a hash join over a sequential scan of every lot (4,840 rows read for
one lot), and the balances likewise; execution went from 0.56 to 1.44 ms an order. Each of the
function's lookups is by key (migration 0011), so the function now also plans without sequential
scans, as the deferred balance check already does: 1.70 ms an order in all (from 5.97), the
statement's execution back at 0.54 ms.

wallet_write gets the same settings. Its statements were already planned once (PL/pgSQL settles
on a generic plan after five calls), but that plan was made with the statistics of the moment:
on a new database, tables of a few rows, where a sequential scan is the cheapest way to find a row.
It then stays the connection's plan while the table grows, until the next ANALYZE replaces it:
after a burst of 5,000 credits to other customers, each UPDATE of one lot read every lot
(auto_explain: Seq Scan on wallet_lots, 0.9 ms for one row). Each of its UPDATEs finds its rows by
primary key (0011), the only index on those columns, so without scans or hash joins the plan is
the primary key's whatever the statistics were.

The settings are the functions' own (ALTER FUNCTION ... SET): they apply while one runs and to
what it calls (wallet_settle_lots), and nowhere else. wallet_load_order and wallet_write_if
(RefundOrder) call these two and so get the same plans. What the functions read, lock, write and
return is unchanged.

Left as it is: a plan of wallet_load made on near-empty tables can still choose, among indexes
that all fit, one that does not lead with the customer (the spend walk on (status, expires_at)), and
keep it until the table is next analysed (autovacuum does as the table grows; the bench analyses
before its rows). docs/performance.md has the measurements.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from cashback_kit.migrations_env import PLANNED_ONCE, plan_once, plan_per_call

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FUNCTIONS = ("wallet_load(jsonb)", "wallet_write(jsonb)")
SETTINGS = PLANNED_ONCE  # (name, value) pairs


def upgrade() -> None:
    for statement in plan_once(*FUNCTIONS):
        op.execute(statement)


def downgrade() -> None:
    for statement in plan_per_call(*FUNCTIONS):
        op.execute(statement)
