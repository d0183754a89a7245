"""What a scoring transaction locks and reads before it knows the customer,
and what it makes of what it read: shared by ScoreOrder (scoring.py) and the
ScoreEvent groups (event_groups.py).

The campaigns a call could pay for any customer (`Plan`) are found from the
campaign snapshot in hand, without reading the customer: their budgets are
locked and their usage read by rules_score_load(). The customer, read under the
lock, is then judged once. If the merchant's campaigns changed meanwhile (the
generation read with the lock is newer) and the candidates with the current
campaigns are not all covered, the transaction is run again with those
campaigns (`Stale`): rare, and never wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback_kit.db import Database
from cashback_kit.errors import AlreadyExists
from cashback_kit.idempotency import check_same
from cashback_services.rules.adapters import codec, score_repo
from cashback_services.rules.domain.evaluate import Candidate, local_day
from cashback_services.rules.domain.model import Profile, Rule, ScoreOut, Usage
from cashback_services.rules.domain.tiers import TierPolicy, effective_tier
from cashback_services.rules.service_layer.cache import MerchantCache, Snapshot
from cashback_services.rules.service_layer.customers import needs_spend, profile_of


def usage_from(days: dict[str, str], budgets: dict[str, int], per_customer: dict[str, tuple[int, int]],
                per_day: dict[tuple[str, str], int]) -> dict[str, Usage]:
    """Usage per campaign (keys of `days`: campaign -> its local day of the order)."""
    out: dict[str, Usage] = {}
    for cid in sorted(days):
        amount, count = per_customer.get(cid, (0, 0))
        out[cid] = Usage(budgets.get(cid, 0), amount, count, per_day.get((cid, days[cid]), 0))
    return out


def replay(stored: score_repo.Stored, fingerprint: str, key: str) -> bytes:
    if stored.score_body is None:  # ImportOrders stores past orders with no score
        raise AlreadyExists(f"{key} was imported as a past order; it is history, not scored")
    check_same(stored.fingerprint, fingerprint, key)
    return codec.unpack(stored.score_body)


ATTEMPTS = 5


@dataclass(frozen=True)
class Plan:
    """What one scoring transaction locks and reads before it knows the
    customer: from the campaign snapshot in hand, the campaigns the call could
    pay for any customer (could_pay), their local days, and the spend windows
    of the tier policy."""

    currency: str  # of the tier policy's spend
    usage_ids: frozenset[str]
    budget_ids: frozenset[str]
    days: frozenset[str]
    since: list[datetime]

    @classmethod
    def of(cls, snap: Snapshot | None, rules: list[Rule], when: datetime) -> Plan:
        return cls((snap.policy.currency or "") if snap is not None else "",
                   frozenset(r.campaign_id for r in rules),
                   frozenset(r.campaign_id for r in rules if r.budget is not None),
                   frozenset(local_day(r, when) for r in rules),
                   windows(snap.policy, when) if snap is not None else [])

    def covers(self, candidates: list[Candidate], when: datetime) -> bool:
        """Whether what was locked and read is all the candidates need (the
        snapshot may have changed since the plan was made)."""
        return all(x.rule.campaign_id in self.usage_ids and local_day(x.rule, when) in self.days
                   and (x.rule.budget is None or x.rule.campaign_id in self.budget_ids) for x in candidates)


class Stale(Exception):
    """What was locked and read does not cover what the customer, as read under
    the lock, needs with the merchant's current campaigns. Carries those: the
    next attempt plans with them."""

    def __init__(self, snap: Snapshot) -> None:
        super().__init__()
        self.snap = snap


def locked_profile(loaded: score_repo.Loaded, snap: Snapshot, plan: Plan, when: datetime) -> Profile:
    """The customer as read under the lock; Stale if their tier needs a spend
    the plan did not ask for (the campaigns changed meanwhile, or none were in hand)."""
    row = loaded.customer
    if not needs_spend(snap.policy, row):
        return profile_of(row, snap.policy)
    if plan.since != windows(snap.policy, when) or plan.currency != (snap.policy.currency or ""):
        raise Stale(snap)
    return Profile(tier=effective_tier(row.manual_tier, snap.policy,
                                       dict(zip(snap.policy.windows, loaded.spends, strict=True))),
                   prior_orders=row.order_count, segment=row.segment)


def windows(policy: TierPolicy, at: datetime) -> list[datetime]:
    return policy.since(at) if policy.tiers and policy.currency else []


def usage_of(candidates: list[Candidate], loaded: score_repo.Loaded, when: datetime) -> dict[str, Usage]:
    days = {x.rule.campaign_id: local_day(x.rule, when) for x in candidates}
    return usage_from(days, loaded.budgets, loaded.usage, loaded.per_day)


def award_rows(candidates: list[Candidate], out: ScoreOut) -> list[score_repo.AwardRow]:
    budgeted = {x.rule.campaign_id for x in candidates if x.rule.budget is not None}
    return [score_repo.AwardRow(a.campaign_id, a.campaign_version, a.amount.minor, a.local_day,
                                a.campaign_id in budgeted) for a in out.awards]


async def snapshot_at(db: Database, cache: MerchantCache, merchant_id: str, generation: int,
                      hand: Snapshot | None = None) -> Snapshot:
    """The campaign snapshot at `generation`: the one in hand if it is."""
    if hand is not None and hand.generation == generation:
        return hand
    snap = cache.peek(merchant_id, generation)
    if snap is None:
        async with db.read() as conn:
            snap = await cache.get(conn, merchant_id, generation)
    return snap
