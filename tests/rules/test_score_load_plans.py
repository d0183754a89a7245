"""rules_score_load() and rules_score_load_events() (migration 0008) find every row they are given
by its key's index. Counted by PostgreSQL itself: the rows each call read from each table, from the
transaction's own statistics, on a real database whose tables hold thousands of rows of other
customers, analysed, over enough calls that PL/pgSQL may switch to a generic plan (in which an
array parameter is 100 rows and a hash join over a whole table of a few thousand rows looks cheaper
than 100 index probes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cashback_kit.db import Database
from cashback_kit.pgtx import Statements, connection
from cashback_services.rules.main import MIGRATIONS
from tests.support.pgcluster import PgCluster
from tests.support.plan_counts import plans, start_counting
from tests.support.servers import ServiceHandle

pytestmark = pytest.mark.postgres
M, OTHERS, CALLS = "m1", 5000, 8
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = ("rules_events", "rules_customers", "rules_customer_usage", "rules_customer_day_usage",
          "rules_customer_rfm", "rules_orders")

_READ = """
    SELECT coalesce((SELECT seq_tup_read FROM pg_stat_xact_user_tables WHERE relname = $1), 0)
         + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) FROM pg_index
             WHERE indrelid = $1::regclass)
"""

# Thousands of rows of other customers in every table the functions look rows up in.
_OTHERS = [
    "INSERT INTO rules_customers (merchant_id, customer_id, manual_tier, order_count)"
    " SELECT $1, 'other-' || i, '', 1 FROM generate_series(1, $2) i",
    "INSERT INTO rules_events (merchant_id, event_id, customer_id, fingerprint, score_body, created_at)"
    " SELECT $1, 'ev-' || i, 'other-' || i, 'fp', '\\x00', now() FROM generate_series(1, $2) i",
    "INSERT INTO rules_customer_usage (merchant_id, campaign_id, customer_id, amount_minor, award_count)"
    " SELECT $1, 'rev', 'other-' || i, 100, 1 FROM generate_series(1, $2) i",
    "INSERT INTO rules_customer_day_usage (merchant_id, campaign_id, customer_id, local_day, award_count)"
    " SELECT $1, 'rev', 'other-' || i, '2026-03-01', 1 FROM generate_series(1, $2) i",
    "INSERT INTO rules_customer_rfm (merchant_id, customer_id, last_order_at, orders, spend_minor, recency,"
    " frequency, monetary, segment) SELECT $1, 'other-' || i, now(), 1, 100, 1, 1, 1, 'new'"
    " FROM generate_series(1, $2) i",
    "INSERT INTO rules_orders (merchant_id, order_id, customer_id, placed_at, currency, merchandise_minor,"
    " refunded_minor, fully_refunded, fingerprint, order_body, score_body, created_at)"
    " SELECT $1, 'o-' || i, 'other-' || i, $3, 'SAR', 100, 0, false, 'fp', '\\x00', NULL, now()"
    " FROM generate_series(1, $2) i",
]


async def _grow(s: Statements) -> None:
    for sql in _OTHERS[:-1]:
        await s.execute(sql, M, OTHERS)
    await s.execute(_OTHERS[-1], M, OTHERS, AT - timedelta(days=1))
    await s.execute(f"ANALYZE {', '.join(TABLES)}")


async def _read(s: Statements) -> dict[str, int]:
    return {t: int(await s.fetchval(_READ, t)) for t in TABLES}


async def _rows_read(rules: ServiceHandle, sql: str, args: Sequence[Sequence[object]]) -> dict[str, float]:
    """The rows read from each table per call, over calls with each of `args`, in a transaction
    (rolled back) in which the tables have grown."""
    async with connection(rules.db) as s:
        await s.execute("BEGIN")
        try:
            await _grow(s)
            before = await _read(s)
            for a in args:
                await s.fetch(sql, *a)
            after = await _read(s)
        finally:
            await s.execute("ROLLBACK")
    return {t: (after[t] - before[t]) / len(args) for t in TABLES}


async def test_a_group_load_reads_a_few_index_entries_per_event_not_whole_tables(rules: ServiceHandle) -> None:
    sql = "SELECT * FROM rules_score_load_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    since = [AT - timedelta(days=30)]
    # Four events per group: three new ones of customers with history (usage, day usage, a
    # segment, an order in the window) and a replay of a stored event.
    groups = [[M, [f"g{n}-e{k}" for k in range(3)] + [f"ev-{n + 1}"],
               [f"other-{10 * n + k + 1}" for k in range(3)] + [f"other-{n + 1}"], [], ["rev"], ["2026-03-01"],
               "SAR", since * 4, [1, 2, 3, 4], [AT] * 4] for n in range(CALLS)]
    read = await _rows_read(rules, sql, groups)
    # At most a row per event from each table (the replay's customer is not read); never the
    # thousands of other rows.
    assert all(n <= 4 for n in read.values()), read
    assert read["rules_customers"] == read["rules_customer_usage"] == 3, read


async def test_an_order_load_reads_a_few_index_entries_not_whole_tables(rules: ServiceHandle) -> None:
    sql = "SELECT * FROM rules_score_load($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    calls = [["order", f"new-{n}", M, f"other-{n + 1}", 1, [], ["rev"], ["2026-03-01"], "SAR",
              [AT - timedelta(days=30)], AT] for n in range(CALLS)]
    read = await _rows_read(rules, sql, calls)
    assert all(n <= 1 for n in read.values()), read  # the customer's own row in each table, at most


@pytest.fixture
async def counted_db(counted_cluster: PgCluster) -> AsyncIterator[Database]:
    db = Database(counted_cluster.new_database_url())
    await db.migrate(MIGRATIONS, "rules_alembic_version")
    try:
        yield db
    finally:
        await db.dispose()


PLANNED = 20


async def test_each_statement_of_both_loads_is_planned_once_per_connection(counted_db: Database) -> None:
    """Before 0009 PL/pgSQL made a new plan of the order load's day-usage read on every call (its custom
    plans always looked cheaper than one generic plan): 0.08 ms of planning per order, more than the
    read itself, on the checkout bench. Every statement of both loads runs here: a new order of a
    customer with a tier window (the spend sum), a budget, usage and day usage to read."""
    async with connection(counted_db) as s:
        await s.execute(_OTHERS[0], M, 50)
        await start_counting(s)
        since, until = [AT - timedelta(days=30)], AT
        for n in range(PLANNED):
            rows = await s.fetch("SELECT * FROM rules_score_load($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                                 "order", f"new-{n}", M, f"other-{n + 1}", 1, ["budgeted"], ["rev"], ["2026-03-01"],
                                 "SAR", since, until)
            assert [r["kind"] for r in rows] == ["generation", "customer", "spend"]
            rows = await s.fetch("SELECT * FROM rules_score_load_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                                 M, [f"e-{n}"], [f"other-{n + 1}"], ["budgeted"], ["rev"], ["2026-03-01"], "SAR",
                                 since, [1], [until])
            assert [r["kind"] for r in rows] == ["generation", "customer", "spend"]
        statements = await plans(s, PLANNED)
    assert any("FROM rules_customer_day_usage" in q for q in statements), list(statements)
    assert any("sum(o.merchandise_minor" in q for q in statements), list(statements)
    assert {q: n for q, (_, n) in statements.items() if n > 1} == {}
