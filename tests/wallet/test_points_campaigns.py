"""Campaigns that reward points, against the REAL rules service and wallet
over gRPC on PostgreSQL: rules says the unit of each award line, the wallet
credits points lots for the points lines (pending for the return window,
expiring by the campaign's rules) and a refund takes them back the way it
takes back credit (the auditor runs after each test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2 as pb
from sqlalchemy import text

from cashback_kit.db import Database
from tests.support.servers import auth
from tests.wallet.grpc_helpers import balance
from tests.wallet.stack import Stack, order, running_stack, sar, ts

CO = auth("checkout")


@pytest.fixture
async def stack(pg_url: str) -> AsyncIterator[Stack]:
    async with running_stack(pg_url) as s:
        yield s


async def lots(pg_url: str, currency: str) -> list[tuple[str, int, int, object, object]]:
    db = Database(pg_url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                text(
                    "SELECT status, amount, remaining, available_at, expires_at FROM wallet_lots "
                    "WHERE merchant_id = 'm1' AND customer_id = 'c1' AND currency = :cur ORDER BY created_at"
                ),
                {"cur": currency},
            )
            return [tuple(r) for r in rows.all()]
    finally:
        await db.dispose()


async def test_a_points_campaign_beside_a_credit_campaign_credits_a_pending_points_lot_and_a_refund_takes_half_back(
    stack: Stack, pg_url: str
) -> None:
    await stack.campaign(bps=200, pending_days=14)
    await stack.campaign(bps=500, pending_days=14, expires_after_days=90, points=True)
    resp = await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 10_000)), metadata=CO)
    by_unit = {a.unit: (a.amount.currency_code, a.amount.amount_minor) for a in resp.score.awards}
    assert by_unit == {rules_pb2.REWARD_UNIT_UNSPECIFIED: ("SAR", 200), rules_pb2.REWARD_UNIT_POINTS: ("PTS", 500)}
    assert (resp.score.total.amount_minor, resp.score.points_total, resp.credited.amount_minor) == (200, 500, 200)
    points_award = next(a for a in resp.score.awards if a.unit == rules_pb2.REWARD_UNIT_POINTS)
    assert "500 points" in points_award.explanation
    [(status, amount, remaining, available_at, expires_at)] = await lots(pg_url, "PTS")
    assert (status, amount, remaining) == ("pending", 500, 500)
    assert expires_at - available_at == timedelta(days=90)
    b = await balance(stack.w)
    assert (b.pending.amount_minor, b.points) == (200, 0)  # pending points are not spendable yet

    refund = await stack.w.RefundOrder(
        pb.RefundOrderRequest(merchant_id="m1", order_id="o1", refund_id="r1", refunded_amount=sar(5_000)), metadata=CO
    )
    assert refund.cashback_reversed.amount_minor == 100  # the record's amounts are the credit's
    assert [(s, a, r) for s, a, r, _, _ in await lots(pg_url, "PTS")] == [("pending", 500, 250)]
    assert (await balance(stack.w)).pending.amount_minor == 100
    stats = (
        await stack.w.GetProgramStats(
            pb.GetProgramStatsRequest(merchant_id="m1", currency_code="SAR"), metadata=auth("ops")
        )
    ).stats
    assert (stats.earned.amount_minor, stats.points_awarded, stats.points_reversed) == (200, 500, 250)


async def test_an_event_campaign_pays_fixed_points_that_can_be_spent_at_once(stack: Stack) -> None:
    await stack.campaign(event_type="app_review", fixed=50, points=True)
    req = pb.AwardEventRequest(
        merchant_id="m1", customer_id="c1", event_type="app_review", event_id="e1", occurred_at=ts(datetime.now(UTC))
    )
    resp = await stack.w.AwardEvent(req, metadata=CO)
    [award] = resp.score.awards
    assert (award.unit, award.amount.currency_code, award.amount.amount_minor) == (
        rules_pb2.REWARD_UNIT_POINTS,
        "PTS",
        50,
    )
    assert "fixed 50 points per app_review" in award.explanation
    b = await balance(stack.w)
    assert (b.points, b.available.amount_minor, b.pending.amount_minor) == (50, 0, 0)


async def test_points_spent_before_a_refund_become_points_debt_that_the_next_points_award_pays_first(
    stack: Stack,
) -> None:
    await stack.campaign(bps=1000, points=True)  # no return window: the points are available at once
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 10_000)), metadata=CO)
    await stack.w.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=1, per=sar(1)), metadata=auth("ops"))
    await stack.w.ConvertCredit(
        pb.ConvertCreditRequest(merchant_id="m1", customer_id="c1", points=1_000, idempotency_key="k1"), metadata=CO
    )
    assert (await balance(stack.w)).available.amount_minor == 1_000
    await stack.w.RefundOrder(
        pb.RefundOrderRequest(merchant_id="m1", order_id="o1", refund_id="r1", refunded_amount=sar(10_000)), metadata=CO
    )
    b = await balance(stack.w)
    assert (b.points, b.available.amount_minor) == (0, 1_000)  # credit is untouched; the points are owed
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o2", 15_000)), metadata=CO)
    assert (await balance(stack.w)).points == 500  # 1,500 points, 1,000 of them paid the debt


async def test_a_points_campaign_takes_fixed_points_not_a_fixed_amount_and_keeps_its_unit(stack: Stack) -> None:
    ops = auth("ops")
    bad = await stack.campaign(bps=100)  # a credit campaign
    c = rules_pb2.Campaign(
        merchant_id="m1",
        name="points",
        currency_code="SAR",
        percent_bps=100,
        reward_unit=rules_pb2.REWARD_UNIT_POINTS,
        fixed_points=10,
    )
    for campaign, field in (
        (c, "campaign.fixed_points"),
        (
            rules_pb2.Campaign(
                merchant_id="m1", name="p", currency_code="SAR", fixed=sar(5), reward_unit=rules_pb2.REWARD_UNIT_POINTS
            ),
            "campaign.fixed",
        ),
        (
            rules_pb2.Campaign(merchant_id="m1", name="c", currency_code="SAR", percent_bps=5, fixed_points=5),
            "campaign.fixed_points",
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stack.r.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign), metadata=ops)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (err.value.details() or "")
    patch = rules_pb2.Campaign(merchant_id="m1", campaign_id=bad.campaign_id, reward_unit=rules_pb2.REWARD_UNIT_POINTS)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stack.r.UpdateCampaign(
            rules_pb2.UpdateCampaignRequest(campaign=patch, update_mask={"paths": ["reward_unit"]}), metadata=ops
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
