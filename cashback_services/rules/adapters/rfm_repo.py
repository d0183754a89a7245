"""The SQL of RFM segments. A merchant's scores are recomputed in one
transaction of a fixed number of statements, whatever its size: the work is
PostgreSQL's (one GROUP BY over the orders in the window, window functions for
the quintiles, a join on the segment map), none of it a loop in Python.

rules_rfm_runs keeps per merchant a counter that imports bump (`seq`) and the
value the last computation started from (`computed_seq`): an import that
commits while scores are computed leaves them stale, never lost, and neither
waits for the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cashback_kit import pgtx
from cashback_kit.db import Database

# Another process computing the same merchant: skip it this time.
_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('rules_rfm:' || $1, 0))"
_SEQ = "SELECT coalesce((SELECT seq FROM rules_rfm_runs WHERE merchant_id = $1), 0)"
# $2/$3 the window [since, until]: the currency of most of the merchant's orders in it.
_CURRENCY = """
SELECT currency FROM rules_orders WHERE merchant_id = $1 AND placed_at >= $2 AND placed_at <= $3
GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1"""
_CLEAR = "DELETE FROM rules_customer_rfm WHERE merchant_id = $1"
# Scores: 1 + floor(5 × percent_rank), so tied customers share a score and the
# lowest value scores 1. $4 the currency, $5-$8 the segment map.
_SCORE = """
INSERT INTO rules_customer_rfm (merchant_id, customer_id, last_order_at, orders, spend_minor, recency, frequency,
                                monetary, segment)
SELECT $1, s.customer_id, s.last_at, s.n, s.spend, s.r, s.f, s.m, g.segment
FROM (
    SELECT a.*,
           least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY a.days DESC)))::int AS r,
           least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY a.n)))::int AS f,
           least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY a.spend)))::int AS m
    FROM (
        SELECT customer_id, max(placed_at) AS last_at, count(*) AS n,
               floor(extract(epoch FROM $3 - max(placed_at)) / 86400) AS days,
               coalesce(sum(merchandise_minor - refunded_minor) FILTER (WHERE currency = $4), 0) AS spend
        FROM rules_orders
        WHERE merchant_id = $1 AND placed_at >= $2 AND placed_at <= $3 AND NOT fully_refunded
        GROUP BY customer_id) AS a) AS s
JOIN unnest($5::int[], $6::int[], $7::int[], $8::text[]) AS g(r, f, m, segment)
  ON g.r = s.r AND g.f = s.f AND g.m = s.m"""
_DONE = """
INSERT INTO rules_rfm_runs AS t (merchant_id, seq, computed_seq, computed_at, window_days, currency)
VALUES ($1, $2, $2, $3, $4, $5)
ON CONFLICT (merchant_id) DO UPDATE SET computed_seq = $2, computed_at = $3, window_days = $4, currency = $5"""
_STALE = """
INSERT INTO rules_rfm_runs AS t (merchant_id, seq, imported_at) VALUES ($1, 1, $2)
ON CONFLICT (merchant_id) DO UPDATE SET seq = t.seq + 1, imported_at = $2"""
# Merchants whose scores an import made stale (once it paused: no import since
# :quiet), or older than the refresh age, or never computed (with campaigns).
_DUE = text("""
SELECT m FROM (SELECT merchant_id AS m FROM rules_rfm_runs UNION SELECT merchant_id FROM rules_merchants) AS x
LEFT JOIN rules_rfm_runs r ON r.merchant_id = x.m
WHERE r.merchant_id IS NULL OR r.computed_at IS NULL OR r.computed_at < :before
   OR (r.seq > r.computed_seq AND (r.imported_at IS NULL OR r.imported_at < :quiet))
ORDER BY m LIMIT :n""")
_SUMMARY = text("""
SELECT segment, count(*), coalesce(sum(spend_minor), 0) FROM rules_customer_rfm
WHERE merchant_id = :m GROUP BY segment""")
_RUN = text("SELECT computed_at, window_days, currency FROM rules_rfm_runs WHERE merchant_id = :m")
_CUSTOMER = text("""
SELECT recency, frequency, monetary, segment FROM rules_customer_rfm WHERE merchant_id = :m AND customer_id = :c""")


@dataclass(frozen=True)
class Run:
    computed_at: datetime | None
    window_days: int
    currency: str


async def recompute(db: Database, merchant_id: str, now: datetime, window_days: int,
                    segment_map: list[tuple[int, int, int, str]]) -> int | None:
    """Scores every customer of the merchant with an order in the window; the
    number scored, or None when another process holds the merchant."""
    since = now - timedelta(days=window_days)
    # A connection of its own, without the services' 30 s statement timeout: a
    # merchant with a million customers takes longer, and runs in the background.
    url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(url, timeout=5, command_timeout=None)
    try:
        async with conn.transaction():
            if not await conn.fetchval(_TRY_LOCK, merchant_id):
                return None
            # The three quintile sorts of a large merchant fit in memory instead of spilling to disk.
            await conn.execute("SET LOCAL work_mem = '128MB'")
            seq = int(await conn.fetchval(_SEQ, merchant_id))
            currency = await conn.fetchval(_CURRENCY, merchant_id, since, now) or ""
            await conn.execute(_CLEAR, merchant_id)
            scored = await conn.execute(_SCORE, merchant_id, since, now, currency,
                                        *[list(col) for col in zip(*segment_map, strict=True)])
            await conn.execute(_DONE, merchant_id, seq, now, window_days, currency)
            return int(scored.split()[-1])  # "INSERT 0 n"
    finally:
        await conn.close()


async def mark_stale(tx: pgtx.Tx, merchant_id: str, at: datetime) -> None:
    """In an import's transaction: its merchant's scores no longer cover its orders."""
    await tx.execute(_STALE, merchant_id, at)


async def due(db: Database, refreshed_before: datetime, quiet_since: datetime, limit: int = 100) -> list[str]:
    params = {"before": refreshed_before, "quiet": quiet_since, "n": limit}
    async with db.read() as conn:
        return [r[0] for r in (await conn.execute(_DUE, params)).all()]


async def summary(db: Database, merchant_id: str) -> tuple[Run | None, dict[str, tuple[int, int]]]:
    """When and how the scores were computed, and per segment (customers, spend)."""
    async with db.read() as conn:
        run = (await conn.execute(_RUN, {"m": merchant_id})).first()
        rows = (await conn.execute(_SUMMARY, {"m": merchant_id})).all()
    out: dict[str, tuple[int, int]] = {seg: (int(n), int(spend)) for seg, n, spend in rows}
    return (Run(run[0], int(run[1]), run[2]) if run is not None else None), out


async def customer_scores(db: Database, merchant_id: str, customer_id: str) -> Any:
    async with db.read() as conn:
        return (await conn.execute(_CUSTOMER, {"m": merchant_id, "c": customer_id})).first()
