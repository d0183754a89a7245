"""Notify's promises over real gRPC with the real wallet and rules: once per
event, once per local day for reminders, opt-outs, retries, quiet hours, and
expiry warnings checked again at send time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.wallet.v1 import wallet_pb2
from sqlalchemy import func, select

from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.wallet_events import credit_event
from cashback_services.notify.service_layer.flows import ingest
from tests.notify import fake_twilio as ft
from tests.notify.stack import eventually, irr_order, notify_stack
from tests.support.servers import auth


async def _deliveries(s, customer: str = "") -> list[N.Delivery]:
    resp = await s.n.ListDeliveries(N.ListDeliveriesRequest(merchant_id="m1", customer_id=customer, page_size=500),
                                    metadata=auth("ops"))
    return list(resp.deliveries)


async def test_the_same_event_twice_creates_its_deliveries_once(pg_url):
    async with notify_stack(pg_url) as s:
        await s.contact("c1", "+966501234567", locale="ar-SA", zone="Asia/Riyadh")
        event = wallet_pb2.WalletEvent(cursor=1, event_id="ev-1", type=wallet_pb2.WALLET_EVENT_TYPE_CREDITED,
                                       merchant_id="m1", customer_id="c1",
                                       amount=common_pb2.Money(currency_code="SAR", amount_minor=500))
        now = datetime.now(UTC)
        first = await ingest(s.notify.db, event.event_id, event.cursor, credit_event(event), now)
        second = await ingest(s.notify.db, event.event_id, event.cursor, credit_event(event), now)
        async with s.notify.db.read() as conn:
            inbox = (await conn.execute(select(func.count()).select_from(t.inbox))).scalar()
    assert (first, second) == (1, 0)
    assert inbox >= 1


async def test_a_reminder_campaign_run_twice_in_one_day_sends_once(pg_url):
    async with notify_stack(pg_url) as s:
        for i in range(3):
            await s.contact(f"r{i}", f"+96650123456{i}", locale="en", zone="Asia/Riyadh")
            await s.w.AdjustBalance(wallet_pb2.AdjustBalanceRequest(
                merchant_id="m1", customer_id=f"r{i}", reason="seed", idempotency_key=f"seed-{i}",
                amount=common_pb2.Money(currency_code="SAR", amount_minor=20_000 if i < 2 else 100)),
                metadata=auth("ops"))
        c = N.ReminderCampaign(merchant_id="m1", name="come back", cron="0 10 * * 6", timezone="Asia/Riyadh",
                               min_available=common_pb2.Money(currency_code="SAR", amount_minor=10_000),
                               inactive_days=0, channels=[N.CHANNEL_SMS])
        created = (await s.n.CreateReminderCampaign(N.CreateReminderCampaignRequest(campaign=c),
                                                    metadata=auth("ops"))).campaign
        assert created.next_run_at.seconds > 0
        run1 = (await s.n.RunReminderCampaign(N.RunReminderCampaignRequest(
            merchant_id="m1", campaign_id=created.campaign_id), metadata=auth("ops"))).run
        run2 = (await s.n.RunReminderCampaign(N.RunReminderCampaignRequest(
            merchant_id="m1", campaign_id=created.campaign_id), metadata=auth("ops"))).run
        await eventually(lambda: len(s.twilio.messages) >= 2)
        await asyncio.sleep(1.0)
    assert (run1.customers_matched, run1.deliveries_created) == (2, 2)
    assert (run2.customers_matched, run2.deliveries_created) == (2, 0)
    assert sorted(m["To"] for m in s.twilio.messages) == ["+966501234560", "+966501234561"]


async def test_a_stop_reply_suppresses_the_number_and_records_the_opt_out(pg_url):
    async with notify_stack(pg_url) as s:
        await s.campaign(currency="IRR", pending_days=0)
        await s.contact("c-stop", ft.STOP_NUMBER, locale="en", zone="UTC")
        await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order("o-s", "c-stop", 1_000_000,
                                                                          datetime.now(UTC))),
                             metadata=auth("checkout"))

        async def suppressed() -> bool:
            return any(d.status == N.DELIVERY_STATUS_SUPPRESSED for d in await _deliveries(s, "c-stop"))

        await eventually(suppressed)
        contact = (await s.n.GetContact(N.GetContactRequest(merchant_id="m1", customer_id="c-stop"),
                                        metadata=auth("ops"))).contact
        async with s.notify.db.read() as conn:
            optouts = (await conn.execute(select(t.optouts.c.phone_e164))).scalars().all()
    assert ft.STOP_NUMBER in optouts and contact.sms_opt_in is False
    assert s.twilio.messages == []


async def test_invalid_numbers_fail_for_good_and_server_errors_retry_then_succeed(pg_url):
    async with notify_stack(pg_url) as s:
        await s.campaign(currency="IRR", pending_days=30)
        await s.contact("c-bad", ft.INVALID_NUMBER, locale="en", zone="UTC")
        await s.contact("c-flaky", "+966501111111", locale="en", zone="UTC")
        s.twilio.fail_next["+966501111111"] = [500]
        for cust in ("c-bad", "c-flaky"):
            await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order(f"o-{cust}", cust, 1_000_000,
                                                                              datetime.now(UTC))),
                                 metadata=auth("checkout"))

        async def settled() -> bool:
            ds = await _deliveries(s)
            return {d.customer_id: d.status for d in ds} == {
                "c-bad": N.DELIVERY_STATUS_FAILED, "c-flaky": N.DELIVERY_STATUS_SENT}

        await eventually(settled, within=20)
        ds = {d.customer_id: d for d in await _deliveries(s)}
    assert "21211" in ds["c-bad"].error and ds["c-bad"].attempts == 1
    assert ds["c-flaky"].attempts == 2 and len(s.twilio.to("+966501111111")) == 1


async def test_quiet_hours_move_the_message_to_the_end_of_the_window(pg_url):
    async with notify_stack(pg_url) as s:
        now_utc = datetime.now(UTC)
        start = (now_utc - timedelta(hours=1)).strftime("%H:%M")
        end = (now_utc + timedelta(hours=2)).strftime("%H:%M")
        await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
            merchant_id="m1", expiry_warning_days=[7, 1], quiet_hours_start=start, quiet_hours_end=end,
            notify_on_credit=True, notify_on_available=True)), metadata=auth("ops"))
        await s.campaign(currency="IRR", pending_days=30)
        await s.contact("c-q", "+966502222222", locale="en", zone="UTC")
        await s.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=irr_order("o-q", "c-q", 1_000_000, now_utc)),
                             metadata=auth("checkout"))

        async def scheduled() -> list[N.Delivery]:
            return await _deliveries(s, "c-q")

        await eventually(scheduled)
        d = (await _deliveries(s, "c-q"))[0]
        await asyncio.sleep(1.0)
    assert d.status == N.DELIVERY_STATUS_SCHEDULED
    assert d.scheduled_for.ToDatetime(UTC) > now_utc + timedelta(minutes=100)
    assert s.twilio.messages == []


async def test_bad_contacts_and_overlong_templates_are_refused_with_field_violations(pg_url):
    async with notify_stack(pg_url) as s:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await s.contact("c-x", "+98 123", locale="fa-IR")
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "phone" in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await s.n.SetTemplate(N.SetTemplateRequest(template=N.Template(
                merchant_id="m1", kind=N.MESSAGE_KIND_CREDITED, channel=N.CHANNEL_SMS, locale="fa",
                body="{{ amount }} " + "سلام " * 40)), metadata=auth("ops"))
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "segments" in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as info:  # a template that raises is the client's fault
            await s.n.SetTemplate(N.SetTemplateRequest(template=N.Template(
                merchant_id="m1", kind=N.MESSAGE_KIND_CREDITED, channel=N.CHANNEL_SMS, locale="en",
                body="{{ amount + 1 }}")), metadata=auth("ops"))
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "TypeError" in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await s.n.GetContact(N.GetContactRequest(merchant_id="m1", customer_id="c-x"), metadata=auth("ops"))
        assert info.value.code() is grpc.StatusCode.NOT_FOUND
        preview = (await s.n.PreviewTemplate(N.PreviewTemplateRequest(
            merchant_id="m1", kind=N.MESSAGE_KIND_REMINDER, channel=N.CHANNEL_SMS, locale="ar"),
            metadata=auth("ops"))).rendered
    assert preview.encoding == "UCS-2" and 1 <= preview.segments <= 2
