"""The SQL of ScoreOrder and ScoreEvent: four statements per call, on one
connection of the scoring pool.

1. BEGIN.
2. `ScoreTx.load`: rules_score_load() (migrations 0004 and 0008) returns the
   merchant's campaign generation and, for a replay, the stored score (and
   stops there: a replay is BEGIN, this, COMMIT); otherwise it locks the
   customer row, then the budgets the call may spend (campaign_id order), and
   reads the customer, their usage and spend after the lock.
3. `ScoreTx.write_order`/`write_event`: one statement writes everything
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


class ScoreTx(Statements):
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

    async def _write(self, sql: str, args: list[Any]) -> None:
        try:
            await self.execute(sql, *args)
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
