"""Customer history and usage: orders, awards, events, refunds, per-customer
usage (lifetime and per local day) and the customer row.

Row locking: ScoreOrder/ScoreEvent/ReverseOrder lock the customer row first
(an upsert that always touches it), then campaign rows in campaign_id order.
Per-customer usage rows are only written under the customer lock, so they
need no lock of their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, and_, any_, bindparam, case, func, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_services.rules.adapters.tables import (
    awards,
    campaigns,
    customer_day_usage,
    customer_rfm,
    customer_usage,
    customers,
    merchants,
    orders,
    refunds,
)


@dataclass(frozen=True)
class CustomerRow:
    manual_tier: str
    order_count: int
    segment: str = ""  # RFM, as last computed (read unlocked: only recomputation changes it)


async def lock_customer(conn: AsyncConnection, merchant_id: str, customer_id: str,
                        add_orders: int = 0) -> CustomerRow:
    """Create-or-touch the customer row (which locks it until commit on
    PostgreSQL) and return it as it was before `add_orders` was added."""
    # A negative delta only goes into the UPDATE part: the INSERT values must
    # pass the CHECK constraint on their own.
    new = insert(customers).values(merchant_id=merchant_id, customer_id=customer_id, manual_tier="",
                                   order_count=max(add_orders, 0))
    stmt = new.on_conflict_do_update(
        index_elements=[customers.c.merchant_id, customers.c.customer_id],
        set_={"order_count": customers.c.order_count + add_orders},
    ).returning(customers.c.manual_tier, customers.c.order_count)
    r = (await conn.execute(stmt)).one()
    return CustomerRow(r.manual_tier, int(r.order_count) - add_orders)


def _generation_and_customer_stmt() -> Any:
    c = customers.c
    m, cid = bindparam("m", type_=String()), bindparam("c", type_=String())
    me = (c.merchant_id == m) & (c.customer_id == cid)
    return select(
        select(merchants.c.generation).where(merchants.c.merchant_id == m).scalar_subquery(),
        select(c.manual_tier).where(me).scalar_subquery(),
        select(c.order_count).where(me).scalar_subquery(),
        select(customer_rfm.c.segment).where(customer_rfm.c.merchant_id == m, customer_rfm.c.customer_id == cid)
        .scalar_subquery(),
    )


_GENERATION_AND_CUSTOMER = _generation_and_customer_stmt()


async def generation_and_customer(db: Database, merchant_id: str, customer_id: str) -> tuple[int, CustomerRow]:
    """The merchant's campaign generation and the customer row (as read_customer
    gives it), in one round trip on the fast read path: what every quote reads first."""
    row = await db.fetch_row(_GENERATION_AND_CUSTOMER, {"m": merchant_id, "c": customer_id})
    gen, tier, count, segment = row if row is not None else (None, None, None, None)
    return int(gen or 0), CustomerRow(tier or "", int(count or 0), segment or "")


UsageSnapshot = tuple[dict[str, int], dict[str, tuple[int, int]], dict[tuple[str, str], int]]


def _usage_stmt(ids: Any, days: Any) -> Any:
    """Budgets used, the customer's usage and per-day usage of some campaigns, as
    (kind, campaign_id, day, a, b) rows. ids/days: how to match the lists."""
    u, d, cp = customer_usage.c, customer_day_usage.c, campaigns.c
    m, c = bindparam("m", type_=String()), bindparam("c", type_=String())
    return union_all(
        select(literal("b"), cp.campaign_id, literal(""), cp.budget_used, literal(0)).where(
            cp.merchant_id == m, ids(cp.campaign_id)),
        select(literal("c"), u.campaign_id, literal(""), u.amount_minor, u.award_count).where(
            u.merchant_id == m, u.customer_id == c, ids(u.campaign_id)),
        select(literal("d"), d.campaign_id, d.local_day, d.award_count, literal(0)).where(
            d.merchant_id == m, d.customer_id == c, ids(d.campaign_id), days(d.local_day)),
    )


# The lists go as arrays: one statement, built and prepared once.
_USAGE = _usage_stmt(lambda col: col == any_(bindparam("ids", type_=ARRAY(String()))),
                        lambda col: col == any_(bindparam("days", type_=ARRAY(String()))))


async def usage_snapshot(db: Database, merchant_id: str, customer_id: str, campaign_ids: list[str],
                         days: list[str]) -> UsageSnapshot:
    """Budgets used, the customer's usage and their per-day usage of these
    campaigns, unlocked (for quotes), in one statement on the fast read path."""
    params = {"m": merchant_id, "c": customer_id, "ids": campaign_ids, "days": days}
    rows = await db.fetch_rows(_USAGE, params)
    budgets: dict[str, int] = {}
    usage: dict[str, tuple[int, int]] = {}
    per_day: dict[tuple[str, str], int] = {}
    for kind, cid, day, a, b in rows:
        if kind == "b":
            budgets[cid] = int(a)
        elif kind == "c":
            usage[cid] = (int(a), int(b))
        else:
            per_day[(cid, day)] = int(a)
    return budgets, usage, per_day


async def read_customer(conn: AsyncConnection, merchant_id: str, customer_id: str) -> CustomerRow:
    segment = select(customer_rfm.c.segment).where(customer_rfm.c.merchant_id == merchant_id,
                                                   customer_rfm.c.customer_id == customer_id).scalar_subquery()
    r = (await conn.execute(select(customers.c.manual_tier, customers.c.order_count, segment).where(
        customers.c.merchant_id == merchant_id, customers.c.customer_id == customer_id))).first()
    return CustomerRow(r[0], int(r[1]), r[2] or "") if r else CustomerRow("", 0)


async def set_manual_tier(conn: AsyncConnection, merchant_id: str, customer_id: str, tier: str) -> None:
    new = insert(customers).values(merchant_id=merchant_id, customer_id=customer_id, manual_tier=tier,
                                   order_count=0)
    stmt = new.on_conflict_do_update(index_elements=[customers.c.merchant_id, customers.c.customer_id],
                                     set_={"manual_tier": tier})
    await conn.execute(stmt)


async def spend_since(conn: AsyncConnection, merchant_id: str, customer_id: str, currency: str,
                      since: list[datetime], until: datetime) -> list[int]:
    """Net merchandise (less refunds) of the customer's orders placed in
    [since_i, until), one sum per window, in a single query."""
    if not since:
        return []
    net = orders.c.merchandise_minor - orders.c.refunded_minor
    cols = [func.coalesce(func.sum(case((orders.c.placed_at >= s, net), else_=0)), 0) for s in since]
    stmt = select(*cols).where(
        orders.c.merchant_id == merchant_id, orders.c.customer_id == customer_id, orders.c.currency == currency,
        orders.c.placed_at >= min(since), orders.c.placed_at < until)
    row = (await conn.execute(stmt)).one()
    return [int(x) for x in row]


async def release_usage(conn: AsyncConnection, merchant_id: str, customer_id: str,
                        given_back: list[tuple[str, int, int, str | None]]) -> None:
    """A reversal gives usage back: per (campaign, amount, count, local day), `amount` and `count`
    negative. Plain UPDATEs (the award created the rows), each kind one executemany: one round trip."""
    if not given_back:
        return
    t = customer_usage
    await conn.execute(update(t).where(
        t.c.merchant_id == bindparam("b_m"), t.c.campaign_id == bindparam("b_c"), t.c.customer_id == bindparam("b_cu"),
    ).values(amount_minor=t.c.amount_minor + bindparam("b_a"), award_count=t.c.award_count + bindparam("b_n")),
        [{"b_m": merchant_id, "b_c": c, "b_cu": customer_id, "b_a": a, "b_n": n} for c, a, n, _ in given_back])
    days = [{"b_m": merchant_id, "b_c": c, "b_cu": customer_id, "b_d": day, "b_n": n}
            for c, _, n, day in given_back if day is not None and n]
    if days:
        d = customer_day_usage
        await conn.execute(update(d).where(
            d.c.merchant_id == bindparam("b_m"), d.c.campaign_id == bindparam("b_c"),
            d.c.customer_id == bindparam("b_cu"), d.c.local_day == bindparam("b_d"),
        ).values(award_count=d.c.award_count + bindparam("b_n")), days)


# Orders -------------------------------------------------------------------

async def find_order(conn: AsyncConnection, merchant_id: str, order_id: str, *, lock: bool = False) -> Any:
    stmt = select(orders).where(orders.c.merchant_id == merchant_id, orders.c.order_id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def add_refunded(conn: AsyncConnection, merchant_id: str, order_id: str, refunded: int, full: bool) -> None:
    await conn.execute(update(orders).where(orders.c.merchant_id == merchant_id, orders.c.order_id == order_id)
                       .values(refunded_minor=refunded, fully_refunded=full))


async def orders_between(conn: AsyncConnection, merchant_id: str, since: datetime, until: datetime,
                         limit: int, chunk: int = 2_000) -> list[Any]:
    """At most `limit` orders placed in [since, until), oldest first. Fetched
    from a server-side cursor `chunk` rows at a time (the caller's connection
    must be in a transaction), so turning tens of thousands of rows into
    Python objects never holds the event loop for long."""
    stmt = (select(orders.c.order_id, orders.c.customer_id, orders.c.placed_at, orders.c.currency,
                   orders.c.merchandise_minor, orders.c.refunded_minor, orders.c.fully_refunded, orders.c.order_body)
            .where(orders.c.merchant_id == merchant_id, orders.c.placed_at >= since, orders.c.placed_at < until)
            .order_by(orders.c.placed_at, orders.c.order_id).limit(limit))
    rows: list[Any] = []
    result = await conn.stream(stmt.execution_options(yield_per=chunk))
    async for part in result.partitions(chunk):
        rows += part
    return rows


async def prior_counts(conn: AsyncConnection, merchant_id: str, before: datetime) -> dict[str, int]:
    """Per customer: orders placed before `before` and not refunded in full."""
    stmt = (select(orders.c.customer_id, func.count()).where(
        orders.c.merchant_id == merchant_id, orders.c.placed_at < before, orders.c.fully_refunded.is_(False))
        .group_by(orders.c.customer_id))
    return {r[0]: int(r[1]) for r in (await conn.execute(stmt)).all()}


async def order_awards(conn: AsyncConnection, merchant_id: str, order_id: str) -> list[Any]:
    stmt = select(awards).where(awards.c.merchant_id == merchant_id, awards.c.order_id == order_id).order_by(
        awards.c.campaign_id)
    return list((await conn.execute(stmt)).all())


async def add_reversed(conn: AsyncConnection, merchant_id: str, order_id: str, deltas: list[tuple[str, int]]) -> None:
    """What a reversal took back of each of the order's awards, per (campaign, delta): one executemany."""
    if not deltas:
        return
    await conn.execute(update(awards).where(and_(
        awards.c.merchant_id == bindparam("b_m"), awards.c.order_id == bindparam("b_o"),
        awards.c.campaign_id == bindparam("b_c"),
    )).values(reversed_minor=awards.c.reversed_minor + bindparam("b_d")),
        [{"b_m": merchant_id, "b_o": order_id, "b_c": c, "b_d": d} for c, d in deltas])


# Events and refunds --------------------------------------------------------

async def find_refund(conn: AsyncConnection, merchant_id: str, refund_id: str) -> Any:
    return (await conn.execute(select(refunds).where(
        refunds.c.merchant_id == merchant_id, refunds.c.refund_id == refund_id))).first()


async def insert_refund(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(refunds.insert().values(**values))


async def segments_of(conn: AsyncConnection, merchant_id: str, customer_ids: list[str],
                      segments: list[str]) -> dict[str, str]:
    """Which of these customers are in these RFM segments (as last computed)."""
    t = customer_rfm
    stmt = select(t.c.customer_id, t.c.segment).where(
        t.c.merchant_id == merchant_id, t.c.customer_id == any_(bindparam("ids", customer_ids, ARRAY(String()))),
        t.c.segment == any_(bindparam("segs", segments, ARRAY(String()))))
    return {r[0]: r[1] for r in (await conn.execute(stmt)).all()}


async def manual_tiers(conn: AsyncConnection, merchant_id: str) -> dict[str, str]:
    stmt = select(customers.c.customer_id, customers.c.manual_tier).where(
        customers.c.merchant_id == merchant_id, customers.c.manual_tier != "")
    return {r[0]: r[1] for r in (await conn.execute(stmt)).all()}
