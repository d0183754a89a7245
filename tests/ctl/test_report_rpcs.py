"""The report RPCs on both databases: wallet GetProgramTimeline and rules
GetCampaignReport agree with what was awarded, redeemed and owed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.duration_pb2 import Duration

from cashback_kit.pb import ts_to_pb
from tests.support.servers import auth
from tests.wallet.stack import order, running_stack, sar


async def test_timeline_and_campaign_report_match_the_ledger(pg_url):
    async with running_stack(pg_url) as s:
        camp = await s.campaign(bps=1000)
        for i, customer in enumerate(("a", "a", "b")):
            await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order(f"o{i}", 50_000, customer=customer)),
                                 metadata=auth("checkout"))
        hold = (await s.w.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id="a", order_id="o9", amount=sar(3000), idempotency_key="k",
            hold_ttl=Duration(seconds=60)), metadata=auth("checkout"))).hold
        await s.w.CaptureRedemption(wallet_pb2.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id),
                                    metadata=auth("checkout"))
        now = datetime.now(UTC)
        window = {"from": ts_to_pb(now - timedelta(days=2)), "to": ts_to_pb(now + timedelta(days=1))}
        tl = await s.w.GetProgramTimeline(wallet_pb2.GetProgramTimelineRequest(
            merchant_id="m1", currency_code="SAR", **window), metadata=auth("ops"))
        report = await s.r.GetCampaignReport(rules_pb2.GetCampaignReportRequest(
            merchant_id="m1", currency_code="SAR", **window), metadata=auth("ops"))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await s.w.GetProgramTimeline(wallet_pb2.GetProgramTimelineRequest(
                merchant_id="m1", timezone="Mars/Olympus", **window), metadata=auth("ops"))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert sum(d.earned.amount_minor for d in tl.days) == 15_000
    assert sum(d.redeemed.amount_minor for d in tl.days) == 3_000
    assert tl.days[-1].liability.amount_minor == 12_000
    assert sum(b.customers for b in tl.redemption_delay) == 1
    assert [(c.campaign_id, c.cost.amount_minor, c.gmv.amount_minor, c.orders) for c in report.campaigns] == [
        (camp.campaign_id, 15_000, 150_000, 3)]
    rp = report.repeat_purchase
    assert (rp.earners, rp.earners_repeat, rp.non_earners) == (2, 1, 0)
