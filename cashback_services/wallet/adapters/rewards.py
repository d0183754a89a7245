"""The rewards catalogue (migration 0008). A redemption runs on the aggregate
path with its record (records.py): after the customer's lock, the reward row
is read FOR UPDATE, so two redemptions of the last item wait for each other
and the second sees the stock the first left; the record and the stock's
decrement are one statement."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from cashback_kit import paging
from cashback_kit.db import Database
from cashback_kit.pgtx import Tx, transaction
from cashback_services.wallet.adapters.records import Records, locked_with_record
from cashback_services.wallet.adapters.repository import IdemKey, State, Want
from cashback_services.wallet.domain.rewards import Redemption, Reward

_UPSERT = """INSERT INTO wallet_rewards (merchant_id, reward_id, names, points_cost, stock, active, updated_at)
VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7) ON CONFLICT (merchant_id, reward_id) DO UPDATE
SET names = EXCLUDED.names, points_cost = EXCLUDED.points_cost, stock = EXCLUDED.stock, active = EXCLUDED.active,
    updated_at = EXCLUDED.updated_at
RETURNING *"""
_FOR_UPDATE = "SELECT * FROM wallet_rewards WHERE merchant_id = $1 AND reward_id = $2 FOR UPDATE"
# The record and the stock: one statement. The CHECK on stock is the last word if a bug ever let
# a redemption through with nothing left.
_RECORD = """WITH r AS (
  INSERT INTO wallet_reward_redemptions (redemption_id, transaction_id, merchant_id, customer_id, reward_id, points,
                                         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7))
UPDATE wallet_rewards SET stock = stock - 1, redeemed_count = redeemed_count + 1
 WHERE merchant_id = $3 AND reward_id = $5"""
_SELECT = "SELECT * FROM wallet_reward_redemptions WHERE merchant_id = $1 AND redemption_id = $2"
_PAGE = text("""
SELECT merchant_id, reward_id, names::text, points_cost, stock, active, redeemed_count, updated_at
  FROM wallet_rewards
 WHERE merchant_id = :m AND (active OR NOT :active_only) AND reward_id > :after
 ORDER BY reward_id LIMIT :n""")


def reward_from_row(r: Any) -> Reward:
    names = json.loads(r["names"]) if isinstance(r["names"], str) else r["names"]
    return Reward(
        r["merchant_id"],
        r["reward_id"],
        dict(names),
        int(r["points_cost"]),
        None if r["stock"] is None else int(r["stock"]),
        bool(r["active"]),
        int(r["redeemed_count"]),
        r["updated_at"].astimezone(UTC),
    )


async def upsert(db: Database, reward: Reward, now: datetime) -> Reward:
    async with transaction(db) as tx:
        row = await tx.fetchrow(
            _UPSERT,
            reward.merchant_id,
            reward.reward_id,
            json.dumps(reward.names),
            reward.points_cost,
            reward.stock,
            reward.active,
            now,
        )
    assert row is not None
    return reward_from_row(row)


def _after(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("bad cursor")
    return raw


async def page(db: Database, merchant_id: str, active_only: bool, size: int, token: str) -> tuple[list[Reward], str]:
    query = paging.scope("ListRewards", merchant_id, active_only)
    after = paging.read(token, query, _after) or ""
    rows = await db.fetch_rows(_PAGE, {"m": merchant_id, "active_only": active_only, "after": after, "n": size + 1})
    cols = ("merchant_id", "reward_id", "names", "points_cost", "stock", "active", "redeemed_count", "updated_at")
    out = [reward_from_row(dict(zip(cols, r, strict=True))) for r in rows[:size]]
    return out, paging.issue(query, out[-1].reward_id) if len(rows) > size else ""


async def for_update(tx: Tx, merchant_id: str, reward_id: str) -> Reward | None:
    row = await tx.fetchrow(_FOR_UPDATE, merchant_id, reward_id)
    return reward_from_row(row) if row is not None else None


def locked(
    db: Database, now: datetime, want: Want, key: IdemKey
) -> AbstractAsyncContextManager[tuple[State, Tx, Records[Redemption]]]:
    return locked_with_record(db, now, want, key, _get, _insert)


async def _insert(tx: Tx, r: Redemption) -> None:
    await tx.execute(
        _RECORD, r.redemption_id, r.transaction_id, r.merchant_id, r.customer_id, r.reward_id, r.points, r.created_at
    )


async def _get(tx: Tx, merchant_id: str, redemption_id: str) -> Redemption | None:
    row = await tx.fetchrow(_SELECT, merchant_id, redemption_id)
    if row is None:
        return None
    return Redemption(
        row["redemption_id"],
        row["merchant_id"],
        row["customer_id"],
        row["reward_id"],
        int(row["points"]),
        row["transaction_id"],
        row["created_at"].astimezone(UTC),
    )
