"""The event -> deliveries step alone: a plain function of the event, the
contact, the policy, the merchant's templates and the opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2

from cashback_services.notify.domain import Contact, Policy
from cashback_services.notify.planning import message_for_event, plan

NOW = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 23:30 in Tehran
FA = Contact("m1", "c1", "+989121234567", "c1@example.com", "fa-IR", "Asia/Tehran", True, True)


def _event(kind=wallet_pb2.WALLET_EVENT_TYPE_CREDITED, lot="") -> wallet_pb2.WalletEvent:
    e = wallet_pb2.WalletEvent(cursor=7, event_id="ev-7", type=kind, merchant_id="m1", customer_id="c1",
                               lot_id=lot, amount=common_pb2.Money(currency_code="IRR", amount_minor=1_250_000))
    e.available_at.FromDatetime(NOW + timedelta(days=14))
    return e


def test_a_credit_event_becomes_one_persian_sms_and_one_email_keyed_by_the_event():
    planned = plan(message_for_event(_event(), Policy("m1")), FA, Policy("m1"), {}, set(), NOW)
    assert [p.channel for p in planned] == ["sms", "email"]
    sms = planned[0]
    assert sms.dedupe_key == "event:ev-7:credited:sms:c1"
    assert sms.status == "SCHEDULED" and sms.scheduled_for == NOW
    assert "۱۲۵٬۰۰۰ تومان" in sms.body and (sms.encoding, sms.segments) == ("UCS-2", 2)


def test_now_available_is_keyed_by_the_lot_so_a_replayed_lot_plans_the_same_key():
    a = plan(message_for_event(_event(wallet_pb2.WALLET_EVENT_TYPE_AVAILABLE, lot="lot-1"), Policy("m1")),
             FA, Policy("m1"), {}, set(), NOW)
    assert a[0].dedupe_key == "lot:lot-1:available:sms:c1"


def test_no_contact_or_a_disabled_kind_plans_nothing():
    off = Policy("m1", notify_on_credit=False)
    assert message_for_event(_event(), off) is None
    assert plan(message_for_event(_event(), Policy("m1")), None, Policy("m1"), {}, set(), NOW) == []
    assert message_for_event(_event(wallet_pb2.WALLET_EVENT_TYPE_REDEEMED), Policy("m1")) is None


def test_a_stopped_number_is_planned_suppressed_and_quiet_hours_move_the_rest():
    quiet = Policy("m1", quiet_hours_start="22:00", quiet_hours_end="08:00")
    planned = plan(message_for_event(_event(), quiet), FA, quiet, {}, {FA.phone_e164}, NOW)
    sms, email = planned
    assert sms.status == "SUPPRESSED" and "STOP" in sms.error
    # 08:00 Tehran (UTC+3:30) the next morning.
    assert email.scheduled_for == datetime(2026, 3, 2, 4, 30, tzinfo=UTC)


def test_the_merchants_template_is_used_for_its_channel_only():
    templates = {"sms": ("اعتبار: {{ amount }}", "")}
    sms, email = plan(message_for_event(_event(), Policy("m1")), FA, Policy("m1"), templates, set(), NOW)
    assert sms.body.startswith("اعتبار: ") and sms.segments == 1
    assert "کیف پول" in email.body
