"""The wallet's events of issue 17 reach customers' phones, end to end over
real gRPC with the real wallet, notify and local Kavenegar- and
Twilio-compatible servers: a transfer sends the sender and the receiver one
message each, in each one's language; a conversion and a reward redemption
send their customer one message each. The wallet's auditor checks the books after."""

from __future__ import annotations

import asyncio

from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.wallet.v1 import wallet_pb2 as W

from cashback_services.wallet.auditor import audit_database
from tests.notify.stack import eventually, notify_stack
from tests.support.servers import auth

OPS, CO = auth("ops"), auth("checkout")


def irr(minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="IRR", amount_minor=minor)


async def test_a_transfer_a_conversion_and_a_reward_each_send_their_customers_one_message(pg_url):
    async with notify_stack(pg_url) as s:
        await s.n.SetNotifyPolicy(
            N.SetNotifyPolicyRequest(
                policy=N.NotifyPolicy(
                    merchant_id="m1", notify_on_credit=True, notify_on_available=True, shop_name="فروشگاه باران"
                )
            ),
            metadata=OPS,
        )
        await s.contact("sara", "09121234567", locale="fa-IR", zone="Asia/Tehran")
        await s.contact("omar", "+966501234567", locale="ar-SA", zone="Asia/Riyadh")
        await s.w.AdjustBalance(
            W.AdjustBalanceRequest(
                merchant_id="m1", customer_id="sara", amount=irr(2_000_000), reason="seed", idempotency_key="seed"
            ),
            metadata=OPS,
        )
        await s.w.AdjustBalance(
            W.AdjustBalanceRequest(
                merchant_id="m1", customer_id="omar", amount=irr(10), reason="seed", idempotency_key="seed-2"
            ),
            metadata=OPS,
        )
        await s.w.TransferCredit(
            W.TransferCreditRequest(
                merchant_id="m1",
                from_customer_id="sara",
                to_customer_id="omar",
                amount=irr(500_000),
                idempotency_key="t1",
                note="happy birthday",
            ),
            metadata=CO,
        )
        await eventually(lambda: s.kavenegar.to("09121234567") and s.twilio.to("+966501234567"))
        await s.w.SetPointsRate(W.SetPointsRateRequest(merchant_id="m1", points=1, per=irr(1_000)), metadata=OPS)
        await s.w.ConvertCredit(
            W.ConvertCreditRequest(merchant_id="m1", customer_id="sara", credit=irr(1_000_000), idempotency_key="c1"),
            metadata=CO,
        )
        await s.w.UpsertReward(
            W.UpsertRewardRequest(
                reward=W.Reward(merchant_id="m1", reward_id="mug", names={"fa": "ماگ"}, points_cost=400, active=True)
            ),
            metadata=OPS,
        )
        await s.w.RedeemReward(
            W.RedeemRewardRequest(merchant_id="m1", customer_id="sara", reward_id="mug", idempotency_key="r1"),
            metadata=CO,
        )
        await eventually(lambda: len(s.kavenegar.to("09121234567")) >= 3)
        await asyncio.sleep(1.5)  # time for a second message per event to show up, if there were one
        kinds = [
            (d.customer_id, d.kind, d.status, d.segments)
            for d in (
                await s.n.ListDeliveries(N.ListDeliveriesRequest(merchant_id="m1", page_size=50), metadata=OPS)
            ).deliveries
        ]
    to_sara = [m["message"] for m in s.kavenegar.to("09121234567")]
    to_omar = [m["Body"] for m in s.twilio.to("+966501234567")]
    assert sorted(to_sara) == sorted(
        [
            "فروشگاه باران: ۵۰٬۰۰۰ تومان از اعتبارتان به مشتری دیگری منتقل شد",
            "فروشگاه باران: ۱۰۰٬۰۰۰ تومان از اعتبار شما به امتیاز تبدیل شد",
            "فروشگاه باران: جایزه شما ثبت شد؛ ۴۰۰ امتیاز از حسابتان کم شد",
        ]
    )
    # Omar reads Arabic, in toman as prices in Iran are (the shop name is the merchant's, in Persian).
    assert to_omar == ["فروشگاه باران: وصلك رصيد ٥٠٬٠٠٠ تومان من عميل آخر"]
    assert sorted(kinds) == sorted(
        [
            ("omar", N.MESSAGE_KIND_TRANSFERRED_IN, N.DELIVERY_STATUS_SENT, 1),
            ("sara", N.MESSAGE_KIND_TRANSFERRED_OUT, N.DELIVERY_STATUS_SENT, 1),
            ("sara", N.MESSAGE_KIND_CONVERTED, N.DELIVERY_STATUS_SENT, 1),
            ("sara", N.MESSAGE_KIND_REWARD_REDEEMED, N.DELIVERY_STATUS_SENT, 1),
        ]
    )
    assert all("birthday" not in m for m in to_sara + to_omar)  # the note is the customers' own text
    assert [str(v) for v in await audit_database(pg_url)] == []  # the wallet's books, after all of it
