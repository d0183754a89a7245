"""Issue #7 target 5: the expiry sweep of N due lots against a plain SQL UPDATE
touching the same rows.

Two identical wallet databases are seeded with bulk SQL (not timed):
`customers` customers with `lots_per_customer` available lots each, every lot
credited by an ADJUSTMENT transaction (entries, ADJUSTED event, balance row),
all past expiry. The second database is a copy of the first (CREATE DATABASE
... TEMPLATE). In the first, `expire_due_lots` runs until nothing is due; in
the second, one plain UPDATE of wallet_lots expires the same rows (no ledger,
no events, no balances: the floor any set-based sweep is measured against).

    python -m bench.sweep_bench [--lots 1000000] [--per-customer 10] [--batch 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cashback_kit.db import Database
from cashback_services.wallet.adapters.sweep import expire_due_lots
from cashback_services.wallet.main import MIGRATIONS
from tests.support.pgcluster import PgCluster, remove_cluster, start_cluster

PLAIN_UPDATE = (
    "UPDATE wallet_lots SET status = 'expired', expired = expired + remaining, remaining = 0 "
    "WHERE status = 'available' AND expires_at <= now()"
)

# One statement per table: n customers x k lots (ints, formatted in), all due before :now.
# Ids look like the service's (prefix + 32 hex) and are deterministic.
_SEED = [
    """
    INSERT INTO wallet_customers (merchant_id, customer_id, created_at)
    SELECT 'm1', 'c' || lpad(i::text, 8, '0'), CAST(:t0 AS timestamptz) FROM generate_series(1, {n}) AS i
    """,
    """
    INSERT INTO wallet_lots (lot_id, merchant_id, customer_id, currency, source, order_id, campaign_id, amount,
                             remaining, held, spent, expired, reversed, debited, status, available_at,
                             expires_at, created_at)
    SELECT 'lot_' || md5('lot' || i || '-' || j), 'm1', 'c' || lpad(i::text, 8, '0'), 'SAR', 'adjustment',
           NULL, NULL, 100 + j, 100 + j, 0, 0, 0, 0, 0, 'available',
           CAST(:t0 AS timestamptz) + j * interval '1 second',
           CAST(:now AS timestamptz) - interval '1 day' + j * interval '1 second',
           CAST(:t0 AS timestamptz) + j * interval '1 second'
      FROM generate_series(1, {n}) AS i, generate_series(1, {k}) AS j
     ORDER BY i, j
    """,
    """
    INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount, reason,
                                     created_at)
    SELECT 'tx_' || md5('tx' || i || '-' || j), 'm1', 'c' || lpad(i::text, 8, '0'), 'adjustment', 'SAR',
           100 + j, 'seed', CAST(:t0 AS timestamptz) + j * interval '1 second'
      FROM generate_series(1, {n}) AS i, generate_series(1, {k}) AS j
     ORDER BY i, j
    """,
    """
    INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
    SELECT 'tx_' || md5('tx' || i || '-' || j), 'm1', 'c' || lpad(i::text, 8, '0'), a.account, 'SAR',
           a.sign * (100 + j)
      FROM generate_series(1, {n}) AS i, generate_series(1, {k}) AS j,
           (VALUES (1, 'customer:available', 1), (2, 'merchant:adjustments', -1)) AS a(ord, account, sign)
     ORDER BY i, j, a.ord
    """,
    """
    INSERT INTO wallet_events (position, event_id, type, merchant_id, customer_id, currency, amount, lot_id,
                               transaction_id, expires_at, occurred_at)
    SELECT (i - 1) * {k} + j, 'ev_' || md5('ev' || i || '-' || j), 'adjusted', 'm1', 'c' || lpad(i::text, 8, '0'),
           'SAR', 100 + j, 'lot_' || md5('lot' || i || '-' || j), 'tx_' || md5('tx' || i || '-' || j),
           CAST(:now AS timestamptz) - interval '1 day' + j * interval '1 second',
           CAST(:t0 AS timestamptz) + j * interval '1 second'
      FROM generate_series(1, {n}) AS i, generate_series(1, {k}) AS j
     ORDER BY i, j
    """,
    """
    INSERT INTO wallet_balances (merchant_id, customer_id, currency, available, pending, held, debt, updated_at)
    SELECT 'm1', 'c' || lpad(i::text, 8, '0'), 'SAR', {k} * 100 + {k} * ({k} + 1) / 2, 0, 0, 0, CAST(:t0 AS timestamptz)
      FROM generate_series(1, {n}) AS i
    """,
]


def _untimed(url: str) -> Database:
    """A Database without the services' 30 s statement timeout (seeding and the
    one big UPDATE run longer than any service statement)."""
    db = Database(url)
    db.engine = create_async_engine(url, connect_args={"command_timeout": None})
    return db


async def seed(url: str, customers: int, lots_per_customer: int, now: datetime) -> None:
    """Migrate and fill a fresh wallet database; all lots are due at `now`."""
    db = _untimed(url)
    try:
        await db.migrate(MIGRATIONS, "wallet_alembic_version")
        params = {"now": now, "t0": now - timedelta(days=60)}
        async with db.write() as conn:
            for sql in _SEED:
                await conn.execute(text(sql.format(n=int(customers), k=int(lots_per_customer))), params)
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            await conn.execute(text("CHECKPOINT"))
    finally:
        await db.dispose()


async def _time_sweep(url: str, now: datetime, batch: int) -> tuple[float, int]:
    db = Database(url)
    try:
        start = time.perf_counter()
        total = 0
        while True:
            n = await expire_due_lots(db, now, batch_customers=batch)
            total += n
            if n == 0:
                break
        return time.perf_counter() - start, total
    finally:
        await db.dispose()


async def _time_update(url: str) -> tuple[float, int]:
    db = _untimed(url)
    try:
        start = time.perf_counter()
        async with db.write() as conn:
            n = (await conn.execute(text(PLAIN_UPDATE))).rowcount
        return time.perf_counter() - start, int(n)
    finally:
        await db.dispose()


def sweep_vs_update(cluster: PgCluster, lots: int = 1_000_000, *, per_customer: int = 10,
                    batch: int = 5000) -> tuple[float, float, str]:
    """(sweep seconds, plain UPDATE seconds, note). Seeding is not timed."""
    customers = max(1, lots // per_customer)
    lots = customers * per_customer
    now = datetime.now(UTC)
    sweep_db = cluster.create_database("sweep")
    t0 = time.perf_counter()
    asyncio.run(seed(cluster.url(sweep_db), customers, per_customer, now))
    seeded = time.perf_counter() - t0
    update_db = f"upd_{sweep_db}"
    cluster.psql(f'CREATE DATABASE "{update_db}" TEMPLATE "{sweep_db}"')
    update_s, updated = asyncio.run(_time_update(cluster.url(update_db)))
    sweep_s, swept = asyncio.run(_time_sweep(cluster.url(sweep_db), now, batch))
    if swept != lots or updated != lots:
        raise AssertionError(f"expected {lots} lots expired: sweep {swept}, update {updated}")
    note = (f"{lots:,} lots ({customers:,} customers x {per_customer}), batches of {batch:,} customers; "
            f"seeding {seeded:.0f}s")
    return sweep_s, update_s, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--per-customer", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5000, help="customers per bulk transaction")
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        sweep_s, update_s, note = sweep_vs_update(cluster, args.lots, per_customer=args.per_customer,
                                                  batch=args.batch)
    finally:
        remove_cluster(cluster)
    ratio = sweep_s / update_s if update_s else float("inf")
    print(note)
    print(f"expiry sweep   {sweep_s:8.2f} s  ({args.lots / sweep_s:,.0f} lots/s)")
    print(f"plain UPDATE   {update_s:8.2f} s")
    print(f"ratio          {ratio:8.2f} x   (target <= 3.0x: {'met' if ratio <= 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
