"""wallet_load is planned once per connection, and that one plan reads by key however small the
tables (migration 0014). Counted by PostgreSQL itself, on a cluster of this module's own with
pg_stat_statements loaded: how many times each statement inside the function was planned, and
the rows each call read from each table.

Before 0014 PL/pgSQL re-planned the function's last statement on every call (its custom plans
always looked cheaper than one generic plan), and planning it cost more than running it: 3.5 ms
of an order's ~14 ms at one order in flight on the checkout bench."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from cashback_kit.db import Database
from cashback_kit.pgtx import connection
from cashback_services.wallet.main import MIGRATIONS
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.support.pgcluster import PgCluster
from tests.support.plan_counts import plans, start_counting
from tests.wallet.conftest import Clock
from tests.wallet.helpers import C, M, credit, hold, key
from tests.wallet.test_keyed_writes import _OTHERS, grown_tables, rows_read

CALLS = 20


def _others(table: str) -> str:
    """test_keyed_writes' insert of `$2` rows of other customers into `table`."""
    return next(sql for sql in _OTHERS if f"INTO {table} " in sql)


@pytest.fixture
async def counted(counted_cluster: PgCluster) -> AsyncIterator[WalletService]:
    db = Database(counted_cluster.new_database_url())
    await db.migrate(MIGRATIONS, "wallet_alembic_version")
    try:
        yield WalletService(db, None, clock=Clock())
    finally:
        await db.dispose()


def _request(wallet: WalletService, hold_id: str, idem: str) -> str:
    """An authorization's and a capture's load in one: a key, a hold, spendable lots."""
    return json.dumps({"now": wallet.clock().isoformat(), "customers": [[M, C]], "idem": [[M, "authorize", idem]],
                       "holds": [[M, hold_id]], "spend_upto": [[M, C, "SAR", 100]]})


async def test_each_statement_of_the_load_is_planned_once_per_connection(counted: WalletService) -> None:
    await credit(counted, 1000)
    held = await hold(counted, 100)
    async with connection(counted.db) as s:
        await start_counting(s)
        for _ in range(CALLS):
            loaded = json.loads(await s.fetchval("SELECT wallet_load($1::jsonb)::text", _request(counted, held.hold_id,
                                                                                                 key())))
            assert [h["hold_id"] for h in loaded["holds"]] == [held.hold_id]
        statements = await plans(s, CALLS)
    document = [q for q in statements if "jsonb_build_object" in q or "WITH k AS" in q]
    assert document, list(statements)  # the statement that builds what the load returns
    # One plan for the connection, reused by every call; before 0014 the last statement had CALLS plans.
    assert {q: n for q, (_, n) in statements.items() if n > 1} == {}


async def test_the_one_plan_reads_by_key_on_small_tables(counted: WalletService) -> None:
    """The generic plan is made for any values, with the estimates of the day: on tables of a few
    hundred rows a hash join over a sequential scan looks cheaper than a probe per key. The load
    never scans: it reads the customer's one lot and one balance through their indexes."""
    async with grown_tables(counted, others=300) as (s, idem, hold_id):
        doc = json.dumps({"now": counted.clock().isoformat(), "customers": [[M, C]], "idem": [[M, "adjust", idem]],
                          "holds": [[M, hold_id]], "spend": ["SAR"]})
        for _ in range(6):  # past the calls in which PL/pgSQL may still try custom plans
            await s.fetchval("SELECT wallet_load($1::jsonb)::text", doc)
        loaded, read = await rows_read(s, "SELECT wallet_load($1::jsonb)::text", doc)
    got = json.loads(str(loaded))
    assert len(got["lots"]) == 1 and [b["customer_id"] for b in got["balances"]] == [C]
    assert read["wallet_lots"] <= 4  # 300 with a sequential scan
    assert read["wallet_balances"] <= 2
    assert read["wallet_idempotency"] == 1
    assert read["wallet_customers"] <= 3


async def test_the_write_made_on_a_new_database_still_updates_by_key_once_the_tables_grow(
        counted: WalletService) -> None:
    """A connection's plan of wallet_write made while the tables held a few rows (a sequential scan
    was then the cheapest plan) is kept as they grow, until an ANALYZE. Without scans or hash joins
    that plan is the primary key's: updating one lot reads one lot, not every lot."""
    await credit(counted, 1000)
    async with connection(counted.db) as s:
        for table in ("wallet_lots", "wallet_holds", "wallet_customers"):  # no ANALYZE behind the test's back
            await s.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        lots = await s.fetchval("SELECT jsonb_agg(to_jsonb(l)) FROM wallet_lots l WHERE customer_id = $1", C)
        doc = json.dumps({"now": counted.clock().isoformat(), "lots": json.loads(lots)})
        for _ in range(CALLS):  # planned now, on tables of one lot
            await s.fetchval("SELECT wallet_write($1::jsonb)", doc)
        await s.execute(_others("wallet_lots"), M, 3000)
        await s.execute("BEGIN")
        try:
            _, read = await rows_read(s, "SELECT wallet_write($1::jsonb)", doc)
        finally:
            await s.execute("ROLLBACK")
    assert read["wallet_lots"] <= 2  # 3,001 through the plan made on the small table


async def test_a_group_load_planned_on_a_new_database_reads_only_its_customers_once_the_tables_grow(
        counted: WalletService) -> None:
    """A group's load (the credits' group commit: many customers in one call) planned while the tables
    held a few rows read each table first, whole, and matched the group against every row (migration
    0015): the lock of 21 customers read 2,718 customer rows on the credit bench. Each lookup is now
    bounded by the group's keys, whichever side the plan reads first."""
    group = [C, *(f"g{i}" for i in range(1, 20))]
    for customer in group:
        await credit(counted, 100, customer=customer)
    doc = json.dumps({"now": counted.clock().isoformat(), "customers": [[M, c] for c in group]})
    async with connection(counted.db) as s:
        for table in ("wallet_customers", "wallet_balances", "wallet_lots"):  # no ANALYZE behind the test's back
            await s.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        for _ in range(CALLS):  # planned now, on tables of a few rows
            await s.fetchval("SELECT wallet_load($1::jsonb)::text", doc)
        for table in ("wallet_customers", "wallet_balances"):
            await s.execute(_others(table), M, 3000)
        await s.execute("BEGIN")
        try:
            loaded, read = await rows_read(s, "SELECT wallet_load($1::jsonb)::text", doc)
        finally:
            await s.execute("ROLLBACK")
    got = json.loads(str(loaded))
    assert sorted(c["customer_id"] for c in got["customers"]) == sorted(group)
    assert len(got["balances"]) == len(group)
    # A few index entries per customer of the group (created if new, locked, loaded); 3,000 more each
    # through a plan that reads the table first.
    assert read["wallet_customers"] <= 3 * len(group)
    assert read["wallet_balances"] <= 2 * len(group)
    assert read["wallet_lots"] <= 4 * len(group)



_AVAILABLE_LOTS = """
    INSERT INTO wallet_lots (lot_id, merchant_id, customer_id, currency, source, amount, remaining, held, spent,
                             expired, reversed, debited, status, available_at, created_at)
    SELECT $3 || i, $1, 'other-' || (i % 100), 'SAR', 'order', 100, 100, 0, 0, 0, 0, 0, 'available', now(), now()
      FROM generate_series(1, $2) i"""


async def test_the_spend_walk_planned_on_a_new_database_reads_only_the_customers_lots_once_the_table_grows(
        counted: WalletService) -> None:
    """An authorization walks the customer's spendable lots in spend order. On the checkout bench the walk
    was planned after the first few hundred awards, before the table was ever analysed, and took the sweep's
    index of due lots (status, expires_at) with a sort -- every available lot of every customer -- and
    kept it as the table grew (0.47 -> 4.3 ms an order after a burst of credits). Migration 0016 makes the
    due indexes partial on what their queries always say, which the walk does not imply."""
    await credit(counted, 1000)
    held = await hold(counted, 100)
    async with connection(counted.db) as s:
        await s.execute("ALTER TABLE wallet_lots SET (autovacuum_enabled = false)")
        await s.execute(_AVAILABLE_LOTS, M, 800, "first-")  # never analysed, as on the bench
        for _ in range(CALLS):  # planned now
            await s.fetchval("SELECT wallet_load($1::jsonb)::text", _request(counted, held.hold_id, key()))
        await s.execute(_AVAILABLE_LOTS, M, 5000, "burst-")
        await s.execute("BEGIN")
        try:
            loaded, read = await rows_read(s, "SELECT wallet_load($1::jsonb)::text",
                                           _request(counted, held.hold_id, key()))
        finally:
            await s.execute("ROLLBACK")
    assert [lot["customer_id"] for lot in json.loads(str(loaded))["lots"]] == [C]
    assert read["wallet_lots"] <= 6  # the walk, the due checks, the load by id; 5,801 through the due index
