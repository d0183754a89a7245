"""The same mutating call, sent 20 times at once with the same key, has exactly
one effect and 20 identical answers; the same key with another payload is
ALREADY_EXISTS. On PostgreSQL, where the races are real."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from cashback.notify.v1 import notify_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import func, select, text

from tests.notify.stack import notify_stack
from tests.support.servers import auth
from tests.wallet.stack import order, sar

pytestmark = pytest.mark.postgres
N = 20


async def same_call_20_times(fn, request, role: str = "checkout") -> bytes:
    results = await asyncio.gather(*(fn(request, metadata=auth(role)) for _ in range(N)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, [f"{e.code().name}: {e.details()}" for e in errors if isinstance(e, grpc.aio.AioRpcError)]
    answers = {r.SerializeToString(deterministic=True) for r in results}
    assert len(answers) == 1, "20 calls with one key must give one answer"
    return answers.pop()


async def count(db, sql: str) -> int:
    async with db.read() as conn:
        return int((await conn.execute(text(sql))).scalar() or 0)


async def test_twenty_concurrent_copies_of_each_mutating_call_have_one_effect(pg_url):
    async with notify_stack(pg_url) as s:
        camp = rules_pb2.Campaign(campaign_id="camp-idem", merchant_id="m1", name="10%", currency_code="SAR",
                                  status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, percent_bps=1000, timezone="UTC")
        await same_call_20_times(s.r.CreateCampaign, rules_pb2.CreateCampaignRequest(campaign=camp), "ops")
        assert await count(s.rules.db, "SELECT count(*) FROM rules_campaigns WHERE campaign_id='camp-idem'") == 1

        o = order("o-idem", 100_000, customer="c-idem", placed_at=datetime.now(UTC))
        await same_call_20_times(s.w.AwardOrder, wallet_pb2.AwardOrderRequest(order=o))
        assert await count(s.wallet.db, "SELECT count(*) FROM wallet_lots WHERE order_id='o-idem'") == 1

        await same_call_20_times(s.w.AdjustBalance, wallet_pb2.AdjustBalanceRequest(
            merchant_id="m1", customer_id="c-idem", amount=sar(50_000), reason="goodwill", idempotency_key="adj-1"),
            "ops")
        hold_bytes = await same_call_20_times(s.w.AuthorizeRedemption, wallet_pb2.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id="c-idem", order_id="o-next", amount=sar(20_000),
            hold_ttl=Duration(seconds=300), idempotency_key="auth-1"))
        hold = wallet_pb2.AuthorizeRedemptionResponse.FromString(hold_bytes).hold
        await same_call_20_times(s.w.CaptureRedemption, wallet_pb2.CaptureRedemptionRequest(
            merchant_id="m1", hold_id=hold.hold_id, amount=sar(15_000)))
        await same_call_20_times(s.w.RefundOrder, wallet_pb2.RefundOrderRequest(
            merchant_id="m1", order_id="o-idem", refund_id="ref-1", refunded_amount=sar(50_000)))
        balance = (await s.w.GetBalance(wallet_pb2.GetBalanceRequest(
            merchant_id="m1", customer_id="c-idem", currency_code="SAR"), metadata=auth("checkout"))).balance
        # 10,000 cashback (available at once) + 50,000 adjusted - 15,000 captured = 45,000. The capture spent
        # the award's lot first, so the 5,000 of cashback the half refund takes back is debt.
        assert balance.available.amount_minor == 45_000
        assert balance.debt.amount_minor == 5_000
        assert await count(s.wallet.db, "SELECT count(*) FROM wallet_holds") == 1
        assert await count(s.wallet.db, "SELECT count(*) FROM wallet_refunds") == 1

        rc = notify_pb2.ReminderCampaign(campaign_id="rc-idem", merchant_id="m1", name="r", cron="0 10 * * 6",
                                         timezone="Asia/Tehran", channels=[notify_pb2.CHANNEL_SMS],
                                         min_available=sar(100))
        await same_call_20_times(s.n.CreateReminderCampaign, notify_pb2.CreateReminderCampaignRequest(campaign=rc),
                                 "ops")

        # Same key, another payload: ALREADY_EXISTS, naming the key, and nothing changes.
        other = order("o-idem", 999_999, customer="c-idem", placed_at=datetime.now(UTC))
        for fn, req, role in (
            (s.w.AwardOrder, wallet_pb2.AwardOrderRequest(order=other), "checkout"),
            (s.w.AdjustBalance, wallet_pb2.AdjustBalanceRequest(
                merchant_id="m1", customer_id="c-idem", amount=sar(1), reason="x", idempotency_key="adj-1"), "ops"),
            (s.w.AuthorizeRedemption, wallet_pb2.AuthorizeRedemptionRequest(
                merchant_id="m1", customer_id="c-idem", order_id="o-next", amount=sar(1),
                hold_ttl=Duration(seconds=300), idempotency_key="auth-1"), "checkout"),
            (s.w.RefundOrder, wallet_pb2.RefundOrderRequest(
                merchant_id="m1", order_id="o-idem", refund_id="ref-1", refunded_amount=sar(1)), "checkout"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await fn(req, metadata=auth(role))
            assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS, (fn, info.value.details())
        after = (await s.w.GetBalance(wallet_pb2.GetBalanceRequest(
            merchant_id="m1", customer_id="c-idem", currency_code="SAR"), metadata=auth("checkout"))).balance
        assert after == balance
        async with s.wallet.db.read() as conn:
            lots = (await conn.execute(select(func.count()).select_from(text("wallet_lots")))).scalar()
        assert lots == 2  # the award's lot and the adjustment's
