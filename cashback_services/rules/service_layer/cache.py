"""The per-merchant in-memory campaign index and tier policy.

Freshness: every campaign or tier-policy write bumps the merchant's
`generation` in the same transaction. Before scoring, one primary-key read of
that number tells whether the snapshot is stale; if so it is rebuilt with one
query for all active campaigns. This also catches writes made by another rules
process, at the cost of one tiny indexed read per call (no time-based
staleness window to reason about)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.money import Money
from cashback_services.rules.adapters import campaign_repo
from cashback_services.rules.adapters.codec import rule_from_body
from cashback_services.rules.domain.index import CampaignIndex
from cashback_services.rules.domain.model import CampaignStatus
from cashback_services.rules.domain.tiers import MonthCalendar, TierDef, TierPolicy, TierWindow
from cashback_services.rules.service_layer.skips import SkipList


@dataclass(frozen=True)
class Snapshot:
    generation: int
    index: CampaignIndex
    policy: TierPolicy
    skips: SkipList


def policy_from_json(body: str | None) -> TierPolicy:
    if not body:
        return TierPolicy()
    data = json.loads(body)
    return TierPolicy(tuple(TierDef(t["name"], Money(t["currency"], int(t["min_minor"])), int(t["window_days"]),
                                    TierWindow(t.get("window", TierWindow.ROLLING_DAYS)))
                            for t in data["tiers"]), data.get("timezone", "UTC"),
                      MonthCalendar(data.get("calendar", MonthCalendar.GREGORIAN)))


def policy_to_json(policy: TierPolicy) -> str:
    """Keys at their default are left out, so a policy stored before calendar
    months existed reads back as the same text (an unchanged upsert stays a no-op)."""
    tiers: list[dict[str, object]] = []
    for t in policy.tiers:
        tiers.append({"name": t.name, "currency": t.min_spend.currency, "min_minor": t.min_spend.minor,
                      "window_days": t.window_days})
        if t.window is not TierWindow.ROLLING_DAYS:
            tiers[-1]["window"] = t.window.value
    body: dict[str, object] = {"tiers": tiers}
    if policy.timezone != "UTC":
        body["timezone"] = policy.timezone
    if policy.calendar is not MonthCalendar.GREGORIAN:
        body["calendar"] = policy.calendar.value
    return json.dumps(body, sort_keys=True)


class MerchantCache:
    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        # One rebuild per merchant at a time: a burst of calls that all see the
        # new generation waits for a single rebuild instead of each doing one.
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def latest(self, merchant_id: str) -> Snapshot | None:
        """The snapshot in hand, whatever its generation."""
        return self._snapshots.get(merchant_id)

    def peek(self, merchant_id: str, generation: int) -> Snapshot | None:
        """The snapshot if it is at `generation` (no rebuild, no read)."""
        snap = self._snapshots.get(merchant_id)
        return snap if snap is not None and snap.generation == generation else None

    async def get(self, conn: AsyncConnection, merchant_id: str, generation: int | None = None) -> Snapshot:
        """The snapshot at the merchant's current generation (read here, or just
        read by the caller along with something else)."""
        # Generation first, then the campaigns: a write that lands in between
        # leaves us with newer data under an older number, which only causes
        # one extra rebuild, never a stale index kept.
        gen = await campaign_repo.generation(conn, merchant_id) if generation is None else generation
        snap = self._snapshots.get(merchant_id)
        if snap is not None and snap.generation == gen:
            return snap
        async with self._locks[merchant_id]:
            snap = self._snapshots.get(merchant_id)
            if snap is not None and snap.generation >= gen:
                return snap
            return await self._rebuild(conn, merchant_id, gen)

    async def _rebuild(self, conn: AsyncConnection, merchant_id: str, gen: int) -> Snapshot:
        rows = await campaign_repo.current_with_bodies(conn, merchant_id, status=CampaignStatus.ACTIVE)
        rules = [rule_from_body(body, row.seq) for row, body in rows]
        policy = policy_from_json(await campaign_repo.tier_policy_json(conn, merchant_id))
        index = CampaignIndex.build(rules)
        snap = Snapshot(gen, index, policy, SkipList(index.order_rules(), index.every_line))
        self._snapshots[merchant_id] = snap
        return snap
