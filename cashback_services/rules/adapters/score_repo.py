"""The SQL of ScoreOrder and ScoreEvent: at most five statements per call.

1. `seen_order`/`seen_event`, on the fast read path (autocommit): the merchant's
   campaign generation, the customer row, their spend in the tier windows, and
   the stored score if this order or event was scored before (a replay).
2. BEGIN, on the asyncpg connection itself (no SQLAlchemy per statement).
3. `ScoreTx.load`: rules_score_load() (migration 0004) locks the customer row,
   then the budgets the call may spend (campaign_id order), and reads usage and
   spend after the lock.
4. `ScoreTx.write_order`/`write_event`: one statement writes everything
   (data-modifying CTEs over unnest arrays).
5. COMMIT.

asyncpg prepares each statement once per connection. Every statement sent here,
BEGIN and COMMIT included, is reported to Database.fast_path_listeners, so the
SQL recorder of the tests sees them like the engine's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import text

from cashback_kit.db import Database
from cashback_kit.errors import Aborted, Unavailable
from cashback_services.rules.adapters.history_repo import CustomerRow


class AlreadyStored(Exception):
    """The order or event was written by a concurrent call first."""


@dataclass(frozen=True)
class Seen:
    generation: int
    customer: CustomerRow
    spends: list[int]  # per tier window asked for
    fingerprint: str | None  # of the stored order or event, if any
    score_body: bytes | None


def _seen_stmt(table: str, key: str) -> Any:
    return text(f"""
        SELECT (SELECT generation FROM rules_merchants WHERE merchant_id = :m),
               c.manual_tier, c.order_count,
               ARRAY(SELECT coalesce(sum(o.merchandise_minor - o.refunded_minor), 0)::bigint
                     FROM unnest(CAST(:since AS timestamptz[])) WITH ORDINALITY AS w(since, i)
                     LEFT JOIN rules_orders o ON o.merchant_id = :m AND o.customer_id = :c
                          AND o.currency = :currency AND o.placed_at >= w.since AND o.placed_at < :until
                     GROUP BY w.i ORDER BY w.i),
               s.fingerprint, s.score_body
        FROM (SELECT 1) AS one
        LEFT JOIN rules_customers c ON c.merchant_id = :m AND c.customer_id = :c
        LEFT JOIN {table} s ON s.merchant_id = :m AND s.{key} = :k""")


_SEEN_ORDER = _seen_stmt("rules_orders", "order_id")
_SEEN_EVENT = _seen_stmt("rules_events", "event_id")
_NO_WINDOW = datetime(1970, 1, 1, tzinfo=UTC)  # when no spend is asked for


async def seen(db: Database, what: str, merchant_id: str, customer_id: str, key: str, *, currency: str = "",
               since: Sequence[datetime] = (), until: datetime = _NO_WINDOW) -> Seen:
    """`what` is "order" or "event" (`key` its id); spend is summed in
    `currency` over [since_i, until) for each window asked for."""
    stmt = _SEEN_ORDER if what == "order" else _SEEN_EVENT
    row = await db.fetch_row(stmt, {"m": merchant_id, "c": customer_id, "k": key, "currency": currency,
                                    "since": list(since), "until": until})
    assert row is not None  # FROM (SELECT 1): always one row
    gen, tier, count, spends, fp, body = row
    customer = CustomerRow(tier, int(count)) if tier is not None else CustomerRow("", 0)
    return Seen(int(gen or 0), customer, [int(x) for x in spends], fp, bytes(body) if body is not None else None)


@dataclass
class Loaded:
    """What rules_score_load() read under the customer lock."""

    customer: CustomerRow = field(default_factory=lambda: CustomerRow("", 0))
    budgets: dict[str, int] = field(default_factory=dict)
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)  # campaign -> (amount, count)
    per_day: dict[tuple[str, str], int] = field(default_factory=dict)  # (campaign, day) -> count
    spends: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AwardRow:
    campaign_id: str
    campaign_version: int
    amount_minor: int
    local_day: str
    budgeted: bool


_LOAD = "SELECT kind, key, day, a, b FROM rules_score_load($1, $2, $3, $4, $5, $6, $7, $8, $9)"

# $1 merchant, $2 customer, $3-$6 the awards (campaign, version, amount, local
# day), $7-$8 the budgeted ones (campaign, amount); the rest per statement. Usage
# and day rows are only written under the customer lock, budgets under their own.
_USAGE_CTES = """
    u AS (INSERT INTO rules_customer_usage AS t (merchant_id, campaign_id, customer_id, amount_minor, award_count)
          SELECT $1, x.cid, $2, x.amt, 1 FROM unnest($3::text[], $5::bigint[]) AS x(cid, amt)
          ON CONFLICT (merchant_id, campaign_id, customer_id)
          DO UPDATE SET amount_minor = t.amount_minor + excluded.amount_minor, award_count = t.award_count + 1),
    d AS (INSERT INTO rules_customer_day_usage AS t (merchant_id, campaign_id, customer_id, local_day, award_count)
          SELECT $1, x.cid, $2, x.day, 1 FROM unnest($3::text[], $6::text[]) AS x(cid, day)
          ON CONFLICT (merchant_id, campaign_id, customer_id, local_day)
          DO UPDATE SET award_count = t.award_count + 1),
    b AS (UPDATE rules_campaigns AS c SET budget_used = c.budget_used + x.amt
          FROM unnest($7::text[], $8::bigint[]) AS x(cid, amt)
          WHERE c.merchant_id = $1 AND c.campaign_id = x.cid)
SELECT 1"""

# $9 order_id, $10 placed_at, $11 currency, $12 merchandise, $13 fingerprint,
# $14 order body, $15 score body, $16 created_at.
_WRITE_ORDER = """
WITH o AS (INSERT INTO rules_orders (merchant_id, order_id, customer_id, placed_at, currency, merchandise_minor,
                                     refunded_minor, fully_refunded, fingerprint, order_body, score_body, created_at)
           VALUES ($1, $9, $2, $10, $11, $12, 0, false, $13, $14, $15, $16)),
    a AS (INSERT INTO rules_awards (merchant_id, order_id, campaign_id, campaign_version, customer_id, currency,
                                    amount_minor, reversed_minor, local_day)
          SELECT $1, $9, x.cid, x.ver, $2, $11, x.amt, 0, x.day
          FROM unnest($3::text[], $4::int[], $5::bigint[], $6::text[]) AS x(cid, ver, amt, day)),""" + _USAGE_CTES

# $9 event_id, $10 currency, $11 fingerprint, $12 score body, $13 created_at.
_WRITE_EVENT = """
WITH e AS (INSERT INTO rules_events (merchant_id, event_id, customer_id, fingerprint, score_body, created_at)
           VALUES ($1, $9, $2, $11, $12, $13)),
    a AS (INSERT INTO rules_event_awards (merchant_id, event_id, campaign_id, campaign_version, customer_id,
                                          currency, amount_minor, local_day)
          SELECT $1, $9, x.cid, x.ver, $2, $10, x.amt, x.day
          FROM unnest($3::text[], $4::int[], $5::bigint[], $6::text[]) AS x(cid, ver, amt, day)),""" + _USAGE_CTES


def _award_args(awards: Sequence[AwardRow]) -> list[Any]:
    paid = [a for a in awards if a.budgeted]
    return [[a.campaign_id for a in awards], [a.campaign_version for a in awards],
            [a.amount_minor for a in awards], [a.local_day for a in awards],
            [a.campaign_id for a in paid], [a.amount_minor for a in paid]]


class ScoreTx:
    """The statements of one scoring transaction, on the driver connection."""

    def __init__(self, db: Database, conn: asyncpg.Connection) -> None:
        self.db, self.conn = db, conn

    def _report(self, sql: str, args: Sequence[Any]) -> None:
        for listener in self.db.fast_path_listeners:
            listener(sql, list(args))

    async def load(self, merchant_id: str, customer_id: str, *, add_orders: int, budget_ids: list[str],
                   usage_ids: list[str], days: list[str], currency: str, since: list[datetime],
                   until: datetime) -> Loaded:
        args = [merchant_id, customer_id, add_orders, sorted(budget_ids), usage_ids, days, currency, since, until]
        self._report(_LOAD, args)
        out = Loaded()
        spends: dict[int, int] = {}
        for kind, key, day, a, b in await self.conn.fetch(_LOAD, *args):
            if kind == "customer":
                out.customer = CustomerRow(key, int(a))
            elif kind == "budget":
                out.budgets[key] = int(a)
            elif kind == "usage":
                out.usage[key] = (int(a), int(b))
            elif kind == "day":
                out.per_day[(key, day)] = int(a)
            else:
                spends[int(key)] = int(a)
        out.spends = [spends[i + 1] for i in range(len(spends))]
        return out

    async def _write(self, sql: str, args: list[Any]) -> None:
        self._report(sql, args)
        try:
            await self.conn.execute(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyStored() from exc

    async def write_order(self, merchant_id: str, customer_id: str, awards: Sequence[AwardRow], *, order_id: str,
                          placed_at: datetime, currency: str, merchandise_minor: int, fingerprint: str,
                          order_body: bytes, score_body: bytes, created_at: datetime) -> None:
        await self._write(_WRITE_ORDER, [merchant_id, customer_id, *_award_args(awards), order_id, placed_at,
                                         currency, merchandise_minor, fingerprint, order_body, score_body,
                                         created_at])

    async def write_event(self, merchant_id: str, customer_id: str, awards: Sequence[AwardRow], *, event_id: str,
                          currency: str, fingerprint: str, score_body: bytes, created_at: datetime) -> None:
        await self._write(_WRITE_EVENT, [merchant_id, customer_id, *_award_args(awards), event_id, currency,
                                         fingerprint, score_body, created_at])


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[ScoreTx]:
    """BEGIN ... COMMIT on a pooled connection's asyncpg connection (ROLLBACK if
    the block raises). Database errors come out as the kit's: a deadlock or
    serialization failure is Aborted, a lost connection Unavailable."""
    async with db.engine.connect() as sa_conn:
        conn = (await sa_conn.get_raw_connection()).driver_connection
        tx = ScoreTx(db, conn)
        try:
            tx._report("BEGIN", [])
            await conn.execute("BEGIN")
            yield tx
            tx._report("COMMIT", [])
            await conn.execute("COMMIT")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            await _abandon(sa_conn, conn)
            transient = _transient(exc)
            if transient is None:
                raise
            raise transient from exc
        except BaseException:
            await _abandon(sa_conn, conn)
            raise


async def _abandon(sa_conn: Any, conn: asyncpg.Connection) -> None:
    """Roll back; a connection that cannot is dropped from the pool."""
    try:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
    except Exception:
        await sa_conn.invalidate()


def _transient(exc: BaseException) -> Exception | None:
    state = str(getattr(exc, "sqlstate", "") or "")
    if state in {"40001", "40P01"}:
        return Aborted("concurrent update; safe to retry")
    if state[:2] in {"08", "57", "53"} or not isinstance(exc, asyncpg.PostgresError):
        return Unavailable("the database is unavailable; retry later")
    return None
