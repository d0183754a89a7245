"""End to end over real gRPC with the real wallet and rules: an order's awards
reach the customer's phone as exactly one message in their language, through
the provider that reaches their country (Kavenegar for Iran, Twilio for Saudi
Arabia), with the phone number written the way the shop's customer list has it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import jdatetime
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2

from tests.notify.stack import eventually, irr_order, notify_stack
from tests.support.servers import auth

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


async def _shop(s, name: str) -> None:
    await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
        merchant_id="m1", expiry_warning_days=[7, 1], notify_on_credit=True, notify_on_available=True,
        shop_name=name)), metadata=auth("ops"))


async def test_a_tehran_customer_gets_exactly_one_persian_sms_through_kavenegar_for_an_order_with_two_awards(pg_url):
    async with notify_stack(pg_url) as s:
        await _shop(s, "فروشگاه نمونه")
        await s.campaign(currency="IRR", bps=1000, pending_days=14, name="10%")
        await s.campaign(currency="IRR", bps=500, pending_days=14, name="5% stacked")
        await s.contact("c-fa", "09121234567", locale="fa-IR", zone="Asia/Tehran")
        placed = datetime.now(UTC)
        order = irr_order("o-1", "c-fa", 12_500_000, placed)
        resp = await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=auth("checkout"))
        assert resp.credited.amount_minor == 1_875_000  # two awards: 1,250,000 + 625,000 rials
        await eventually(lambda: s.kavenegar.to("09121234567"))
        await asyncio.sleep(2.0)  # time for a second message to show up, if there were one
        await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=auth("checkout"))  # a retry
        await asyncio.sleep(1.0)
        deliveries = (await s.n.ListDeliveries(N.ListDeliveriesRequest(merchant_id="m1", customer_id="c-fa"),
                                               metadata=auth("ops"))).deliveries
    messages = s.kavenegar.to("09121234567")
    assert len(messages) == 1, messages
    assert s.twilio.messages == []
    body = messages[0]["message"]
    available = (placed + timedelta(days=14)).astimezone(ZoneInfo("Asia/Tehran")).date()
    solar = jdatetime.date.fromgregorian(date=available)
    month = jdatetime.date.j_months_fa[solar.month - 1]
    day = str(solar.day).translate(PERSIAN)
    assert body == f"فروشگاه نمونه: ۱۸۷٬۵۰۰ تومان اعتبار گرفتید؛ از {day} {month} فعال می‌شود"
    assert [(d.kind, d.channel, d.status, d.segments) for d in deliveries] == [
        (N.MESSAGE_KIND_CREDITED, N.CHANNEL_SMS, N.DELIVERY_STATUS_SENT, 1)]
    assert deliveries[0].to == "+989121234567" and messages[0]["localid"] == deliveries[0].delivery_id


async def test_a_riyadh_customer_gets_one_arabic_sms_through_twilio_and_no_now_available_for_credit_usable_at_once(
        pg_url):
    async with notify_stack(pg_url) as s:
        await _shop(s, "متجر النخبة")
        await s.campaign(currency="SAR", bps=1000, pending_days=0)
        await s.contact("c-ar", "0501234567", locale="ar-SA", zone="Asia/Riyadh")
        order = rules_pb2.Order(merchant_id="m1", order_id="o-sa", customer_id="c-ar", currency_code="SAR",
                                channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                                lines=[rules_pb2.OrderLine(sku="s1", unit_price=common_pb2.Money(
                                    currency_code="SAR", amount_minor=25_500), quantity=1)])
        order.placed_at.FromDatetime(datetime.now(UTC))
        await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=auth("checkout"))
        await eventually(lambda: s.twilio.to("+966501234567"))
        await asyncio.sleep(2.0)
    messages = s.twilio.to("+966501234567")
    assert len(messages) == 1, messages
    assert messages[0]["Body"] == "متجر النخبة: أضفنا ٢٥٫٥٠ ر.س لرصيدك، متاح للاستخدام الآن"
    assert s.kavenegar.messages == []
