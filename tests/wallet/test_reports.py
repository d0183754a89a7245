"""ListExpiringCredits, ListBalances and GetProgramStats over gRPC, with
cashback from the real rules service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb

from tests.support.servers import auth
from tests.wallet.grpc_helpers import balance
from tests.wallet.stack import Stack, order, running_stack, sar, ts

OPS, CO = auth("ops"), auth("checkout")


@pytest.fixture
async def stack(pg_url: str) -> AsyncIterator[Stack]:
    async with running_stack(pg_url) as s:
        yield s


async def _adjust(s: Stack, customer: str, minor: int, expires_at: datetime | None = None) -> None:
    req = pb.AdjustBalanceRequest(merchant_id="m1", customer_id=customer, amount=sar(minor), reason="r",
                                  idempotency_key=f"{customer}-{minor}")
    if expires_at:
        req.expires_at.CopyFrom(ts(expires_at))
    await s.w.AdjustBalance(req, metadata=OPS)


async def test_program_stats_and_reminder_lists_tell_the_merchant_what_happened(stack: Stack) -> None:
    await stack.campaign(bps=1000)  # available at once, never expires
    t0 = datetime.now(UTC) - timedelta(hours=1)
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 1000, placed_at=t0)), metadata=CO)
    hold = (await stack.w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id="c1", order_id="o2", amount=sar(60), idempotency_key="h"), metadata=CO)).hold
    await stack.w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id), metadata=CO)
    await stack.w.AwardOrder(pb.AwardOrderRequest(
        order=order("o2", 500, wallet_paid=60, placed_at=t0 + timedelta(minutes=5))), metadata=CO)
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o3", 2000, customer="c2", placed_at=t0)),
                             metadata=CO)
    await _adjust(stack, "c3", 300, datetime.now(UTC) + timedelta(seconds=1))
    await _adjust(stack, "c4", 500, datetime.now(UTC) + timedelta(days=10))
    await asyncio.sleep(1.1)
    assert (await balance(stack.w, customer="c3")).available.amount_minor == 0  # expired, settled on read

    stats = (await stack.w.GetProgramStats(pb.GetProgramStatsRequest(merchant_id="m1", currency_code="SAR"),
                                           metadata=OPS)).stats
    assert (stats.customers_earned, stats.customers_redeemed) == (2, 1)
    assert stats.earned.amount_minor == 100 + 44 + 200  # o2 earns on 500 - 60 paid with credit
    assert stats.redeemed.amount_minor == 60
    assert stats.expired.amount_minor == 300
    assert stats.outstanding_liability.amount_minor == (100 - 60 + 44) + 200 + 500
    assert stats.repeat_purchase_share == pytest.approx(0.5)
    assert 0 <= stats.avg_days_to_first_redemption < 1

    rich = (await stack.w.ListBalances(pb.ListBalancesRequest(merchant_id="m1", min_available=sar(100)),
                                       metadata=OPS)).balances
    assert [b.customer_id for b in rich] == ["c2", "c4"]
    idle = (await stack.w.ListBalances(pb.ListBalancesRequest(
        merchant_id="m1", inactive_since=ts(t0 - timedelta(days=1))), metadata=OPS)).balances
    assert [b.customer_id for b in idle] == ["c3", "c4"]  # never ordered

    soon = (await stack.w.ListExpiringCredits(pb.ListExpiringCreditsRequest(
        merchant_id="m1", expires_before=ts(datetime.now(UTC) + timedelta(days=30))), metadata=OPS)).credits
    assert [(c.customer_id, c.amount.amount_minor) for c in soon] == [("c4", 500)]
    later = (await stack.w.ListExpiringCredits(pb.ListExpiringCreditsRequest(
        merchant_id="m1", expires_before=ts(datetime.now(UTC) + timedelta(days=5))), metadata=OPS)).credits
    assert list(later) == []


async def test_reports_page_with_tokens(stack: Stack) -> None:
    for i in range(5):
        await _adjust(stack, f"c{i}", 100 + i, datetime.now(UTC) + timedelta(days=3))
    seen, token = [], ""
    cutoff = ts(datetime.now(UTC) + timedelta(days=7))  # the same query on every page: tokens are scoped to it
    while True:
        resp = await stack.w.ListExpiringCredits(pb.ListExpiringCreditsRequest(
            merchant_id="m1", expires_before=cutoff, page_size=2,
            page_token=token), metadata=OPS)
        seen += [c.customer_id for c in resp.credits]
        token = resp.next_page_token
        if not token:
            break
    assert seen == [f"c{i}" for i in range(5)]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stack.w.ListBalances(pb.ListBalancesRequest(merchant_id="m1", page_token="zzz"), metadata=OPS)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_expiring_credits_can_be_asked_for_a_window(stack: Stack) -> None:
    now = datetime.now(UTC)
    await _adjust(stack, "c1", 100, now + timedelta(days=2))
    await _adjust(stack, "c1", 250, now + timedelta(days=10))
    credits = (await stack.w.ListExpiringCredits(pb.ListExpiringCreditsRequest(
        merchant_id="m1", expires_before=ts(now + timedelta(days=30)), expires_after=ts(now + timedelta(days=5))),
        metadata=OPS)).credits
    assert [(c.customer_id, c.amount.amount_minor, len(c.lot_ids)) for c in credits] == [("c1", 250, 1)]
    assert credits[0].earliest_expiry.ToDatetime(tzinfo=UTC) > now + timedelta(days=9)
