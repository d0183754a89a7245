"""Every lookup of wallet_load is bounded by its keys, whichever side of a join the plan reads first.

Since 0014 the load is planned once per connection, with the statistics of that moment. On a new
database that moment is tables of a few rows, and the plan then read each table first -- the
whole table, through its primary key (sequential scans being off) -- and matched the request's
customers against every row: a plan made for one row, kept while the table grew. On the credit
bench (grouped writes to 10,000 customers, from empty tables) the lock of a group read 2,718
customer rows to lock 21 (7.7 ms), and the document's customers, balances and lots likewise:
credit writes fell from ~1,300/s to ~930/s.

Each such lookup now also matches its table's key columns against the arrays of keys it was given
(`merchant_id = ANY(v_ms) AND customer_id = ANY(v_cs)`, `lot_id = ANY(<the lot ids>)`, ...), as
0011 did for the keys of records. Those are index conditions: read in either order, a table gives
only the requested customers' rows, whatever the plan was made for. What the function locks,
reads and returns is unchanged; 0014's settings are set again (CREATE OR REPLACE clears them).

Revision ID: 0015
Revises: 0014
"""

from alembic import op

from cashback_kit.migrations_env import earlier_revision, rewritten

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _mine(alias: str) -> str:
    return f"{alias}.merchant_id = ANY(v_ms) AND {alias}.customer_id = ANY(v_cs)"


_LOAD = [
    (
        "              JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc\n"
        "             ORDER BY 1, 2 FOR UPDATE OF c SKIP LOCKED) cu;",
        "              JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc\n"
        f"             WHERE {_mine('c')}\n"
        "             ORDER BY 1, 2 FOR UPDATE OF c SKIP LOCKED) cu;",
    ),
    (
        "      JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc\n"
        "     ORDER BY c.merchant_id, c.customer_id FOR UPDATE OF c;",
        "      JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc\n"
        f"     WHERE {_mine('c')}\n"
        "     ORDER BY c.merchant_id, c.customer_id FOR UPDATE OF c;",
    ),
    (
        "       WHERE h.status = 'active' AND h.expires_at <= v_now",
        f"       WHERE {_mine('h')} AND h.status = 'active' AND h.expires_at <= v_now",
    ),
    (
        "       WHERE v_order IS NOT NULL AND h.order_id = v_order AND h.status = 'captured'",
        f"       WHERE v_order IS NOT NULL AND {_mine('h')} AND h.order_id = v_order AND h.status = 'captured'",
    ),
    (
        "      SELECT h.* FROM hold_ids i JOIN wallet_holds h ON h.hold_id = i.hold_id\n"
        "        JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc\n",
        "      SELECT h.* FROM hold_ids i JOIN wallet_holds h ON h.hold_id = i.hold_id\n"
        "        JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc\n"
        "       WHERE h.hold_id = ANY(ARRAY(SELECT hold_id FROM hold_ids))\n",
    ),
    (
        "      SELECT a.* FROM holds h JOIN wallet_hold_allocations a ON a.hold_id = h.hold_id\n",
        "      SELECT a.* FROM holds h JOIN wallet_hold_allocations a ON a.hold_id = h.hold_id\n"
        "       WHERE a.hold_id = ANY(ARRAY(SELECT hold_id FROM holds))\n",
    ),
    (
        "       WHERE cardinality(v_spend) > 0 AND l.status = 'available'",
        f"       WHERE cardinality(v_spend) > 0 AND {_mine('l')} AND l.status = 'available'",
    ),
    (
        "       WHERE v_order IS NOT NULL AND l.order_id = v_order AND l.source = 'order'",
        f"       WHERE v_order IS NOT NULL AND {_mine('l')} AND l.order_id = v_order AND l.source = 'order'",
    ),
    (
        "      SELECT l.* FROM lot_ids i JOIN wallet_lots l ON l.lot_id = i.lot_id\n",
        "      SELECT l.* FROM lot_ids i JOIN wallet_lots l ON l.lot_id = i.lot_id\n"
        "       WHERE l.lot_id = ANY(ARRAY(SELECT lot_id FROM lot_ids))\n",
    ),
    (
        "t ON t.transaction_id = i.result_id WHERE i.scope = 'adjust'",
        "t ON t.transaction_id = i.result_id WHERE i.scope = 'adjust'\n"
        "         AND t.transaction_id = ANY(ARRAY(SELECT result_id FROM idem))",
    ),
    (
        "                      JOIN wallet_customers c ON c.merchant_id = k.km AND c.customer_id = k.kc),",
        "                      JOIN wallet_customers c ON c.merchant_id = k.km AND c.customer_id = k.kc\n"
        f"                     WHERE {_mine('c')}),",
    ),
    (
        "                     JOIN wallet_balances b ON b.merchant_id = k.km AND b.customer_id = k.kc),",
        "                     JOIN wallet_balances b ON b.merchant_id = k.km AND b.customer_id = k.kc\n"
        f"                    WHERE {_mine('b')}),",
    ),
]


def load() -> str:
    """This revision's wallet_load: 0011's, every lookup bounded by its keys."""
    return rewritten(str(earlier_revision(__file__, "0011_keyed_writes.py").load()), _LOAD)


def _settings() -> None:
    planned_once = earlier_revision(__file__, "0014_planned_once.py")
    for name, value in planned_once.SETTINGS:
        op.execute(f"ALTER FUNCTION wallet_load(jsonb) SET {name} = {value}")


def upgrade() -> None:
    op.execute(load())
    _settings()


def downgrade() -> None:
    op.execute(str(earlier_revision(__file__, "0011_keyed_writes.py").load()))
    _settings()
