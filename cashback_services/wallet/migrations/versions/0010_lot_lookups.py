"""The "is any lot past its expiry?" checks are lookups, however many lots a customer has.

Two checks ran on every write or balance read and walked every available lot of the
customer through ix_wallet_lots_customer (merchant, customer, status), filtering on
expires_at: GetBalance's "anything due?" (adapters/customer_reads.py) and the expiry check
of wallet_settle_lots (0003), `(status = 'available' AND expires_at <= now) OR (status =
'expired' AND remaining > 0)`, an OR over two statuses that no single index serves. A
customer who earns on every order gathers available lots (spent ones stay available with
nothing remaining until they expire), so both grew with history.

- ix_wallet_lots_available_expiry (merchant, customer, expires_at) WHERE status =
  'available': "an available lot expired by now" reads only the lots already past expiry,
  which are none between settlements.
- wallet_settle_lots asks its two questions separately, each answered by its own index: per
  customer, is the earliest expiry of an available lot past (the first entry of the new index;
  the minimum, not an EXISTS, because for a customer with many lots the planner takes "this
  customer" and "expired" as independent, expects an early hit and scans the table), and is
  there credit that came back to an expired lot (0003's ix_wallet_lots_expired_credit). It
  collects the lots to expire the same way (UNION ALL of the two; a lot has one status, so no
  lot comes twice). Everything else in the function is 0003's, so what it writes is unchanged.
- GetBalance's check (adapters/customer_reads.py) is the same minimum.

Revision ID: 0010
Revises: 0009
"""

from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OLD_CHECK = """IF p_expire AND EXISTS (
      SELECT 1 FROM wallet_lots l JOIN unnest(p_ms, p_cs) AS k(m, c) ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE (l.status = 'available' AND l.expires_at <= p_now) OR (l.status = 'expired' AND l.remaining > 0)) THEN"""
_NEW_CHECK = """IF p_expire AND (EXISTS (
      SELECT 1 FROM unnest(p_ms, p_cs) AS k(m, c)
       WHERE (SELECT min(l.expires_at) FROM wallet_lots l
               WHERE l.merchant_id = k.m AND l.customer_id = k.c AND l.status = 'available') <= p_now) OR EXISTS (
      SELECT 1 FROM wallet_lots l JOIN unnest(p_ms, p_cs) AS k(m, c) ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE l.status = 'expired' AND l.remaining > 0)) THEN"""

_OLD_DUE = """        FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE (l.status = 'available' AND l.expires_at <= p_now) OR (l.status = 'expired' AND l.remaining > 0)
    ),"""
_NEW_DUE = """        FROM (SELECT l.* FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
               WHERE l.status = 'available' AND l.expires_at <= p_now
              UNION ALL
              SELECT l.* FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
               WHERE l.status = 'expired' AND l.remaining > 0) l
    ),"""


def _replaced_once(sql: str, old: str, new: str) -> str:
    assert sql.count(old) == 1, "0003's wallet_settle_lots is not the text this migration rewrites"
    return sql.replace(old, new)


def _settle_lots_0003() -> str:
    """0003's wallet_settle_lots as CREATE OR REPLACE, from that revision's module. The downgrade restores
    it; the upgrade rewrites only its expiry check and the lots it collects."""
    module = context.script.get_revision("0003").module
    return str(module.SETTLE_LOTS).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def settle_lots() -> str:
    """This revision's wallet_settle_lots."""
    sql = _replaced_once(_settle_lots_0003(), _OLD_CHECK, _NEW_CHECK)
    return _replaced_once(sql, _OLD_DUE, _NEW_DUE)


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_wallet_lots_available_expiry ON wallet_lots (merchant_id, customer_id, expires_at) "
        "WHERE status = 'available'"
    )
    op.execute(settle_lots())


def downgrade() -> None:
    op.execute(_settle_lots_0003())
    op.execute("DROP INDEX IF EXISTS ix_wallet_lots_available_expiry")
