"""Campaign storage: a row per campaign (status, current version pointer,
budget used) and immutable version bodies. Every write bumps the merchant's
generation in the same transaction, which is how other rules processes learn
their in-memory index is stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.rules.adapters.tables import campaign_versions, campaigns, merchants


@dataclass(frozen=True)
class CampaignRow:
    seq: int
    merchant_id: str
    campaign_id: str
    status: int
    current_version: int
    currency: str
    budget_used: int
    create_fingerprint: str
    created_at: datetime
    updated_at: datetime


def _row(r) -> CampaignRow:  # type: ignore[no-untyped-def]
    return CampaignRow(r.id, r.merchant_id, r.campaign_id, r.status, r.current_version, r.currency,
                       r.budget_used, r.create_fingerprint, r.created_at, r.updated_at)


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
                          currency: str, fingerprint: str, body: bytes, now: datetime) -> None:
    await conn.execute(campaigns.insert().values(
        merchant_id=merchant_id, campaign_id=campaign_id, status=status, current_version=1, currency=currency,
        budget_used=0, create_fingerprint=fingerprint, created_at=now, updated_at=now))
    await add_version(conn, merchant_id, campaign_id, 1, body, now)


async def add_version(conn: AsyncConnection, merchant_id: str, campaign_id: str, version: int, body: bytes,
                      now: datetime) -> None:
    await conn.execute(campaign_versions.insert().values(
        merchant_id=merchant_id, campaign_id=campaign_id, version=version, body=body, created_at=now))
    await conn.execute(update(campaigns).where(
        campaigns.c.merchant_id == merchant_id, campaigns.c.campaign_id == campaign_id,
    ).values(current_version=version, updated_at=now))
    await bump_generation(conn, merchant_id)


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
    """Lock the campaigns whose budget this call may consume, in campaign_id
    order: every scorer takes them in the same order, so no deadlock."""
    if not campaign_ids:
        return {}
    stmt = (select(campaigns.c.campaign_id, campaigns.c.budget_used)
            .where(campaigns.c.merchant_id == merchant_id, campaigns.c.campaign_id.in_(sorted(campaign_ids)))
            .order_by(campaigns.c.campaign_id).with_for_update())
    return {r.campaign_id: int(r.budget_used) for r in (await conn.execute(stmt)).all()}


async def add_budget_used(conn: AsyncConnection, merchant_id: str, campaign_id: str, delta: int) -> None:
    await conn.execute(update(campaigns).where(
        campaigns.c.merchant_id == merchant_id, campaigns.c.campaign_id == campaign_id,
    ).values(budget_used=campaigns.c.budget_used + delta))


async def add_budget_used_many(conn: AsyncConnection, merchant_id: str, deltas: list[tuple[str, int]]) -> None:
    """One executemany for all the campaigns an order paid."""
    if not deltas:
        return
    stmt = update(campaigns).where(
        campaigns.c.merchant_id == bindparam("m"), campaigns.c.campaign_id == bindparam("cid"),
    ).values(budget_used=campaigns.c.budget_used + bindparam("delta"))
    await conn.execute(stmt, [{"m": merchant_id, "cid": cid, "delta": delta} for cid, delta in deltas])


async def tier_policy_json(conn: AsyncConnection, merchant_id: str) -> str | None:
    return await conn.scalar(select(merchants.c.tier_policy).where(merchants.c.merchant_id == merchant_id))


async def set_tier_policy_json(conn: AsyncConnection, merchant_id: str, body: str) -> None:
    stmt = insert(merchants).values(merchant_id=merchant_id, generation=1, tier_policy=body)
    stmt = stmt.on_conflict_do_update(index_elements=[merchants.c.merchant_id],
                                      set_={"generation": merchants.c.generation + 1, "tier_policy": body})
    await conn.execute(stmt)

