"""wallet_load and wallet_write find every row they are given by its key through the key's index
(migration 0011). Counted by PostgreSQL itself: the rows each call read from each table, from the
transaction's own statistics, on a real database whose tables hold thousands of rows of other
customers, with current statistics. Before 0011 the planner, taking each JSON array of keys for
100 rows, read these tables whole through a hash join: cheaper, by its estimate, than 100 index
probes into a table of a few thousand rows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from cashback_kit.pgtx import Statements, connection
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.helpers import C, M, credit, hold, key

OTHERS = 5000
TABLES = (
    "wallet_idempotency",
    "wallet_awards",
    "wallet_holds",
    "wallet_hold_allocations",
    "wallet_lots",
    "wallet_customers",
    "wallet_balances",
)

_READ = """
    SELECT coalesce((SELECT seq_tup_read FROM pg_stat_xact_user_tables WHERE relname = $1), 0)
         + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) FROM pg_index
             WHERE indrelid = $1::regclass)
"""

# Thousands of rows of other customers in every table the functions look rows up in.
_OTHERS = [
    """INSERT INTO wallet_customers (merchant_id, customer_id, created_at)
       SELECT $1, 'other-' || i, now() FROM generate_series(1, $2) i""",
    """INSERT INTO wallet_balances (merchant_id, customer_id, currency, available, pending, held, debt, updated_at)
       SELECT $1, 'other-' || i, 'SAR', 100, 0, 0, 0, now() FROM generate_series(1, $2) i""",
    """INSERT INTO wallet_idempotency (merchant_id, scope, key, customer_id, fingerprint, result_id, created_at)
       SELECT $1, 'adjust', 'k-' || i, 'other-' || i, 'fp', 'tx-' || i, now() FROM generate_series(1, $2) i""",
    """INSERT INTO wallet_awards (merchant_id, kind, source_id, customer_id, fingerprint, score, currency, earned,
                                  credited, debt_repaid, base, refunded, credit_returned, placed_at, created_at)
       SELECT $1, 'order', 'o-' || i, 'other-' || i, 'fp', '\\x00', 'SAR', 1, 1, 0, 100, 0, 0, now(), now()
         FROM generate_series(1, $2) i""",
    """INSERT INTO wallet_lots (lot_id, merchant_id, customer_id, currency, source, amount, remaining, held, spent,
                                expired, reversed, debited, status, available_at, created_at)
       SELECT 'lot-' || i, $1, 'other-' || i, 'SAR', 'adjustment', 100, 100, 0, 0, 0, 0, 0, 'available', now(),
              now() FROM generate_series(1, $2) i""",
    """INSERT INTO wallet_holds (hold_id, merchant_id, customer_id, order_id, currency, amount, captured, status,
                                 expires_at, created_at)
       SELECT 'hold-' || i, $1, 'other-' || i, 'o-' || i, 'SAR', 1, 0, 'captured', now(), now()
         FROM generate_series(1, $2) i""",
    """INSERT INTO wallet_hold_allocations (hold_id, lot_id, merchant_id, customer_id, seq, amount, captured,
                                            returned)
       SELECT 'hold-' || i, 'lot-' || i, $1, 'other-' || i, 0, 1, 0, 0 FROM generate_series(1, $2) i""",
]


@asynccontextmanager
async def grown_tables(wallet: WalletService, others: int = OTHERS) -> AsyncIterator[tuple[Statements, str, str]]:
    """A transaction (rolled back at the end) in which every table has `others` rows of other customers,
    analysed. Yields it, the customer's adjustment key and hold id."""
    idem = key()
    await credit(wallet, 1000)
    held = await hold(wallet, 100)
    async with connection(wallet.db) as s:
        await s.execute("BEGIN")
        try:
            for sql in _OTHERS:
                await s.execute(sql, M, others)
            await s.execute(f"ANALYZE {', '.join(TABLES)}")
            await s.execute(
                "INSERT INTO wallet_idempotency (merchant_id, scope, key, customer_id, fingerprint, result_id,"
                " created_at) VALUES ($1, 'adjust', $2, $3, 'fp', NULL, now())",
                M,
                idem,
                C,
            )
            yield s, idem, held.hold_id
        finally:
            await s.execute("ROLLBACK")


async def rows_read(s: Statements, sql: str, *args: object) -> tuple[object, dict[str, int]]:
    """The statement's value, and the rows it read from each of TABLES."""
    before = {t: int(await s.fetchval(_READ, t)) for t in TABLES}
    value = await s.fetchval(sql, *args)
    return value, {t: int(await s.fetchval(_READ, t)) - before[t] for t in TABLES}


# PL/pgSQL plans a statement for its values first, then may keep one plan for any values. (wallet_load
# now sets its own plan_cache_mode, migration 0014, so there both runs check its one generic plan.)
@pytest.mark.parametrize("plans", ["force_custom_plan", "force_generic_plan"])
async def test_the_load_finds_keys_holds_and_awards_by_index(wallet: WalletService, plans: str) -> None:
    async with grown_tables(wallet) as (s, idem, hold_id):
        await s.execute(f"SET LOCAL plan_cache_mode = {plans}")
        doc = {
            "now": wallet.clock().isoformat(),
            "customers": [[M, C]],
            "idem": [[M, "adjust", idem]],
            "holds": [[M, hold_id]],
            "awards": [[M, "order", "o-17"]],
            "spend": ["SAR"],
        }
        loaded, read = await rows_read(s, "SELECT wallet_load($1::jsonb)::text", json.dumps(doc))
    got = json.loads(str(loaded))
    assert [i["key"] for i in got["idem"]] == [idem]
    assert [h["hold_id"] for h in got["holds"]] == [hold_id]
    assert [a["source_id"] for a in got["awards"]] == ["o-17"]
    # One index entry per key; before 0011 each was a hash join over the whole table (OTHERS rows).
    assert read["wallet_idempotency"] == 1
    assert read["wallet_awards"] == 1
    assert read["wallet_holds"] <= 3  # the hold named, the customer's active holds, its owner
    # And the customer's own rows through the customer's index entries.
    assert [b["customer_id"] for b in got["balances"]] == [C]
    assert read["wallet_customers"] <= 3  # created if new, locked, loaded
    assert read["wallet_balances"] <= 2
    assert [b["customer_id"] for b in got["balances"]] == [C]
    assert len(got["lots"]) == 1 and len(got["allocations"]) == 1
    assert read["wallet_lots"] <= 4  # its one lot: two due checks, the spend walk, the load by id
    assert read["wallet_hold_allocations"] <= 3


@pytest.mark.parametrize("plans", ["force_custom_plan", "force_generic_plan"])
async def test_the_write_updates_each_row_through_its_key(wallet: WalletService, plans: str) -> None:
    async with grown_tables(wallet) as (s, _idem, hold_id):
        await s.execute(f"SET LOCAL plan_cache_mode = {plans}")
        rows = {
            "lots": await s.fetchval("SELECT jsonb_agg(to_jsonb(l)) FROM wallet_lots l WHERE customer_id = $1", C),
            "holds": await s.fetchval("SELECT jsonb_agg(to_jsonb(h)) FROM wallet_holds h WHERE hold_id = $1", hold_id),
            "allocations": await s.fetchval(
                "SELECT jsonb_agg(to_jsonb(a)) FROM wallet_hold_allocations a WHERE hold_id = $1", hold_id
            ),
            "customers": await s.fetchval(
                "SELECT jsonb_agg(to_jsonb(c)) FROM wallet_customers c WHERE customer_id = $1", C
            ),
            "awards": await s.fetchval(
                "SELECT jsonb_agg(to_jsonb(a) || '{\"refunded\": 7}') FROM wallet_awards a WHERE source_id = 'o-9'"
            ),
        }
        doc = {"now": wallet.clock().isoformat(), **{k: json.loads(v) for k, v in rows.items()}}
        _, read = await rows_read(s, "SELECT wallet_write($1::jsonb)", json.dumps(doc))
        refunded = await s.fetchval("SELECT refunded FROM wallet_awards WHERE source_id = 'o-9'")
    assert refunded == 7  # the write took effect
    # Each UPDATE reached its rows through the primary key; before 0011, whole tables.
    assert read["wallet_lots"] <= 2 * len(json.loads(rows["lots"]))
    assert read["wallet_holds"] <= 2
    assert read["wallet_hold_allocations"] <= 3
    assert read["wallet_customers"] <= 2
    assert read["wallet_awards"] <= 2


async def test_the_deferred_balance_check_never_scans_and_still_refuses(wallet: WalletService) -> None:
    """The check runs for every entry row at COMMIT: the sum of the entry's transaction. A plan made
    while wallet_entries was small is a sequential scan, and a backend keeps it as the table grows until
    autovacuum analyses the table (the credit bench: 12,266 checks at 0.2 ms, each reading every entry;
    credit writes doubled without it, docs/performance.md). The function never plans a scan now -- and
    still refuses an unbalanced transaction."""
    await credit(wallet, 1000)
    async with connection(wallet.db) as s:
        config = await s.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'wallet_entries_balanced'")
        await s.execute("BEGIN")
        try:
            await s.execute(
                "INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount,"
                " created_at) VALUES ('tx-odd', $1, $2, 'adjustment', 'SAR', 5, now())",
                M,
                C,
            )
            await s.execute(
                "INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)"
                " VALUES ('tx-odd', $1, $2, 'customer:available', 'SAR', 5)",
                M,
                C,
            )
            with pytest.raises(asyncpg.CheckViolationError, match="unbalanced"):
                await s.execute("SET CONSTRAINTS ALL IMMEDIATE")
        finally:
            await s.execute("ROLLBACK")
    assert config == ["enable_seqscan=off"]
