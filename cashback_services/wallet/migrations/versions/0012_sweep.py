"""Expiry posts one ledger transaction per customer and currency, not one per lot.

wallet_settle_lots (0003, its checks rewritten in 0010) wrote, per lot whose credit
expired, an `expiry` transaction, its two entries and an `expired` event. A customer whose
ten lots of a campaign expire the same night got ten transactions, twenty entries (each an
FK check and, at commit, a call of the deferred balance trigger) and ten events, which made
the sweep of 1,000,000 lots ~6x a plain UPDATE of the same lots (issue 13, bench row 5).

Now one settle writes, per (merchant, customer, currency) with credit expiring:

- one `expiry` transaction of minus the sum, with the two entries customer:available -sum
  and merchant:breakage +sum;
- one `expired` event of the sum, `lot_count` the number of lots whose credit it covers;
  `lot_id` is that lot's when it covers one lot and empty otherwise, `expires_at` the
  latest expiry among them;
- `order_id` on both: the order the lots came from when they all came from one, else NULL.

Each lot still records its own `expired` amount, status and the rest; the balance row drops
by the sum as before. What the checks see is unchanged: the entries' deferred balance
trigger, the append-only trigger, the CHECKs and foreign keys all run, only fewer times.
Maturing is 0003's, untouched.

Revision ID: 0012
Revises: 0011
"""

from alembic import context, op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Where 0010's expiry part starts; everything from here to the end of the function is replaced.
_EXPIRY_MARK = "  -- Credit past its expiry"

_EXPIRY = """  -- Credit past its expiry: an available lot's remainder, or credit that came
  -- back (a released hold, a refund) to a lot that already expired. Each lot records
  -- what it lost; the ledger gets one transaction and one event per customer and currency.
  IF p_expire AND (EXISTS (
      SELECT 1 FROM unnest(p_ms, p_cs) AS k(m, c)
       WHERE (SELECT min(l.expires_at) FROM wallet_lots l
               WHERE l.merchant_id = k.m AND l.customer_id = k.c AND l.status = 'available') <= p_now) OR EXISTS (
      SELECT 1 FROM wallet_lots l JOIN unnest(p_ms, p_cs) AS k(m, c) ON l.merchant_id = k.m AND l.customer_id = k.c
       WHERE l.status = 'expired' AND l.remaining > 0)) THEN
    RETURN QUERY WITH k AS (SELECT * FROM unnest(p_ms, p_cs) AS k(m, c)),
    due AS MATERIALIZED (
      SELECT l.lot_id, l.merchant_id, l.customer_id, l.currency, l.order_id, l.expires_at, l.remaining AS amount
        FROM (SELECT l.* FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
               WHERE l.status = 'available' AND l.expires_at <= p_now
              UNION ALL
              SELECT l.* FROM wallet_lots l JOIN k ON l.merchant_id = k.m AND l.customer_id = k.c
               WHERE l.status = 'expired' AND l.remaining > 0) l
    ),
    lots AS (
      UPDATE wallet_lots l
         SET status = 'expired', expired = l.expired + d.amount, remaining = l.remaining - d.amount
        FROM due d WHERE l.lot_id = d.lot_id RETURNING 1
    ),
    grp AS MATERIALIZED (
      SELECT d.merchant_id, d.customer_id, d.currency, sum(d.amount) AS amount, count(*) AS lot_count,
             CASE WHEN count(*) = 1 THEN min(d.lot_id) END AS lot_id,
             CASE WHEN count(d.order_id) = count(*) AND min(d.order_id) = max(d.order_id)
                  THEN min(d.order_id) END AS order_id,
             max(d.expires_at) AS expires_at,
             'tx_' || replace(gen_random_uuid()::text, '-', '') AS tx_id,
             'ev_' || replace(gen_random_uuid()::text, '-', '') AS ev_id
        FROM due d WHERE d.amount > 0 GROUP BY 1, 2, 3
    ),
    txs AS (
      INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount,
                                       order_id, created_at)
      SELECT tx_id, g.merchant_id, g.customer_id, 'expiry', currency, -amount, order_id, p_now
        FROM grp g ORDER BY g.merchant_id, g.customer_id, g.currency
      RETURNING 1
    ),
    entries AS (
      INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
      SELECT g.tx_id, g.merchant_id, g.customer_id, a.account, g.currency, a.sign * g.amount
        FROM grp g CROSS JOIN (VALUES (1, 'customer:available', -1), (2, 'merchant:breakage', 1))
             AS a(ord, account, sign)
       ORDER BY g.merchant_id, g.customer_id, g.currency, a.ord
      RETURNING 1
    ),
    events AS (
      INSERT INTO wallet_events (event_id, type, merchant_id, customer_id, currency, amount, order_id, lot_id,
                                 transaction_id, expires_at, occurred_at, lot_count)
      SELECT ev_id, 'expired', g.merchant_id, g.customer_id, currency, amount, order_id, lot_id, tx_id,
             expires_at, p_now, lot_count
        FROM grp g ORDER BY g.merchant_id, g.customer_id, g.currency
      RETURNING 1
    ),
    balances AS (
      UPDATE wallet_balances b SET available = b.available - g.amount, updated_at = p_now
        FROM grp g
       WHERE b.merchant_id = g.merchant_id AND b.customer_id = g.customer_id AND b.currency = g.currency
      RETURNING 1
    ),
    settled AS (SELECT d.merchant_id, d.customer_id, count(*) AS n FROM due d GROUP BY 1, 2),
    posted AS (SELECT g.merchant_id, g.customer_id, count(*) AS n FROM grp g GROUP BY 1, 2)
    SELECT s.merchant_id, s.customer_id, 0::bigint, s.n, coalesce(p.n, 0)
      FROM settled s LEFT JOIN posted p ON p.merchant_id = s.merchant_id AND p.customer_id = s.customer_id;
  END IF;
END $fn$;
"""


def settle_lots_0010() -> str:
    """0010's wallet_settle_lots (CREATE OR REPLACE), from that revision's module: the downgrade
    restores it; the upgrade keeps everything before its expiry part."""
    return str(context.script.get_revision("0010").module.settle_lots())


def settle_lots() -> str:
    """This revision's wallet_settle_lots."""
    sql = settle_lots_0010()
    assert sql.count(_EXPIRY_MARK) == 1, "0010's wallet_settle_lots is not the text this migration rewrites"
    return sql[: sql.index(_EXPIRY_MARK)] + _EXPIRY


def upgrade() -> None:
    # Nullable without a default: a catalogue change, no table rewrite. NULL on every event
    # before this one and on every event that is not `expired`.
    op.execute("ALTER TABLE wallet_events ADD COLUMN lot_count integer")
    op.execute(settle_lots())


def downgrade() -> None:
    op.execute(settle_lots_0010())
    op.execute("ALTER TABLE wallet_events DROP COLUMN lot_count")
