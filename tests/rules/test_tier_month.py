"""Tiers by spend in the calendar month ("1M toman a month"), in the policy's
time zone: the domain's window, scoring, the profile and the simulation over
real gRPC on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import grpc
import jdatetime
import pytest
from cashback.rules.v1 import rules_pb2

from cashback_kit.money import Money
from cashback_services.rules.domain.tiers import (
    MONTH,
    MonthCalendar,
    TierDef,
    TierPolicy,
    TierWindow,
    effective_tier,
)
from tests.rules.builders import campaign, line, money, order, ts
from tests.rules.test_campaigns_grpc import violations
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")
MONTHLY = rules_pb2.TIER_WINDOW_CALENDAR_MONTH


def test_a_solar_hijri_month_starts_on_the_first_of_the_iranian_month() -> None:
    gold = TierDef("gold", Money("IRR", 10_000_000), 0, TierWindow.CALENDAR_MONTH)
    policy = TierPolicy((gold,), "Asia/Tehran", MonthCalendar.SOLAR_HIJRI)
    # 1 Farvardin 1405 is 21 March 2026; midnight in Tehran is 20:30 UTC the day before.
    farvardin = datetime(2026, 3, 20, 20, 30, tzinfo=UTC)
    assert policy.window_start(MONTH, datetime(2026, 3, 25, 12, tzinfo=UTC)) == farvardin
    # 20 March 2026 is still Esfand 1404, which began on 20 February.
    esfand = datetime(2026, 2, 19, 20, 30, tzinfo=UTC)
    assert policy.window_start(MONTH, datetime(2026, 3, 20, 12, tzinfo=UTC)) == esfand


def test_a_calendar_month_starts_at_local_midnight_on_the_first_in_the_policy_zone() -> None:
    policy = TierPolicy((TierDef("gold", Money("IRR", 10_000_000), 0, TierWindow.CALENDAR_MONTH),), "Asia/Tehran")
    # 00:10 on 1 March in Tehran (UTC+3:30) is still 28 February in UTC.
    just_after = datetime(2026, 2, 28, 20, 40, tzinfo=UTC)
    assert policy.window_start(MONTH, just_after) == datetime(2026, 2, 28, 20, 30, tzinfo=UTC)
    assert policy.window_start(MONTH, just_after - timedelta(minutes=20)) == datetime(2026, 1, 31, 20, 30, tzinfo=UTC)
    assert policy.since(just_after) == [datetime(2026, 2, 28, 20, 30, tzinfo=UTC)]


def test_a_policy_mixing_windows_judges_each_tier_on_its_own_window() -> None:
    policy = TierPolicy((TierDef("silver", Money("SAR", 500), 90), TierDef("gold", Money("SAR", 1_000), 0,
                                                                          TierWindow.CALENDAR_MONTH)))
    assert policy.windows == [MONTH, 90] and policy.main_window == 90
    assert effective_tier("", policy, {MONTH: 999, 90: 5_000}) == "silver"
    assert effective_tier("", policy, {MONTH: 1_000, 90: 1_000}) == "gold"
    only_month = TierPolicy((TierDef("gold", Money("SAR", 1_000), 0, TierWindow.CALENDAR_MONTH),))
    assert only_month.main_window == MONTH


async def _monthly_policy(stub, timezone: str = "Asia/Riyadh",  # type: ignore[no-untyped-def]
                          calendar: int = rules_pb2.TIER_CALENDAR_UNSPECIFIED) -> rules_pb2.TierPolicy:
    gold = rules_pb2.Tier(name="gold", min_spend=money(100_000), window=MONTHLY)
    req = rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=[gold], timezone=timezone, calendar=calendar)
    return (await stub.UpsertTierPolicy(req, metadata=OPS)).tier_policy


async def _score(stub, order_id: str, amount: int, placed_at: datetime) -> int:  # type: ignore[no-untyped-def]
    o = order(order_id, line("a", amount), placed_at=placed_at)
    return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score.total.amount_minor


async def test_a_monthly_tier_counts_spend_since_the_first_of_the_month_in_the_policy_zone(stub) -> None:
    policy = await _monthly_policy(stub)
    assert (policy.timezone, policy.tiers[0].window, policy.tiers[0].window_days) == ("Asia/Riyadh", MONTHLY, 0)
    assert policy.calendar == rules_pb2.TIER_CALENDAR_GREGORIAN
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(
        campaign=campaign("gold-only", percent_bps=1000, customer_tiers=["gold"])), metadata=OPS)
    feb = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert await _score(stub, "jan-31", 500_000, feb - timedelta(hours=13)) == 0  # 23:00 on 31 January in Riyadh
    assert await _score(stub, "feb-1", 90_000, feb) == 0  # February so far: nothing before it
    assert await _score(stub, "feb-2", 20_000, feb + timedelta(days=1)) == 0  # 900.00 before it
    assert await _score(stub, "feb-3", 10_000, feb + timedelta(days=2)) == 1_000  # 1,100.00 before it: gold
    # 28 February 21:30 UTC is 00:30 on 1 March in Riyadh: a new month, nothing spent in it yet.
    assert await _score(stub, "mar-1", 10_000, datetime(2026, 2, 28, 21, 30, tzinfo=UTC)) == 0

    draft = campaign("draft", percent_bps=1000, customer_tiers=["gold"])
    req = rules_pb2.SimulateCampaignRequest(campaign=draft, to=ts(datetime(2026, 3, 2, tzinfo=UTC)))
    getattr(req, "from").CopyFrom(ts(feb))
    sim = (await stub.SimulateCampaign(req, metadata=OPS)).simulation
    assert (sim.orders_considered, sim.orders_matched, sim.total_cashback.amount_minor) == (4, 1, 1_000)


async def test_the_profile_says_the_window_is_this_calendar_month_and_when_it_started(stub) -> None:
    policy = await _monthly_policy(stub, "Asia/Tehran")
    assert policy.calendar == rules_pb2.TIER_CALENDAR_SOLAR_HIJRI  # the months people count in Tehran
    now = datetime.now(UTC)
    o = order("now-1", line("a", 150_000))
    o.ClearField("placed_at")  # placed now, so in this month
    await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id="c1")
    p = (await stub.GetCustomerProfile(req, metadata=OPS)).profile
    tehran = ZoneInfo("Asia/Tehran")
    first_day = jdatetime.date.fromgregorian(date=now.astimezone(tehran).date()).replace(day=1).togregorian()
    first = datetime.combine(first_day, time(0), tzinfo=tehran)
    assert (p.tier, p.window, p.window_days) == ("gold", MONTHLY, 0)
    assert p.window_start.ToDatetime(tzinfo=UTC) == first
    assert p.spend_in_window.amount_minor == p.month_spend.amount_minor == 150_000


async def test_a_rolling_policy_profile_says_rolling_days_and_has_no_month_spend(stub) -> None:
    tier = rules_pb2.Tier(name="silver", min_spend=money(1), window_days=30)
    await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=[tier]), metadata=OPS)
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id="c1")
    p = (await stub.GetCustomerProfile(req, metadata=OPS)).profile
    assert (p.window, p.window_days, p.HasField("month_spend")) == (rules_pb2.TIER_WINDOW_ROLLING_DAYS, 30, False)


@pytest.mark.parametrize(("tier", "timezone", "field"), [
    (rules_pb2.Tier(name="gold", min_spend=money(1), window=MONTHLY, window_days=30), "", "tiers[0].window_days"),
    (rules_pb2.Tier(name="gold", min_spend=money(1), window=MONTHLY), "Mars/Olympus", "timezone"),
    (rules_pb2.Tier(name="gold", min_spend=money(1), window=MONTHLY), "", "tiers[0].window"),
    (rules_pb2.Tier(name="gold", min_spend=money(1), window=MONTHLY), "", "calendar"),
])
async def test_a_bad_monthly_policy_is_refused_naming_the_field_and_changes_nothing(
        stub, tier: rules_pb2.Tier, timezone: str, field: str) -> None:
    if field == "tiers[0].window":
        tier.window = 99  # type: ignore[assignment]  # a number no enum value has
    req = rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=[tier], timezone=timezone)
    if field == "calendar":
        req.calendar = 99  # type: ignore[assignment]
    await _monthly_policy(stub)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpsertTierPolicy(req, metadata=OPS)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(err.value)
    assert (await _monthly_policy(stub)).timezone == "Asia/Riyadh"


async def test_without_a_zone_months_start_in_the_zone_the_merchants_campaigns_use(stub) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(
        campaign=campaign("tehran", percent_bps=100, timezone="Asia/Tehran")), metadata=OPS)
    policy = await _monthly_policy(stub, timezone="")
    assert (policy.timezone, policy.calendar) == ("Asia/Tehran", rules_pb2.TIER_CALENDAR_SOLAR_HIJRI)
    gregorian = await _monthly_policy(stub, timezone="", calendar=rules_pb2.TIER_CALENDAR_GREGORIAN)
    assert gregorian.calendar == rules_pb2.TIER_CALENDAR_GREGORIAN
