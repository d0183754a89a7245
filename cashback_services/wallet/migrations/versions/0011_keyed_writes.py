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

from types import ModuleType

from alembic import op

from cashback_kit.migrations_env import earlier_revision, rewritten

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _revision(name: str) -> ModuleType:
    """An earlier revision's module."""
    return earlier_revision(__file__, name)


def _keys(array: str, key: str | int, *, default: bool = False) -> str:
    """The array's elements' `key` (a field name, or a position), as an SQL array."""
    elements = f"coalesce(p->'{array}', '[]')" if default else f"p->'{array}'"
    field = key if isinstance(key, int) else f"'{key}'"
    return f"ARRAY(SELECT x->>{field} FROM jsonb_array_elements({elements}) x)"


_LOAD = [
    (
        """        JOIN wallet_holds h ON h.hold_id = x->>1 AND h.merchant_id = x->>0
    ) o;""",
        """        JOIN wallet_holds h ON h.hold_id = x->>1 AND h.merchant_id = x->>0
       WHERE h.hold_id = ANY(v_holds)
    ) o;""",
    ),
    (
        """        JOIN wallet_idempotency i ON i.merchant_id = x->>0 AND i.scope = x->>1 AND i.key = x->>2
    ),""",
        f"""        JOIN wallet_idempotency i ON i.merchant_id = x->>0 AND i.scope = x->>1 AND i.key = x->>2
       WHERE i.merchant_id = ANY({_keys('idem', 0, default=True)}) AND i.scope = ANY({_keys('idem', 1, default=True)})
         AND i.key = ANY({_keys('idem', 2, default=True)})
    ),""",
    ),
    (
        "JOIN wallet_awards a ON a.merchant_id = x->>0 AND a.kind = x->>1 AND a.source_id = x->>2),",
        "JOIN wallet_awards a ON a.merchant_id = x->>0 AND a.kind = x->>1 AND a.source_id = x->>2\n"
        f"                  WHERE a.merchant_id = ANY({_keys('awards', 0, default=True)})\n"
        f"                    AND a.kind = ANY({_keys('awards', 1, default=True)})\n"
        f"                    AND a.source_id = ANY({_keys('awards', 2, default=True)})),",
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
    return rewritten(_previous()[0], _LOAD)


def write() -> str:
    """This revision's wallet_write."""
    return rewritten(_previous()[1], _WRITE)


# The deferred balance check runs at COMMIT for every entry row: the sum of the entry's transaction,
# by ix_wallet_entries_tx. A plan made while wallet_entries was small is a sequential scan, and it
# stays that plan as the table grows until autovacuum analyses it (auto_explain on the credit bench:
# 12,266 checks at 0.2 ms each, a scan of every entry each time). One index read is the only plan
# this statement should ever have.
BALANCE_CHECK_BY_INDEX = "ALTER FUNCTION wallet_entries_balanced() SET enable_seqscan = off"


def upgrade() -> None:
    op.execute(load())
    op.execute(write())
    op.execute(BALANCE_CHECK_BY_INDEX)


def downgrade() -> None:
    op.execute("ALTER FUNCTION wallet_entries_balanced() RESET enable_seqscan")
    for sql in _previous():
        op.execute(sql)
