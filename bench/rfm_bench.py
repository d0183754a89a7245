"""Issue 16: RFM segment recomputation for N customers against a plain GROUP BY
over the same orders, in the same run.

A rules database is migrated and seeded with bulk SQL (not timed): `customers`
customers of one merchant with 1 to 5 orders each over the last year. Then,
timed: the service's recomputation (adapters/rfm_repo.recompute: quintile
scores, the segment map, every customer's row written) and, as the floor, one
plain `GROUP BY customer_id` computing last order, count and spend of the same
orders (read only, nothing written).

    python -m bench.rfm_bench [--customers 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

from cashback_kit.db import Database
from cashback_services.rules.adapters import rfm_repo
from cashback_services.rules.domain.rfm import DEFAULT_WINDOW_DAYS, grid
from cashback_services.rules.main import MIGRATIONS
from tests.support.pgcluster import PgCluster, remove_cluster, start_cluster

# Customer i has 1 + i % 5 orders, 1.00 to 97.00 SAR, spread over the last 360 days.
_SEED = """
INSERT INTO rules_orders (merchant_id, order_id, customer_id, placed_at, currency, merchandise_minor, refunded_minor,
                          fully_refunded, fingerprint, order_body, score_body, created_at, imported)
SELECT 'm1', 'o' || i || '-' || j, 'c' || lpad(i::text, 8, '0'),
       $1::timestamptz - ((i * 7 + j * 53) % 360) * interval '1 day', 'SAR', 100 * (1 + (i * 31 + j) % 97), 0,
       false, '', ''::bytea, NULL, $1::timestamptz, true
FROM generate_series(1, $2::int) AS i, generate_series(1, 5) AS j
WHERE j <= 1 + i % 5"""
PLAIN = """
SELECT count(*) FROM (
    SELECT customer_id, max(placed_at), count(*), sum(merchandise_minor - refunded_minor)
    FROM rules_orders WHERE merchant_id = 'm1' AND placed_at >= $1 AND NOT fully_refunded
    GROUP BY customer_id) AS t"""


def _pg(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _seed(url: str, customers: int, now: datetime) -> int:
    db = Database(url)
    try:
        await db.migrate(MIGRATIONS, "rules_alembic_version")
    finally:
        await db.dispose()
    conn = await asyncpg.connect(_pg(url), command_timeout=None)
    try:
        await conn.execute(_SEED, now, customers)
        await conn.execute("VACUUM ANALYZE rules_orders")
        return int(await conn.fetchval("SELECT count(*) FROM rules_orders"))
    finally:
        await conn.close()


async def _time_plain(url: str, now: datetime) -> tuple[float, int]:
    conn = await asyncpg.connect(_pg(url), command_timeout=None)
    try:
        since = now.replace(year=now.year - 1)
        start = time.perf_counter()
        n = int(await conn.fetchval(PLAIN, since))
        return time.perf_counter() - start, n
    finally:
        await conn.close()


async def _time_recompute(url: str, now: datetime) -> tuple[float, int]:
    db = Database(url)
    try:
        start = time.perf_counter()
        n = await rfm_repo.recompute(db, "m1", now, DEFAULT_WINDOW_DAYS, grid())
        return time.perf_counter() - start, int(n or 0)
    finally:
        await db.dispose()


def recompute_vs_group_by(cluster: PgCluster, customers: int = 1_000_000) -> tuple[float, float, str]:
    """(recompute seconds, plain GROUP BY seconds, note). Seeding is not timed."""
    url = cluster.new_database_url("rfm")
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    orders = asyncio.run(_seed(url, customers, now))
    seeded = time.perf_counter() - t0
    plain_s, grouped = asyncio.run(_time_plain(url, now))
    ours_s, scored = asyncio.run(_time_recompute(url, now))
    if scored != customers or grouped != customers:
        raise AssertionError(f"expected {customers} customers: recompute {scored}, GROUP BY {grouped}")
    return ours_s, plain_s, f"{customers:,} customers, {orders:,} orders; seeding {seeded:.0f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        ours, plain, note = recompute_vs_group_by(cluster, args.customers)
    finally:
        remove_cluster(cluster)
    print(note)
    print(f"RFM recompute  {ours:8.2f} s  ({args.customers / ours:,.0f} customers/s)")
    print(f"plain GROUP BY {plain:8.2f} s")
    print(f"ratio          {ours / plain:8.2f} x")


if __name__ == "__main__":
    main()
