"""End to end: award an order through the wallet, and the customer's phone gets
exactly one correctly localised Persian SMS on the (local) Twilio."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cashback.wallet.v1 import wallet_pb2

from tests.notify.stack import eventually, irr_order, notify_stack
from tests.support.servers import auth

PHONE = "+989121234567"


async def test_an_awarded_order_sends_exactly_one_persian_sms_with_toman_and_date(db_url):
    async with notify_stack(db_url) as s:
        await s.campaign(currency="IRR", bps=1000, pending_days=14)
        await s.contact("c-fa", PHONE)
        placed = datetime.now(UTC)
        resp = await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order("o-1", "c-fa", 12_500_000, placed)),
                                    metadata=auth("checkout"))
        assert resp.credited.amount_minor == 1_250_000  # rials: 125,000 toman
        await eventually(lambda: s.twilio.to(PHONE))
        await asyncio.sleep(1.5)  # time for a duplicate to show up, if there were one
        # A retried award is idempotent: still one SMS.
        await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order("o-1", "c-fa", 12_500_000, placed)),
                             metadata=auth("checkout"))
        await asyncio.sleep(1.0)
    messages = s.twilio.to(PHONE)
    assert len(messages) == 1, messages
    body = messages[0]["Body"]
    available = (placed + timedelta(days=14)).astimezone(ZoneInfo("Asia/Tehran")).date()
    persian = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    assert "۱۲۵٬۰۰۰ تومان" in body
    assert f"{available.day}".translate(persian) in body and f"{available.year}".translate(persian) in body
    assert not any(ch.isascii() and ch.isdigit() for ch in body)
    assert "\u200f" in body
