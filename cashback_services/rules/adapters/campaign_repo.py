"""Campaign storage: a row per campaign (status, current version pointer,
budget used) and immutable version bodies. Every write bumps the merchant's
generation in the same transaction, which is how other rules processes learn
their in-memory index is stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.rules.adapters.tables import awards, campaign_versions, campaigns, event_awards, merchants


@dataclass(frozen=True)
class CampaignRow:
    seq: int
    merchant_id: str
    campaign_id: str
    status: int
    current_version: int
    currency: str
    budget_used: int  # kept while `budgeted`; see paid()
    budgeted: bool
    create_fingerprint: str
    created_at: datetime
    updated_at: datetime


def _row(r) -> CampaignRow:  # type: ignore[no-untyped-def]
    return CampaignRow(r.id, r.merchant_id, r.campaign_id, r.status, r.current_version, r.currency,
                       r.budget_used, r.budgeted, r.create_fingerprint, r.created_at, r.updated_at)


async def bump_generation(conn: AsyncConnection, merchant_id: str) -> None:
    stmt = insert(merchants).values(merchant_id=merchant_id, generation=1)
    stmt = stmt.on_conflict_do_update(index_elements=[merchants.c.merchant_id],
                                      set_={"generation": merchants.c.generation + 1})
    await conn.execute(stmt)


async def generation(conn: AsyncConnection, merchant_id: str) -> int:
    got = await conn.scalar(select(merchants.c.generation).where(merchants.c.merchant_id == merchant_id))
    return int(got or 0)


async def get_row(conn: AsyncConnection, merchant_id: str, campaign_id: str, *,
                  lock: bool = False) -> CampaignRow | None:
    stmt = select(campaigns).where(campaigns.c.merchant_id == merchant_id, campaigns.c.campaign_id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    r = (await conn.execute(stmt)).first()
    return _row(r) if r else None


async def get_body(conn: AsyncConnection, merchant_id: str, campaign_id: str, version: int) -> bytes | None:
    got = await conn.scalar(select(campaign_versions.c.body).where(
        campaign_versions.c.merchant_id == merchant_id, campaign_versions.c.campaign_id == campaign_id,
        campaign_versions.c.version == version))
    return bytes(got) if got is not None else None


async def insert_campaign(conn: AsyncConnection, *, merchant_id: str, campaign_id: str, status: int,
                          currency: str, fingerprint: str, body: bytes, budgeted: bool, now: datetime) -> None:
    await conn.execute(campaigns.insert().values(
        merchant_id=merchant_id, campaign_id=campaign_id, status=status, current_version=1, currency=currency,
        budget_used=0, budgeted=budgeted, paid_before=0, create_fingerprint=fingerprint, created_at=now,
        updated_at=now))
    await add_version(conn, merchant_id, campaign_id, 1, body, budgeted, now)


async def add_version(conn: AsyncConnection, merchant_id: str, campaign_id: str, version: int, body: bytes,
                      budgeted: bool, now: datetime) -> None:
    """The new current version. A campaign that gets a budget starts its counter
    at what it paid so far (call with the campaign row locked)."""
    await conn.execute(campaign_versions.insert().values(
        merchant_id=merchant_id, campaign_id=campaign_id, version=version, body=body, created_at=now))
    c = campaigns.c
    counter = case((c.budgeted, c.budget_used), else_=_paid_sum(c.merchant_id, c.campaign_id)) if budgeted \
        else c.budget_used
    await conn.execute(update(campaigns).where(c.merchant_id == merchant_id, c.campaign_id == campaign_id).values(
        current_version=version, updated_at=now, budgeted=budgeted, budget_used=counter))
    await bump_generation(conn, merchant_id)


def _paid_sum(merchant_id: Any, campaign_id: Any) -> Any:
    """What a campaign paid, from its rows: paid before award rows, order awards
    net of reversals, event awards."""
    a, e = awards.c, event_awards.c
    orders_paid = select(func.coalesce(func.sum(a.amount_minor - a.reversed_minor), 0)).where(
        a.merchant_id == merchant_id, a.campaign_id == campaign_id).scalar_subquery()
    events_paid = select(func.coalesce(func.sum(e.amount_minor), 0)).where(
        e.merchant_id == merchant_id, e.campaign_id == campaign_id).scalar_subquery()
    return campaigns.c.paid_before + orders_paid + events_paid


async def paid(conn: AsyncConnection, merchant_id: str, campaign_ids: list[str]) -> dict[str, int]:
    """campaign_id -> what it paid, net of reversals: the counter of a budgeted
    campaign, summed from the award rows for the others (no row every order
    of theirs would have to update)."""
    if not campaign_ids:
        return {}
    c = campaigns.c
    stmt = select(c.campaign_id, case((c.budgeted, c.budget_used),
                                      else_=_paid_sum(c.merchant_id, c.campaign_id))).where(
        c.merchant_id == merchant_id, c.campaign_id.in_(campaign_ids))
    return {cid: int(v) for cid, v in (await conn.execute(stmt)).all()}


async def set_status(conn: AsyncConnection, merchant_id: str, campaign_id: str, status: int, now: datetime) -> None:
    await conn.execute(update(campaigns).where(
        campaigns.c.merchant_id == merchant_id, campaigns.c.campaign_id == campaign_id,
    ).values(status=status, updated_at=now))
    await bump_generation(conn, merchant_id)


async def current_with_bodies(conn: AsyncConnection, merchant_id: str, *, status: int | None = None,
                              after_seq: int = 0, limit: int | None = None) -> list[tuple[CampaignRow, bytes]]:
    """Campaign rows with their current version body, oldest first, in one query."""
    join = campaigns.join(campaign_versions, and_(
        campaign_versions.c.merchant_id == campaigns.c.merchant_id,
        campaign_versions.c.campaign_id == campaigns.c.campaign_id,
        campaign_versions.c.version == campaigns.c.current_version))
    stmt = select(campaigns, campaign_versions.c.body).select_from(join).where(
        campaigns.c.merchant_id == merchant_id, campaigns.c.id > after_seq).order_by(campaigns.c.id)
    if status is not None:
        stmt = stmt.where(campaigns.c.status == status)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(_row(r), bytes(r.body)) for r in (await conn.execute(stmt)).all()]


async def lock_budgets(conn: AsyncConnection, merchant_id: str, campaign_ids: list[str]) -> dict[str, int]:
    """Lock those of the campaigns that have a budget, in campaign_id order (as
    scoring does: no deadlock), and return their budget_used."""
    if not campaign_ids:
        return {}
    stmt = (select(campaigns.c.campaign_id, campaigns.c.budget_used)
            .where(campaigns.c.merchant_id == merchant_id, campaigns.c.campaign_id.in_(sorted(campaign_ids)),
                   campaigns.c.budgeted)
            .order_by(campaigns.c.campaign_id).with_for_update())
    return {r.campaign_id: int(r.budget_used) for r in (await conn.execute(stmt)).all()}


async def add_budget_used(conn: AsyncConnection, merchant_id: str, deltas: list[tuple[str, int]]) -> None:
    """Per (campaign, delta), the campaigns' budget_used moved by delta: one executemany."""
    if not deltas:
        return
    await conn.execute(update(campaigns).where(
        campaigns.c.merchant_id == bindparam("b_m"), campaigns.c.campaign_id == bindparam("b_c"),
    ).values(budget_used=campaigns.c.budget_used + bindparam("b_d")),
        [{"b_m": merchant_id, "b_c": c, "b_d": d} for c, d in deltas])


async def tier_policy_json(conn: AsyncConnection, merchant_id: str) -> str | None:
    return await conn.scalar(select(merchants.c.tier_policy).where(merchants.c.merchant_id == merchant_id))


async def set_tier_policy_json(conn: AsyncConnection, merchant_id: str, body: str) -> None:
    stmt = insert(merchants).values(merchant_id=merchant_id, generation=1, tier_policy=body)
    stmt = stmt.on_conflict_do_update(index_elements=[merchants.c.merchant_id],
                                      set_={"generation": merchants.c.generation + 1, "tier_policy": body})
    await conn.execute(stmt)

