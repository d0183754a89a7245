"""Budgets and per-customer limits under concurrency: the customer row lock and
the budget row locks are what keep them exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc

from tests.rules.builders import campaign, line, order
from tests.rules.conftest import FIXED_DATES_BOOTSTRAP
from tests.support.servers import auth, running_service

pytestmark = pytest.mark.postgres
OPS, SVC = auth("ops"), auth("service")


@pytest.fixture
async def pg_stub(pg_url: str) -> AsyncIterator[rules_pb2_grpc.RulesServiceStub]:
    async with running_service("rules", database_url=pg_url, bootstrap=FIXED_DATES_BOOTSTRAP) as svc:
        yield rules_pb2_grpc.RulesServiceStub(svc.channel)


async def _score(stub, o: rules_pb2.Order) -> rules_pb2.Score:
    return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score


async def test_fifty_concurrent_orders_never_pay_past_a_nearly_spent_budget(pg_stub) -> None:
    c = campaign("ten", percent_bps=1000, budget=50_000)
    await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    # 450.00 of the 500.00 budget goes to one big order first: 50.00 is left.
    assert (await _score(pg_stub, order("big", line("tv", 450_000), customer_id="whale"))).total.amount_minor == 45_000
    # Each order would earn 3.00: 16 full awards, one partial 2.00, then nothing.
    orders = [order(f"o{i}", line("mug", 3_000), customer_id=f"c{i}") for i in range(50)]
    scores = await asyncio.gather(*(_score(pg_stub, o) for o in orders))
    amounts = sorted((s.total.amount_minor for s in scores), reverse=True)
    assert sum(amounts) == 5_000
    assert amounts.count(300) == 16
    assert amounts.count(200) == 1  # the last award is partial
    assert amounts.count(0) == 33
    for s in scores:
        if s.total.amount_minor == 0:
            assert [k.code for k in s.skipped] == [rules_pb2.SKIP_REASON_BUDGET_SPENT]
    got = await pg_stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="ten"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 50_000


async def test_concurrent_orders_and_events_count_every_award_in_budget_used_without_a_budget(pg_stub) -> None:
    """A campaign with no budget is never locked or updated by scoring: what it
    paid is summed from the award rows, so concurrent orders and events on two
    such campaigns (each order pays both) still add up exactly."""
    for cid in ("a", "b"):
        await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(cid, percent_bps=1000)),
                                     metadata=OPS)
    ev = campaign("rev", fixed=250)
    ev.trigger, ev.event_type = rules_pb2.TRIGGER_EVENT, "review"
    await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=ev), metadata=OPS)
    orders = [order(f"o{i}", line("mug", 3_000 + i), customer_id=f"c{i % 7}") for i in range(40)]
    events = [rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id=f"c{i % 7}", event_type="review",
                                          event_id=f"e{i}") for i in range(40)]
    for e in events:
        e.occurred_at.GetCurrentTime()
    scores = await asyncio.gather(*(_score(pg_stub, o) for o in orders),
                                  *(pg_stub.ScoreEvent(e, metadata=SVC) for e in events))
    per_order = [((3_000 + i) * 1000 + 5_000) // 10_000 for i in range(40)]  # 10%, half-up
    assert [s.total.amount_minor for s in scores[:40]] == [2 * x for x in per_order]
    assert all(s.score.total.amount_minor == 250 for s in scores[40:])
    for cid, want in (("a", sum(per_order)), ("b", sum(per_order)), ("rev", 40 * 250)):
        got = await pg_stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id=cid),
                                        metadata=OPS)
        assert got.campaign.budget_used.amount_minor == want


async def test_concurrent_orders_of_one_customer_respect_the_per_customer_limits(pg_stub) -> None:
    c = campaign("ten", percent_bps=1000, max_per_customer=1_000, max_awards_per_customer=4)
    await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    orders = [order(f"o{i}", line("mug", 3_000), customer_id="c1") for i in range(20)]
    scores = await asyncio.gather(*(_score(pg_stub, o) for o in orders))
    amounts = sorted((s.total.amount_minor for s in scores), reverse=True)
    assert amounts[:4] == [300, 300, 300, 100]  # the fourth award is what is left of 10.00
    assert sum(amounts) == 1_000


async def test_concurrent_replays_of_one_order_all_get_the_same_score(pg_stub) -> None:
    c = campaign("ten", percent_bps=1000, budget=100_000)
    await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    o = order("same", line("mug", 3_000))
    results = await asyncio.gather(*(_score(pg_stub, o) for _ in range(10)), return_exceptions=True)
    scores = [r for r in results if isinstance(r, rules_pb2.Score)]
    aborted = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert all(e.code() is grpc.StatusCode.ABORTED for e in aborted)
    assert scores and all(s == scores[0] for s in scores)
    got = await pg_stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="ten"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 300


async def test_concurrent_orders_of_one_customer_respect_the_daily_limit_in_the_campaigns_time_zone(pg_stub) -> None:
    c = campaign("daily", percent_bps=1000, max_awards_per_customer_per_day=2, timezone="Asia/Riyadh")
    await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    # 20:30 UTC is 23:30 in Riyadh, 21:30 UTC is 00:30 the next day there: two local days.
    late = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    after_midnight = datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    orders = [order(f"o{i}", line("mug", 3_000), customer_id="c1", placed_at=late if i % 2 else after_midnight)
              for i in range(16)]
    scores = await asyncio.gather(*(_score(pg_stub, o) for o in orders))
    paid = [o.placed_at.ToDatetime(tzinfo=UTC) for o, s in zip(orders, scores, strict=True) if s.awards]
    assert sorted(paid) == [late, late, after_midnight, after_midnight]


async def test_concurrent_first_orders_of_one_new_customer_pay_the_first_order_offer_once(pg_stub) -> None:
    """Every order locks and reads what a first order could earn before it knows the customer; all
    but the first to lock find an earlier order under the lock, and are judged with that profile."""
    welcome = campaign("welcome", percent_bps=1500, max_prior_orders=0)
    await pg_stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=welcome), metadata=OPS)
    orders = [order(f"first-{i}", line("mug", 10_000), customer_id="newcomer") for i in range(8)]
    scores = await asyncio.gather(*(_score(pg_stub, o) for o in orders))
    assert sorted(s.total.amount_minor for s in scores) == [0] * 7 + [1_500]
    for s in scores:
        if s.total.amount_minor == 0:
            assert [(k.campaign_id, k.code) for k in s.skipped] == [
                ("welcome", rules_pb2.SKIP_REASON_TOO_MANY_PRIOR_ORDERS)]
