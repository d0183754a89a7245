"""Customer profiles: manual tier, scored order count, spend in the tier
windows, and the effective tier; plus the merchant's tier policy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit import audit
from cashback_kit.db import Database
from cashback_kit.errors import Violations
from cashback_kit.money import Money
from cashback_services.rules.adapters import campaign_repo, history_repo, tables
from cashback_services.rules.adapters.codec import rule_from_body
from cashback_services.rules.adapters.history_repo import CustomerRow
from cashback_services.rules.domain.model import Profile
from cashback_services.rules.domain.tiers import (
    MONTH,
    MonthCalendar,
    TierDef,
    TierPolicy,
    TierWindow,
    effective_tier,
    usual_calendar,
)
from cashback_services.rules.service_layer.cache import MerchantCache, policy_from_json, policy_to_json


@dataclass(frozen=True)
class ProfileView:
    tier: str
    manual_tier: str
    order_count: int
    spend: Money | None  # in the main window (TierPolicy.main_window)
    window_days: int  # of the main window; 0 when it is the calendar month
    window: TierWindow = TierWindow.ROLLING_DAYS
    window_start: datetime | None = None
    month_spend: Money | None = None  # when a tier counts the calendar month


def needs_spend(policy: TierPolicy, row: CustomerRow, want_spend: bool = False) -> bool:
    """Whether the customer's tier depends on their rolling spend (a policy tier
    and no manual tier), or the caller wants the spend anyway."""
    return bool(policy.tiers and policy.currency and (want_spend or not row.manual_tier))


def profile_of(row: CustomerRow, policy: TierPolicy) -> Profile:
    """The profile when no spend is needed (needs_spend is False)."""
    return Profile(tier=effective_tier(row.manual_tier, policy, {}), prior_orders=row.order_count,
                   segment=row.segment)


async def load_profile(conn: AsyncConnection, merchant_id: str, customer_id: str, policy: TierPolicy,
                       at: datetime, *, want_spend: bool = False,
                       row: CustomerRow | None = None) -> tuple[Profile, ProfileView]:
    """The customer's profile, unlocked (quotes, the profile RPC; scoring reads
    it under lock in score_repo). Rolling spend is only summed when a policy tier
    depends on it (no manual tier) or `want_spend` asks for it."""
    if row is None:
        row = await history_repo.read_customer(conn, merchant_id, customer_id)
    spends: dict[int, int] = {}
    window = policy.main_window
    if needs_spend(policy, row, want_spend):
        currency = policy.currency or ""  # set: needs_spend() said so
        sums = await history_repo.spend_since(conn, merchant_id, customer_id, currency, policy.since(at), at)
        spends = dict(zip(policy.windows, sums, strict=True))
    tier = effective_tier(row.manual_tier, policy, spends)
    profile = Profile(tier=tier, prior_orders=row.order_count, segment=row.segment)
    if not spends:
        return profile, ProfileView(tier, row.manual_tier, row.order_count, None, window)
    currency = policy.currency or ""
    month = Money(currency, spends[MONTH]) if MONTH in spends else None
    kind = TierWindow.CALENDAR_MONTH if window == MONTH else TierWindow.ROLLING_DAYS
    return profile, ProfileView(tier, row.manual_tier, row.order_count, Money(currency, spends[window]), window,
                                kind, policy.window_start(window, at), month)


def validate_policy(tiers: list[tuple[str, Money | None, int, TierWindow]], timezone: str = "") -> TierPolicy:
    v = Violations()
    v.check(0 < len(tiers) <= 100, "tiers", "a policy has 1 to 100 tiers")
    timezone = timezone or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        v.add("timezone", f"{timezone[:64]!r} is not an IANA time zone such as Asia/Tehran")
    names: set[str] = set()
    currencies: set[str] = set()
    defs: list[TierDef] = []
    for i, (name, min_spend, window, kind) in enumerate(tiers):
        v.check(bool(name.strip()) and len(name) <= 128, f"tiers[{i}].name", "a tier needs a name")
        v.check(name not in names, f"tiers[{i}].name", f"tier {name!r} is listed twice")
        names.add(name)
        if kind is TierWindow.CALENDAR_MONTH:
            v.check(window == 0, f"tiers[{i}].window_days", "a calendar-month tier has no window_days (leave it 0)")
        else:
            v.check(1 <= window <= 3650, f"tiers[{i}].window_days", "window_days must be 1 to 3650")
        if min_spend is None:
            v.add(f"tiers[{i}].min_spend", "min_spend is required")
            continue
        currencies.add(min_spend.currency)
        defs.append(TierDef(name, min_spend, window, kind))
    v.check(len(currencies) <= 1, "tiers", "all tiers must use one currency")
    v.raise_if_any("invalid tier policy")
    return TierPolicy(tuple(defs), timezone)


async def _usual_zone(conn: AsyncConnection, merchant_id: str) -> str:
    rows = await campaign_repo.current_with_bodies(conn, merchant_id, limit=1000)
    zones = Counter(rule_from_body(body, row.seq).timezone for row, body in rows)
    return zones.most_common(1)[0][0] if zones else "UTC"


class Customers:
    def __init__(self, db: Database, cache: MerchantCache) -> None:
        self.db, self.cache = db, cache

    async def upsert_policy(self, merchant_id: str, policy: TierPolicy, now: datetime, *,
                            zone_given: bool = True, calendar: MonthCalendar | None = None) -> TierPolicy:
        """Without a zone given, calendar months start in the zone most of the
        merchant's campaigns count their days in (UTC when it has none); without
        a calendar, they are the months people count in that zone."""
        async with self.db.write() as conn:
            if not zone_given:
                policy = replace(policy, timezone=await _usual_zone(conn, merchant_id))
            policy = replace(policy, calendar=calendar or usual_calendar(policy.timezone))
            body = policy_to_json(policy)
            if await campaign_repo.tier_policy_json(conn, merchant_id) != body:
                await campaign_repo.set_tier_policy_json(conn, merchant_id, body)
                await audit.record(conn, tables.audit, at=now, merchant_id=merchant_id, action="UpsertTierPolicy",
                                   target="tier_policy", change={
                                       "timezone": policy.timezone, "calendar": policy.calendar.value, "tiers": [
                                       {"name": t.name, "min_spend": str(t.min_spend), "window_days": t.window_days,
                                        "window": t.window.value} for t in policy.tiers]})
        return policy

    async def set_tier(self, merchant_id: str, customer_id: str, tier: str, now: datetime) -> ProfileView:
        async with self.db.write() as conn:
            await history_repo.set_manual_tier(conn, merchant_id, customer_id, tier)
            await audit.record(conn, tables.audit, at=now, merchant_id=merchant_id, action="SetCustomerTier",
                               target=customer_id, change={"tier": tier})
        return await self.profile(merchant_id, customer_id, now)

    async def profile(self, merchant_id: str, customer_id: str, now: datetime) -> ProfileView:
        async with self.db.read() as conn:
            policy = policy_from_json(await campaign_repo.tier_policy_json(conn, merchant_id))
            _, view = await load_profile(conn, merchant_id, customer_id, policy, now, want_spend=True)
        return view
