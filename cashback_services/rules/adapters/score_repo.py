"""The SQL of ScoreOrder and ScoreEvent: four statements per call, on one
connection of the scoring pool.

1. BEGIN.
2. `ScoreTx.load`: rules_score_load() (migrations 0004 and 0008) returns the
   merchant's campaign generation and, for a replay, the stored score (and
   stops there: a replay is BEGIN, this, COMMIT); otherwise it locks the
   customer row, then the budgets the call may spend (campaign_id order), and
   reads the customer, their usage and spend after the lock.
3. `ScoreTx.write_order` (event_group_repo for events): one statement writes everything
   (data-modifying CTEs over unnest arrays).
4. COMMIT.

The connection is the kit's (cashback_kit.pgtx on Database.fast_pool(), shared with
the rest of the process): no SQLAlchemy per statement, a fixed-size pool (calls
beyond it wait for a connection), no reset round trip on release, each statement
prepared once per connection and reported to Database.fast_path_listeners, so the
SQL recorder of the tests sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from cashback_kit import pgtx
from cashback_kit.db import Database
from cashback_kit.pgtx import Statements
from cashback_services.rules.adapters.history_repo import CustomerRow


class AlreadyStored(Exception):
    """The order or event was written by a concurrent call first."""


@dataclass(frozen=True)
class Stored:
    """The order or event as scored before (a replay): score_body is None for
    an order imported as history."""

    fingerprint: str
    score_body: bytes | None


# $1 merchant, $2 order or event id.
_STORED = {"order": "SELECT fingerprint, score_body FROM rules_orders WHERE merchant_id = $1 AND order_id = $2",
           "event": "SELECT fingerprint, score_body FROM rules_events WHERE merchant_id = $1 AND event_id = $2"}


@dataclass
class Loaded:
    """What rules_score_load() read: the generation, a stored score, or what it
    read under the customer lock."""

    generation: int = 0
    stored: Stored | None = None
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


_LOAD = "SELECT kind, key, day, a, b, body FROM rules_score_load($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"

# $1 merchant, $2 created_at; $3-$6 usage (customer, campaign, amount, count),
# $7-$10 day usage (customer, campaign, day, count), $11-$12 budgets (campaign,
# amount), each summed per key (usage_args); the rest per statement. Usage and
# day rows are only written under the customer lock, budgets under their own.
USAGE_CTES = """
    u AS (INSERT INTO rules_customer_usage AS t (merchant_id, campaign_id, customer_id, amount_minor, award_count)
          SELECT $1, x.cid, x.cust, x.amt, x.n FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[])
              AS x(cust, cid, amt, n)
          ON CONFLICT (merchant_id, campaign_id, customer_id)
          DO UPDATE SET amount_minor = t.amount_minor + excluded.amount_minor,
                        award_count = t.award_count + excluded.award_count),
    d AS (INSERT INTO rules_customer_day_usage AS t (merchant_id, campaign_id, customer_id, local_day, award_count)
          SELECT $1, x.cid, x.cust, x.day, x.n FROM unnest($7::text[], $8::text[], $9::text[], $10::bigint[])
              AS x(cust, cid, day, n)
          ON CONFLICT (merchant_id, campaign_id, customer_id, local_day)
          DO UPDATE SET award_count = t.award_count + excluded.award_count),
    b AS (UPDATE rules_campaigns AS c SET budget_used = c.budget_used + x.amt
          FROM unnest($11::text[], $12::bigint[]) AS x(cid, amt)
          WHERE c.merchant_id = $1 AND c.campaign_id = x.cid AND c.campaign_id = ANY($11::text[]))
SELECT 1"""

# $13 order_id, $14 customer, $15 placed_at, $16 currency, $17 merchandise,
# $18 fingerprint, $19 order body, $20 score body, $21-$24 the awards
# (campaign, version, amount, local day).
_WRITE_ORDER = """
WITH o AS (INSERT INTO rules_orders (merchant_id, order_id, customer_id, placed_at, currency, merchandise_minor,
                                     refunded_minor, fully_refunded, fingerprint, order_body, score_body, created_at)
           VALUES ($1, $13, $14, $15, $16, $17, 0, false, $18, $19, $20, $2)),
    a AS (INSERT INTO rules_awards (merchant_id, order_id, campaign_id, campaign_version, customer_id, currency,
                                    amount_minor, reversed_minor, local_day)
          SELECT $1, $13, x.cid, x.ver, $14, $16, x.amt, 0, x.day
          FROM unnest($21::text[], $22::int[], $23::bigint[], $24::text[]) AS x(cid, ver, amt, day)),""" + USAGE_CTES


def usage_args(awards: Sequence[tuple[str, AwardRow]]) -> list[Any]:
    """$3-$12 of USAGE_CTES for (customer, award) pairs: one row per key, so a
    customer paid twice by a campaign in one statement is counted twice."""
    usage: dict[tuple[str, str], list[int]] = {}
    days: dict[tuple[str, str, str], int] = {}
    budgets: dict[str, int] = {}
    for customer, a in awards:
        u = usage.setdefault((customer, a.campaign_id), [0, 0])
        u[0] += a.amount_minor
        u[1] += 1
        days[(customer, a.campaign_id, a.local_day)] = days.get((customer, a.campaign_id, a.local_day), 0) + 1
        if a.budgeted:
            budgets[a.campaign_id] = budgets.get(a.campaign_id, 0) + a.amount_minor
    return [[k[0] for k in usage], [k[1] for k in usage], [v[0] for v in usage.values()],
            [v[1] for v in usage.values()], [k[0] for k in days], [k[1] for k in days], [k[2] for k in days],
            list(days.values()), list(budgets), list(budgets.values())]


class ScoreStatements(Statements):
    async def store(self, sql: str, args: list[Any]) -> None:
        """`sql` with `args`; AlreadyStored when the order or event was stored by a concurrent call."""
        try:
            await self.execute(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyStored() from exc


class ScoreTx(ScoreStatements):
    """The statements of one scoring transaction."""

    async def load(self, what: str, key: str, merchant_id: str, customer_id: str, *, add_orders: int,
                   budget_ids: list[str], usage_ids: list[str], days: list[str], currency: str,
                   since: list[datetime], until: datetime) -> Loaded:
        """`what` is "order" or "event" (`key` its id); spend is summed in
        `currency` over [since_i, until) for each window, when the customer has
        no manual tier."""
        args = [what, key, merchant_id, customer_id, add_orders, sorted(budget_ids), usage_ids, days, currency,
                list(since), until]
        out = Loaded()
        spends: dict[int, int] = {}
        for kind, key, day, a, b, body in await self.fetch(_LOAD, *args):
            if kind == "generation":
                out.generation = int(a)
            elif kind == "stored":
                out.stored = Stored(key, bytes(body) if body is not None else None)
            elif kind == "customer":
                out.customer = CustomerRow(key, int(a), day)
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

    async def write_order(self, merchant_id: str, customer_id: str, awards: Sequence[AwardRow], *, order_id: str,
                          placed_at: datetime, currency: str, merchandise_minor: int, fingerprint: str,
                          order_body: bytes, score_body: bytes, created_at: datetime) -> None:
        await self.store(_WRITE_ORDER, [
            merchant_id, created_at, *usage_args([(customer_id, a) for a in awards]), order_id, customer_id,
            placed_at, currency, merchandise_minor, fingerprint, order_body, score_body,
            [a.campaign_id for a in awards], [a.campaign_version for a in awards],
            [a.amount_minor for a in awards], [a.local_day for a in awards]])


class ScoreConn(Statements):
    """One pooled connection, for the whole of a scoring call."""

    async def stored(self, what: str, merchant_id: str, key: str) -> Stored | None:
        """The order or event as stored, if it is (autocommit)."""
        row = await self.fetchrow(_STORED[what], merchant_id, key)
        return None if row is None else Stored(row[0], bytes(row[1]) if row[1] is not None else None)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ScoreTx]:
        """BEGIN ... COMMIT, or ROLLBACK if the block raises."""
        async with pgtx.begin(self):
            yield ScoreTx(self.db, self.conn)


class ScoringPool:
    """The connections scoring runs on: the kit's asyncpg pool (Database.fast_pool),
    with its error mapping (cashback_kit.pgtx.connection)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ScoreConn]:
        """A connection for one call (autocommit statements, then a transaction)."""
        async with pgtx.connection(self.db) as s:
            yield ScoreConn(self.db, s.conn)
