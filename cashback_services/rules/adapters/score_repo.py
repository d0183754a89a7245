"""The SQL of ScoreOrder and ScoreEvent: at most five statements per call, on
one connection of the scoring pool.

1. `ScoreConn.seen` (autocommit): the merchant's campaign generation, the
   customer row, their spend in the tier windows, and the stored score if this
   order or event was scored before (a replay).
2. BEGIN.
3. `ScoreTx.load`: rules_score_load() (migration 0004) locks the customer row,
   then the budgets the call may spend (campaign_id order), and reads usage and
   spend after the lock.
4. `ScoreTx.write_order`/`write_event`: one statement writes everything
   (data-modifying CTEs over unnest arrays).
5. COMMIT.

The pool is asyncpg's own, of a fixed size: no SQLAlchemy per statement, no
connect and close churn when more calls are in flight than connections (they
wait for one), no reset round trip on release (a connection only comes back
outside a transaction). asyncpg prepares each statement once per connection.
Every statement, BEGIN and COMMIT included, is reported to
Database.fast_path_listeners, so the SQL recorder of the tests sees them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from cashback_kit.db import Database
from cashback_kit.errors import Aborted, DomainError, Unavailable
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


def _seen_sql(table: str, key: str) -> str:
    # $1 merchant, $2 customer, $3 order or event id, $4 currency, $5 since[], $6 until.
    return f"""
        SELECT (SELECT generation FROM rules_merchants WHERE merchant_id = $1),
               c.manual_tier, c.order_count,
               (SELECT segment FROM rules_customer_rfm WHERE merchant_id = $1 AND customer_id = $2),
               ARRAY(SELECT coalesce(sum(o.merchandise_minor - o.refunded_minor), 0)::bigint
                     FROM unnest($5::timestamptz[]) WITH ORDINALITY AS w(since, i)
                     LEFT JOIN rules_orders o ON o.merchant_id = $1 AND o.customer_id = $2
                          AND o.currency = $4 AND o.placed_at >= w.since AND o.placed_at < $6
                     GROUP BY w.i ORDER BY w.i),
               s.fingerprint, s.score_body
        FROM (SELECT 1) AS one
        LEFT JOIN rules_customers c ON c.merchant_id = $1 AND c.customer_id = $2
        LEFT JOIN {table} s ON s.merchant_id = $1 AND s.{key} = $3"""


_SEEN = {"order": _seen_sql("rules_orders", "order_id"), "event": _seen_sql("rules_events", "event_id")}
_NO_WINDOW = datetime(1970, 1, 1, tzinfo=UTC)  # when no spend is asked for


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


class _Statements:
    """Runs statements on one driver connection, reporting each to the listeners."""

    def __init__(self, db: Database, conn: asyncpg.Connection) -> None:
        self.db, self.conn = db, conn

    def _report(self, sql: str, args: Sequence[Any]) -> None:
        for listener in self.db.fast_path_listeners:
            listener(sql, list(args))


class ScoreTx(_Statements):
    """The statements of one scoring transaction."""

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


class ScoreConn(_Statements):
    """One pooled connection, for the whole of a scoring call."""

    async def seen(self, what: str, merchant_id: str, customer_id: str, key: str, *, currency: str = "",
                   since: Sequence[datetime] = (), until: datetime = _NO_WINDOW) -> Seen:
        """`what` is "order" or "event" (`key` its id); spend is summed in
        `currency` over [since_i, until) for each window asked for."""
        sql, args = _SEEN[what], [merchant_id, customer_id, key, currency, list(since), until]
        self._report(sql, args)
        row = await self.conn.fetchrow(sql, *args)
        assert row is not None  # FROM (SELECT 1): always one row
        gen, tier, count, segment, spends, fp, body = row
        customer = CustomerRow(tier or "", int(count or 0), segment or "")
        return Seen(int(gen or 0), customer, [int(x) for x in spends], fp, bytes(body) if body is not None else None)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ScoreTx]:
        """BEGIN ... COMMIT, or ROLLBACK if the block raises."""
        self._report("BEGIN", [])
        await self.conn.execute("BEGIN")
        try:
            yield ScoreTx(self.db, self.conn)
        except BaseException:
            if not self.conn.is_closed():
                self._report("ROLLBACK", [])
                await self.conn.execute("ROLLBACK")
            raise
        self._report("COMMIT", [])
        await self.conn.execute("COMMIT")


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Connections come back outside any transaction, with no session state set."""


class ScoringPool:
    """The connections scoring runs on, opened on first use."""

    def __init__(self, db: Database, size: int = 10) -> None:
        self.db, self.size = db, size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                url = make_url(self.db.url).set(drivername="postgresql").render_as_string(hide_password=False)
                self._pool = await asyncpg.create_pool(url, min_size=1, max_size=self.size, reset=_no_reset,
                                                       command_timeout=30, timeout=5)
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ScoreConn]:
        """A connection for one call. Database errors come out as the kit's: a
        deadlock or serialization failure is Aborted; a lost connection, or any
        failure that left the connection closed, Unavailable. A connection left
        inside a transaction is closed, not reused."""
        try:
            pool = self._pool or await self._open()
            acquired = pool.acquire()
            conn = await acquired.__aenter__()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:  # could not connect
            raise Unavailable("the database is unavailable; retry later") from exc
        try:
            yield ScoreConn(self.db, conn)
        except DomainError:
            raise
        except Exception as exc:
            transient = _transient(exc, broken=_drop_if_broken(conn))
            if transient is None:
                raise
            raise transient from exc
        finally:
            await acquired.__aexit__(None, None, None)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


def _drop_if_broken(conn: asyncpg.Connection) -> bool:
    """Whether the connection is lost; one left inside a transaction is closed."""
    try:
        if conn.is_closed():
            return True
        if conn.is_in_transaction():
            conn.terminate()
            return True
        return False
    except asyncpg.InterfaceError:  # lost: the pool took it back already
        return True


def _transient(exc: BaseException, *, broken: bool) -> Exception | None:
    """The kit's error for a database failure worth retrying, or None."""
    state = str(getattr(exc, "sqlstate", "") or "")
    if state in {"40001", "40P01"}:
        return Aborted("concurrent update; safe to retry")
    if broken or state[:2] in {"08", "57", "53"} or isinstance(exc, asyncpg.InterfaceError | OSError):
        return Unavailable("the database is unavailable; retry later")
    return None
