"""The SQL of a group of ScoreEvents of one merchant, in one transaction of four
statements whatever the group's size: BEGIN; `EventGroupTx.load`
(rules_score_load_events, migration 0008: the stored events of replays, then
the other events' customers locked in customer_id order, the budgets in
campaign_id order, usage and spend read after the locks); the domain decides
each event in turn; `EventGroupTx.write`, one statement for every event, award,
usage row and budget counter of the group; COMMIT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from cashback_kit import pgtx
from cashback_kit.pgtx import Statements
from cashback_services.rules.adapters.history_repo import CustomerRow
from cashback_services.rules.adapters.score_repo import (
    USAGE_CTES,
    AwardRow,
    Loaded,
    ScoreStatements,
    ScoreTx,
    Stored,
    usage_args,
)


@dataclass(frozen=True)
class EventAsked:
    """One event of the group, as the load needs it."""

    event_id: str
    customer_id: str
    since: list[datetime]  # its tier windows, when a tier depends on spend
    until: datetime


@dataclass
class GroupLoaded:
    """What the group's load read: the generation, the stored events, and, under the locks, each new event's customer,
    their usage and day usage, the budgets, and each event's spend per window."""

    generation: int = 0
    stored: dict[str, Stored] = field(default_factory=dict)  # by event_id
    customers: dict[str, CustomerRow] = field(default_factory=dict)
    budgets: dict[str, int] = field(default_factory=dict)
    usage: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # customer -> campaign -> (amt, n)
    per_day: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)  # customer -> (campaign, day) -> n
    spends: dict[int, list[int]] = field(default_factory=dict)  # event position -> spend per window

    @classmethod
    def of_one(cls, event: EventAsked, one: Loaded) -> GroupLoaded:
        """A group of one event, from the one-customer load (rules_score_load)."""
        if one.stored is not None:
            return cls(one.generation, {event.event_id: one.stored})
        return cls(one.generation, {}, {event.customer_id: one.customer}, one.budgets, {event.customer_id: one.usage},
                   {event.customer_id: one.per_day}, {0: one.spends})

    def view(self, customer_id: str, n: int) -> Loaded | None:
        """What the n-th event sees, as a single call's load: its customer
        (None if they were not locked), their usage, the group's budgets."""
        row = self.customers.get(customer_id)
        if row is None:
            return None
        return Loaded(self.generation, None, row, self.budgets, self.usage.setdefault(customer_id, {}),
                      self.per_day.setdefault(customer_id, {}), self.spends[n])

    def paid(self, customer_id: str, awards: Sequence[AwardRow]) -> None:
        """Count awards decided in the group, as the write will, for the events after them."""
        usage, per_day = self.usage.setdefault(customer_id, {}), self.per_day.setdefault(customer_id, {})
        for a in awards:
            amount, count = usage.get(a.campaign_id, (0, 0))
            usage[a.campaign_id] = (amount + a.amount_minor, count + 1)
            per_day[(a.campaign_id, a.local_day)] = per_day.get((a.campaign_id, a.local_day), 0) + 1
            if a.budgeted:
                self.budgets[a.campaign_id] = self.budgets.get(a.campaign_id, 0) + a.amount_minor


@dataclass(frozen=True)
class EventRow:
    event_id: str
    customer_id: str
    currency: str
    fingerprint: str
    score_body: bytes
    awards: Sequence[AwardRow]


_LOAD = ("SELECT kind, i, key, sub, extra, a, b, body"
         " FROM rules_score_load_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")

# $13-$16 the events (id, customer, fingerprint, score body), $17-$23 their
# awards (event, campaign, version, customer, currency, amount, local day).
_WRITE = """
WITH e AS (INSERT INTO rules_events (merchant_id, event_id, customer_id, fingerprint, score_body, created_at)
           SELECT $1, x.eid, x.cust, x.fp, x.body, $2
           FROM unnest($13::text[], $14::text[], $15::text[], $16::bytea[]) AS x(eid, cust, fp, body)),
    a AS (INSERT INTO rules_event_awards (merchant_id, event_id, campaign_id, campaign_version, customer_id,
                                          currency, amount_minor, local_day)
          SELECT $1, x.eid, x.cid, x.ver, x.cust, x.cur, x.amt, x.day
          FROM unnest($17::text[], $18::text[], $19::int[], $20::text[], $21::text[], $22::bigint[], $23::text[])
              AS x(eid, cid, ver, cust, cur, amt, day)),""" + USAGE_CTES


class EventGroupTx(ScoreStatements):
    """The statements of one event group's transaction."""

    async def load(self, merchant_id: str, events: Sequence[EventAsked], *, budget_ids: list[str],
                   usage_ids: list[str], days: list[str], currency: str) -> GroupLoaded:
        if len(events) == 1:  # a lone event: the one-customer load, a lighter function
            e = events[0]
            one = await ScoreTx(self.db, self.conn).load("event", e.event_id, merchant_id, e.customer_id,
                                                         add_orders=0, budget_ids=budget_ids, usage_ids=usage_ids,
                                                         days=days, currency=currency, since=e.since, until=e.until)
            return GroupLoaded.of_one(e, one)
        since_of = [n for n, e in enumerate(events, 1) for _ in e.since]
        args = [merchant_id, [e.event_id for e in events], [e.customer_id for e in events], sorted(budget_ids),
                sorted(usage_ids), sorted(days), currency, [t for e in events for t in e.since], since_of,
                [e.until for e in events]]
        out = GroupLoaded()
        spend_rows: dict[int, int] = {}  # position in p_since (1-based) -> spend
        for kind, _event, key, sub, extra, a, b, body in await self.fetch(_LOAD, *args):
            if kind == "generation":
                out.generation = int(a)
            elif kind == "stored":
                out.stored[key] = Stored(sub, bytes(body) if body is not None else None)
            elif kind == "customer":
                out.customers[key] = CustomerRow(sub, int(a), extra)
            elif kind == "budget":
                out.budgets[key] = int(a)
            elif kind == "usage":
                out.usage.setdefault(key, {})[sub] = (int(a), int(b))
            elif kind == "day":
                out.per_day.setdefault(key, {})[(sub, extra)] = int(a)
            else:
                spend_rows[int(key)] = int(a)
        position = 1
        for n, e in enumerate(events):
            out.spends[n] = [spend_rows[position + k] for k in range(len(e.since))]
            position += len(e.since)
        return out

    async def write(self, merchant_id: str, rows: Sequence[EventRow], created_at: datetime) -> None:
        awards = [(r, a) for r in rows for a in r.awards]
        await self.store(_WRITE, [
            merchant_id, created_at, *usage_args([(r.customer_id, a) for r, a in awards]),
            [r.event_id for r in rows], [r.customer_id for r in rows], [r.fingerprint for r in rows],
            [r.score_body for r in rows],
            [r.event_id for r, _ in awards], [a.campaign_id for _, a in awards],
            [a.campaign_version for _, a in awards], [r.customer_id for r, _ in awards],
            [r.currency for r, _ in awards], [a.amount_minor for _, a in awards], [a.local_day for _, a in awards]])


@asynccontextmanager
async def transaction(conn: Statements) -> AsyncIterator[EventGroupTx]:
    """BEGIN ... COMMIT on `conn` (a scoring pool connection), or ROLLBACK if the block raises."""
    async with pgtx.begin(conn):
        yield EventGroupTx(conn.db, conn.conn)
