"""Issue 15, points 3 and 4, against the real rules service (and the real wallet
in front of it) on PostgreSQL over real gRPC: a backdated or far-future order or
event is refused naming its field and spends nothing; the return window runs from
the award; a score the wallet would refuse is never committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from cashback_services.rules.bootstrap import bootstrap
from cashback_services.rules.limits import RulesLimits
from tests.rules.builders import campaign, line, order, ts
from tests.security.conftest import rich_details
from tests.support.servers import ServiceHandle, auth, running_service

OPS, SVC, CHECKOUT = auth("ops"), auth("service"), auth("checkout")


@pytest.fixture
async def rules(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("rules", database_url=pg_url) as svc:  # the default limits: 24 h back, 5 min ahead
        yield svc


def _stub(svc: ServiceHandle) -> rules_pb2_grpc.RulesServiceStub:
    return rules_pb2_grpc.RulesServiceStub(svc.channel)


async def _budget_used(stub: rules_pb2_grpc.RulesServiceStub, campaign_id: str) -> int:
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id=campaign_id),
                                 metadata=OPS)
    return got.campaign.budget_used.amount_minor


def _placed(o: rules_pb2.Order, when: datetime | None = None) -> rules_pb2.Order:
    o.placed_at.CopyFrom(ts(when or datetime.now(UTC)))
    return o


async def test_an_order_placed_weeks_ago_is_refused_naming_placed_at_and_spends_no_budget(rules) -> None:
    stub = _stub(rules)
    now = datetime.now(UTC)
    # The attack: a campaign that ended 10 days ago, an order "placed" 15 days ago.
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
        "ended", percent_bps=2000, budget=100_000, starts_at=now - timedelta(days=30),
        ends_at=now - timedelta(days=10))), metadata=OPS)
    for when in (now - timedelta(days=15), now - timedelta(hours=25), now + timedelta(minutes=10)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=_placed(order(f"o{when:%s}", line("a", 50_000)),
                                                                            when)), metadata=SVC)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert rich_details(err.value)[1] == ["order.placed_at"]
    assert await _budget_used(stub, "ended") == 0
    profile = await stub.GetCustomerProfile(rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id="c1"),
                                            metadata=OPS)
    assert profile.profile.order_count == 0  # nothing was recorded


async def test_an_order_within_the_window_still_scores(rules) -> None:
    stub = _stub(rules)
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", percent_bps=1000)),
                              metadata=OPS)
    o = _placed(order("o1", line("a", 10_000)), datetime.now(UTC) - timedelta(hours=23))
    score = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score
    assert score.total.amount_minor == 1000


async def test_a_backdated_event_is_refused_naming_occurred_at(rules) -> None:
    stub = _stub(rules)
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
        "review", trigger=rules_pb2.TRIGGER_EVENT, event_type="product_review", fixed=500, budget=500)), metadata=OPS)
    req = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id="c1", event_type="product_review",
                                      event_id="rev-1", occurred_at=ts(datetime.now(UTC) - timedelta(days=20)))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ScoreEvent(req, metadata=SVC)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert rich_details(err.value)[1] == ["occurred_at"]
    assert await _budget_used(stub, "review") == 0


async def test_the_return_window_runs_from_the_award_not_from_a_placed_at_in_the_past(rules) -> None:
    stub = _stub(rules)
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
        "held", percent_bps=1000, pending_days=14, expires_after_days=30)), metadata=OPS)
    placed = datetime.now(UTC) - timedelta(hours=23)
    before = datetime.now(UTC)
    score = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=_placed(order("o1", line("a", 10_000)), placed)),
                                   metadata=SVC)).score
    available = score.awards[0].available_at.ToDatetime(tzinfo=UTC)
    assert available >= before + timedelta(days=14) > placed + timedelta(days=14)
    assert score.awards[0].expires_at.ToDatetime(tzinfo=UTC) == available + timedelta(days=30)


async def test_a_score_the_wallet_would_refuse_is_not_committed_and_leaves_the_budget(pg_url: str) -> None:
    # A rules process told to accept any placed_at (as an operator might set it): the
    # wallet-range check still refuses a year-8999 order before anything is written.
    anything = RulesLimits(max_backdate=timedelta(days=10**7), max_future=timedelta(days=10**7))
    async with running_service("rules", database_url=pg_url, bootstrap=partial(bootstrap, limits=anything)) as svc:
        stub = _stub(svc)
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
            "far", percent_bps=1000, budget=1000, pending_days=3650, expires_after_days=3650)), metadata=OPS)
        far = _placed(order("o-far", line("a", 10_000)), datetime(8999, 6, 1, tzinfo=UTC))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=far), metadata=SVC)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        info, fields = rich_details(err.value)
        assert info.reason == "NOT_AWARDABLE" and set(fields) == {"order.placed_at"}
        assert await _budget_used(stub, "far") == 0
        now = _placed(order("o-now", line("a", 10_000)))
        ok = await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=now), metadata=SVC)
        assert ok.score.total.amount_minor == 1000  # the whole budget was still there


async def test_the_wallet_s_year_8999_order_is_refused_before_rules_spends_the_budget(pg_url: str) -> None:
    async with running_service("rules", database_url=pg_url) as r, \
            running_service("wallet", database_url=pg_url, env={"RULES_TARGET": r.target}) as w:
        stub, wallet = _stub(r), wallet_pb2_grpc.WalletServiceStub(w.channel)
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
            "all", percent_bps=1000, budget=1000, pending_days=3650, expires_after_days=3650)), metadata=OPS)
        far = _placed(order("o-far", line("a", 10_000)), datetime(8999, 6, 1, tzinfo=UTC))
        for _ in range(3):  # the checkout retries; every retry is refused and spends nothing
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await wallet.AwardOrder(wallet_pb2.AwardOrderRequest(order=far), metadata=CHECKOUT)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert await _budget_used(stub, "all") == 0
        now = _placed(order("o-now", line("a", 10_000)))
        paid = await wallet.AwardOrder(wallet_pb2.AwardOrderRequest(order=now), metadata=CHECKOUT)
        assert paid.credited.amount_minor == 1000
