"""Customer history over real gRPC: prior orders, tiers, per-day limits and
simulation of a draft campaign on recorded orders."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2

from tests.rules.builders import T0, campaign, line, money, order, ts
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")


async def _create(stub, c):  # type: ignore[no-untyped-def]
    return (await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)).campaign


async def _score(stub, o) -> int:  # type: ignore[no-untyped-def]
    return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score.total.amount_minor


async def _profile(stub, customer_id: str = "c1") -> rules_pb2.CustomerProfile:
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=customer_id)
    return (await stub.GetCustomerProfile(req, metadata=OPS)).profile


async def test_min_prior_orders_counts_scored_orders_and_not_those_refunded_in_full(stub) -> None:
    await _create(stub, campaign("loyal", percent_bps=500, min_prior_orders=3))
    assert [await _score(stub, order(f"o{i}", line("a", 10000))) for i in (1, 2, 3)] == [0, 0, 0]
    await stub.ReverseOrder(rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id="o1", refund_id="r1",
                                                          refunded_amount=money(10000)), metadata=SVC)
    assert (await _profile(stub)).order_count == 2
    assert await _score(stub, order("o4", line("a", 10000))) == 0  # only 2 earlier orders count
    assert await _score(stub, order("o5", line("a", 10000))) == 500  # o2, o3, o4
    # A partial refund does not take an order out of the count.
    await stub.ReverseOrder(rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id="o2", refund_id="r2",
                                                          refunded_amount=money(5000)), metadata=SVC)
    assert (await _profile(stub)).order_count == 4


async def test_profile_shows_policy_tier_spend_and_a_manual_tier_that_wins(stub) -> None:
    tiers = [rules_pb2.Tier(name="silver", min_spend=money(100_000), window_days=30),
             rules_pb2.Tier(name="gold", min_spend=money(500_000), window_days=30)]
    await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=tiers), metadata=OPS)
    empty = await _profile(stub, "nobody")
    assert (empty.tier, empty.order_count, empty.spend_in_window.amount_minor) == ("", 0, 0)
    await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=_now_order("o1", 150_000)), metadata=SVC)
    p = await _profile(stub)
    assert (p.tier, p.order_count, p.spend_in_window.amount_minor, p.window_days) == ("silver", 1, 150_000, 30)
    set_req = rules_pb2.SetCustomerTierRequest(merchant_id="m1", customer_id="c1", tier="platinum")
    assert (await stub.SetCustomerTier(set_req, metadata=OPS)).profile.tier == "platinum"
    clear = rules_pb2.SetCustomerTierRequest(merchant_id="m1", customer_id="c1", tier="")
    assert (await stub.SetCustomerTier(clear, metadata=OPS)).profile.tier == "silver"


def _now_order(order_id: str, amount: int) -> rules_pb2.Order:
    o = order(order_id, line("a", amount))
    o.ClearField("placed_at")  # placed now: inside the rolling window
    return o


async def test_bad_tier_policies_are_refused(stub) -> None:
    dup = [rules_pb2.Tier(name="a", min_spend=money(1), window_days=30),
           rules_pb2.Tier(name="a", min_spend=money(2, "IRR"), window_days=0)]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=dup), metadata=OPS)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_once_a_day_counts_days_in_the_campaign_time_zone(stub) -> None:
    await _create(stub, campaign("daily", percent_bps=1000, max_awards_per_customer_per_day=1,
                                 timezone="Asia/Riyadh"))
    evening = T0.replace(hour=20)  # 23:00 in Riyadh, 1 March
    assert await _score(stub, order("o1", line("a", 1000), placed_at=evening)) == 100
    assert await _score(stub, order("o2", line("a", 1000), placed_at=evening + timedelta(minutes=30))) == 0
    # 00:30 on 2 March in Riyadh, still 1 March in UTC: a new local day.
    assert await _score(stub, order("o3", line("a", 1000), placed_at=evening + timedelta(minutes=90))) == 100


async def test_simulation_replays_recorded_orders_against_a_draft_with_its_budget(stub) -> None:
    for i, (customer, amount) in enumerate([("c1", 10_000), ("c2", 20_000), ("c1", 30_000), ("c3", 5_000)]):
        await _score(stub, order(f"o{i}", line("a", amount), customer_id=customer, placed_at=T0 + timedelta(hours=i)))
    await _score(stub, order("late", line("a", 99_000), placed_at=T0 + timedelta(days=30)))
    draft = campaign("draft", percent_bps=1000, min_order=8_000, budget=5_000)
    req = rules_pb2.SimulateCampaignRequest(campaign=draft, to=ts(T0 + timedelta(days=1)))
    getattr(req, "from").CopyFrom(ts(T0))
    sim = (await stub.SimulateCampaign(req, metadata=OPS)).simulation
    assert sim.orders_considered == 4
    assert sim.orders_matched == 3  # the 50.00 order is below the minimum
    assert sim.customers == 2
    assert sim.total_cashback.amount_minor == 1_000 + 2_000 + 2_000  # the budget cuts the third award
    assert sim.gmv.amount_minor == 65_000 and sim.matched_gmv.amount_minor == 60_000
    assert sim.cashback_to_gmv == pytest.approx(5_000 / 65_000)
    listed = await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(merchant_id="m1"), metadata=OPS)
    assert not listed.campaigns  # the draft was not stored
