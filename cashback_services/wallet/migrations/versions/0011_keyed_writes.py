"""Every row wallet_load and wallet_write find by key is found through its key's index.

Both functions take their rows as JSON arrays and join them to the tables:
`jsonb_array_elements(p->'idem') x JOIN wallet_idempotency i ON i.merchant_id = x->>0 ...`,
`UPDATE wallet_lots l ... FROM jsonb_populate_recordset(NULL::wallet_lots, p->'lots') r WHERE
l.lot_id = r.lot_id ...`. The planner cannot see into a JSON array and takes every such function
to return 100 rows; 100 index probes cost more than reading a table of a few thousand rows, so it
chose a hash join over a sequential scan of the whole table (auto_explain on the checkout bench:
`Seq Scan on wallet_idempotency (rows=7,420)` in every authorization's load, `Seq Scan on
wallet_lots (rows=7,673)` in every write). The cost grew with the tables, not with the customer:
one order at one in flight went from 20 ms to 38 ms after 7,000 credits to other customers. The
planner switches back to the index only once a table outgrows its estimate, and the statistics
lag the table after a burst.

Each lookup now names its keys in a form the planner can only serve from the index:

- in wallet_load, the idempotency records, the awards and the holds named by the request are
  LATERAL subqueries (LIMIT 1: a key matches one row; the LIMIT also keeps the subquery from being
  flattened back into a join), one primary-key probe per element;
- in wallet_write, each UPDATE ... FROM a JSON array also says `key = ANY(<the keys in the
  array>)`, which the primary key's index answers whatever the estimate of the array's length.

What the functions read and write is unchanged; so are the lock order, the checks and the triggers.

Revision ID: 0011
Revises: 0010
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _revision(name: str) -> ModuleType:
    """An earlier revision's module (a module whose name starts with a digit is loaded by path)."""
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"wallet_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replaced(sql: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        assert sql.count(old) == 1, f"the function is not the text this migration rewrites: {old[:60]!r}"
        sql = sql.replace(old, new)
    return sql


def _keys(array: str, key: str) -> str:
    return f"ARRAY(SELECT x->>'{key}' FROM jsonb_array_elements(p->'{array}') x)"


_LOAD = [
    (
        """      SELECT h.merchant_id, h.customer_id FROM jsonb_array_elements(coalesce(p->'holds', '[]')) x
        JOIN wallet_holds h ON h.hold_id = x->>1 AND h.merchant_id = x->>0""",
        """      SELECT h.merchant_id, h.customer_id FROM jsonb_array_elements(coalesce(p->'holds', '[]')) x
        CROSS JOIN LATERAL (SELECT h.merchant_id, h.customer_id FROM wallet_holds h
                             WHERE h.hold_id = x->>1 AND h.merchant_id = x->>0 LIMIT 1) h""",
    ),
    (
        """      SELECT i.* FROM jsonb_array_elements(coalesce(p->'idem', '[]')) x
        JOIN wallet_idempotency i ON i.merchant_id = x->>0 AND i.scope = x->>1 AND i.key = x->>2""",
        """      SELECT i.* FROM jsonb_array_elements(coalesce(p->'idem', '[]')) x
        CROSS JOIN LATERAL (SELECT * FROM wallet_idempotency i
                             WHERE i.merchant_id = x->>0 AND i.scope = x->>1 AND i.key = x->>2 LIMIT 1) i""",
    ),
    (
        "JOIN wallet_awards a ON a.merchant_id = x->>0 AND a.kind = x->>1 AND a.source_id = x->>2),",
        """CROSS JOIN LATERAL (SELECT * FROM wallet_awards a WHERE a.merchant_id = x->>0 AND a.kind = x->>1
                                          AND a.source_id = x->>2 LIMIT 1) a),""",
    ),
    # The customers' own rows: each customer of the call in turn (k, a handful), its rows through
    # the index on (merchant_id, customer_id, ...), never the table joined to k by a hash.
    (
        """    PERFORM 1 FROM wallet_customers c
      JOIN unnest(v_ms, v_cs) AS k(m, cc) ON c.merchant_id = k.m AND c.customer_id = k.cc
     ORDER BY c.merchant_id, c.customer_id FOR UPDATE OF c;""",
        """    -- k is in key order and each customer is locked in its turn: the same order as before.
    PERFORM 1 FROM unnest(v_ms, v_cs) AS k(m, cc)
      CROSS JOIN LATERAL (SELECT 1 FROM wallet_customers c WHERE c.merchant_id = k.m AND c.customer_id = k.cc
                           FOR UPDATE) c;""",
    ),
    (
        """      SELECT h.hold_id FROM wallet_holds h JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc
       WHERE h.status = 'active' AND h.expires_at <= v_now""",
        """      SELECT h.hold_id FROM k CROSS JOIN LATERAL (
        SELECT h.hold_id FROM wallet_holds h WHERE h.merchant_id = k.km AND h.customer_id = k.kc
           AND h.status = 'active' AND h.expires_at <= v_now OFFSET 0) h""",
    ),
    (
        """      UNION SELECT h.hold_id FROM wallet_holds h JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc
       WHERE v_order IS NOT NULL AND h.order_id = v_order AND h.status = 'captured'""",
        """      UNION SELECT h.hold_id FROM k CROSS JOIN LATERAL (
        SELECT h.hold_id FROM wallet_holds h WHERE v_order IS NOT NULL AND h.merchant_id = k.km
           AND h.customer_id = k.kc AND h.order_id = v_order AND h.status = 'captured' OFFSET 0) h""",
    ),
    (
        """      SELECT h.* FROM hold_ids i JOIN wallet_holds h ON h.hold_id = i.hold_id
        JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc""",
        """      SELECT h.* FROM hold_ids i CROSS JOIN LATERAL (SELECT * FROM wallet_holds h WHERE h.hold_id = i.hold_id
                                                      LIMIT 1) h
        JOIN k ON h.merchant_id = k.km AND h.customer_id = k.kc""",
    ),
    (
        """      SELECT a.* FROM holds h JOIN wallet_hold_allocations a ON a.hold_id = h.hold_id""",
        """      SELECT a.* FROM holds h CROSS JOIN LATERAL (SELECT * FROM wallet_hold_allocations a
                                                   WHERE a.hold_id = h.hold_id OFFSET 0) a""",
    ),
    (
        """      SELECT l.lot_id FROM wallet_lots l JOIN k ON l.merchant_id = k.km AND l.customer_id = k.kc
       WHERE cardinality(v_spend) > 0 AND l.status = 'available' AND l.currency = ANY(v_spend)
         AND l.remaining > 0 AND (l.expires_at IS NULL OR l.expires_at > v_now)""",
        """      SELECT l.lot_id FROM k CROSS JOIN LATERAL (
        SELECT l.lot_id FROM wallet_lots l WHERE cardinality(v_spend) > 0 AND l.merchant_id = k.km
           AND l.customer_id = k.kc AND l.status = 'available' AND l.currency = ANY(v_spend)
           AND l.remaining > 0 AND (l.expires_at IS NULL OR l.expires_at > v_now) OFFSET 0) l""",
    ),
    (
        """      UNION SELECT l.lot_id FROM wallet_lots l JOIN k ON l.merchant_id = k.km AND l.customer_id = k.kc
       WHERE v_order IS NOT NULL AND l.order_id = v_order AND l.source = 'order'""",
        """      UNION SELECT l.lot_id FROM k CROSS JOIN LATERAL (
        SELECT l.lot_id FROM wallet_lots l WHERE v_order IS NOT NULL AND l.merchant_id = k.km
           AND l.customer_id = k.kc AND l.order_id = v_order AND l.source = 'order' OFFSET 0) l""",
    ),
    (
        """      SELECT l.* FROM lot_ids i JOIN wallet_lots l ON l.lot_id = i.lot_id""",
        """      SELECT l.* FROM lot_ids i CROSS JOIN LATERAL (SELECT * FROM wallet_lots l WHERE l.lot_id = i.lot_id
                                                     LIMIT 1) l""",
    ),
    (
        """'customers', (SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') FROM k
                      JOIN wallet_customers c ON c.merchant_id = k.km AND c.customer_id = k.kc),""",
        """'customers', (SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') FROM k CROSS JOIN LATERAL (
                      SELECT * FROM wallet_customers c WHERE c.merchant_id = k.km AND c.customer_id = k.kc
                       LIMIT 1) c),""",
    ),
    (
        """'balances', (SELECT coalesce(jsonb_agg(to_jsonb(b)), '[]') FROM k
                     JOIN wallet_balances b ON b.merchant_id = k.km AND b.customer_id = k.kc),""",
        """'balances', (SELECT coalesce(jsonb_agg(to_jsonb(b)), '[]') FROM k CROSS JOIN LATERAL (
                     SELECT * FROM wallet_balances b WHERE b.merchant_id = k.km AND b.customer_id = k.kc
                      OFFSET 0) b),""",
    ),
]

_WRITE = [
    (
        "     WHERE l.lot_id = r.lot_id AND l.merchant_id = r.merchant_id AND l.customer_id = r.customer_id;",
        f"     WHERE l.lot_id = ANY({_keys('lots', 'lot_id')})\n"
        "       AND l.lot_id = r.lot_id AND l.merchant_id = r.merchant_id AND l.customer_id = r.customer_id;",
    ),
    (
        "     WHERE h.hold_id = r.hold_id AND h.merchant_id = r.merchant_id AND h.customer_id = r.customer_id;",
        f"     WHERE h.hold_id = ANY({_keys('holds', 'hold_id')})\n"
        "       AND h.hold_id = r.hold_id AND h.merchant_id = r.merchant_id AND h.customer_id = r.customer_id;",
    ),
    (
        "     WHERE a.hold_id = r.hold_id AND a.lot_id = r.lot_id AND a.merchant_id = r.merchant_id",
        f"     WHERE a.hold_id = ANY({_keys('allocations', 'hold_id')})\n"
        "       AND a.hold_id = r.hold_id AND a.lot_id = r.lot_id AND a.merchant_id = r.merchant_id",
    ),
    (
        "     WHERE c.merchant_id = r.merchant_id AND c.customer_id = r.customer_id;",
        f"     WHERE c.merchant_id = ANY({_keys('customers', 'merchant_id')})\n"
        f"       AND c.customer_id = ANY({_keys('customers', 'customer_id')})\n"
        "       AND c.merchant_id = r.merchant_id AND c.customer_id = r.customer_id;",
    ),
    (
        "     WHERE a.merchant_id = r.merchant_id AND a.kind = r.kind AND a.source_id = r.source_id;",
        f"     WHERE a.merchant_id = ANY({_keys('awards', 'merchant_id')})\n"
        f"       AND a.kind = ANY({_keys('awards', 'kind')})\n"
        f"       AND a.source_id = ANY({_keys('awards', 'source_id')})\n"
        "       AND a.merchant_id = r.merchant_id AND a.kind = r.kind AND a.source_id = r.source_id;",
    ),
]


def _previous() -> tuple[str, str]:
    """(wallet_load of 0009, wallet_write of 0003), as CREATE OR REPLACE."""
    load = str(_revision("0009_perf.py").LOAD)
    write = str(_revision("0003_aggregate.py").WRITE).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    return load, write


def load() -> str:
    """This revision's wallet_load."""
    return _replaced(_previous()[0], _LOAD)


def write() -> str:
    """This revision's wallet_write."""
    return _replaced(_previous()[1], _WRITE)


def upgrade() -> None:
    op.execute(load())
    op.execute(write())


def downgrade() -> None:
    for sql in _previous():
        op.execute(sql)
