"""Credit events -> messages -> deliveries, alone: plain functions of the domain
events, the contact, the policy, the merchant's templates and the opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cashback.common.v1 import common_pb2
from cashback.wallet.v1 import wallet_pb2

from cashback_kit.money import Money
from cashback_services.notify.adapters.wallet_events import credit_event
from cashback_services.notify.domain.events import CreditEvent
from cashback_services.notify.domain.model import Contact, Policy
from cashback_services.notify.domain.planning import IRAN_OPT_OUT, Message, for_customer, message_for_credits, plan

NOW = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 23:30 in Tehran
FA = Contact("m1", "c1", "+989121234567", "c1@example.com", "fa-IR", "Asia/Tehran", True, True)
SHOP = Policy("m1", shop_name="فروشگاه نمونه")


def _credit(event_id: str = "ev-7", minor: int = 1_250_000, pending_days: int = 14, order: str = "o-1",
            kind: str = "credited") -> CreditEvent:
    return CreditEvent(event_id, kind, "m1", "c1", Money("IRR", minor), order_id=order, lot_id=f"lot-{event_id}",
                       available_at=NOW + timedelta(days=pending_days), occurred_at=NOW)


def test_the_wallet_stream_adapter_maps_a_credited_event_to_a_domain_event():
    e = wallet_pb2.WalletEvent(cursor=7, event_id="ev-7", type=wallet_pb2.WALLET_EVENT_TYPE_CREDITED,
                               merchant_id="m1", customer_id="c1", order_id="o-1", lot_id="lot-1",
                               amount=common_pb2.Money(currency_code="IRR", amount_minor=1_250_000))
    e.available_at.FromDatetime(NOW + timedelta(days=14))
    e.occurred_at.FromDatetime(NOW)
    credit = credit_event(e)
    assert credit == CreditEvent("ev-7", "credited", "m1", "c1", Money("IRR", 1_250_000), "o-1", "lot-1",
                                 NOW + timedelta(days=14), None, NOW)
    assert credit_event(wallet_pb2.WalletEvent(type=wallet_pb2.WALLET_EVENT_TYPE_REDEEMED)) is None


def test_an_orders_two_awards_become_one_message_with_their_total_keyed_by_the_order():
    message = message_for_credits([_credit("ev-1", 1_000_000), _credit("ev-2", 250_000)])
    assert message is not None and message.key_base == "order:o-1"
    sms, email = plan(message, FA, SHOP, {}, set(), NOW)
    assert sms.dedupe_key == "m1:order:o-1:credited:sms:c1" and email.channel == "email"
    assert "۱۲۵٬۰۰۰ تومان" in sms.body and "از ۲۴ اسفند فعال" in sms.body
    assert sms.body.startswith("فروشگاه نمونه: ") and (sms.encoding, sms.segments) == ("UCS-2", 1)


def test_credit_usable_at_once_says_so_instead_of_a_date():
    message = message_for_credits([_credit(pending_days=0)])
    sms = plan(message, FA, SHOP, {}, set(), NOW)[0]
    assert "همین حالا" in sms.body and "اسفند" not in sms.body


def test_credit_without_an_order_is_one_message_per_event():
    assert message_for_credits([_credit("ev-9", order="")]).key_base == "event:ev-9"


def test_a_stopped_number_is_planned_suppressed_and_quiet_hours_move_the_rest():
    quiet = Policy("m1", quiet_hours_start="22:00", quiet_hours_end="08:00")
    sms, email = plan(message_for_credits([_credit()]), FA, quiet, {}, {FA.phone_e164}, NOW)
    assert sms.status == "SUPPRESSED" and "STOP" in sms.error
    # 08:00 Tehran (UTC+3:30) the next morning.
    assert email.scheduled_for == datetime(2026, 3, 2, 4, 30, tzinfo=UTC)


def test_not_before_holds_a_message_back_for_the_rest_of_its_order():
    sms = plan(message_for_credits([_credit()]), FA, SHOP, {}, set(), NOW, not_before=NOW + timedelta(seconds=3))[0]
    assert sms.scheduled_for == NOW + timedelta(seconds=3)


def test_the_merchants_template_is_used_for_its_channel_only():
    templates = {"sms": ("اعتبار: {{ amount }}", "")}
    sms, email = plan(message_for_credits([_credit()]), FA, Policy("m1"), templates, set(), NOW)
    assert sms.body.startswith("اعتبار: ") and sms.segments == 1
    assert "کیف پول" in email.body


def test_a_reminder_to_an_iranian_number_ends_with_the_opt_out_keyword_and_others_do_not():
    reminder = Message("m1", "c1", "reminder", "reminder:rc1:2026-03-01",
                       for_customer(amount=Money("IRR", 1_250_000), balance=Money("IRR", 1_250_000)))
    sms = plan(reminder, FA, SHOP, {}, set(), NOW, channels=("sms",))[0]
    assert sms.body.endswith("\n" + IRAN_OPT_OUT) and sms.segments == 1
    saudi = Contact("m1", "c1", "+966501234567", "", "fa", "Asia/Riyadh", True, False)
    assert IRAN_OPT_OUT not in plan(reminder, saudi, SHOP, {}, set(), NOW, channels=("sms",))[0].body
    credited = plan(message_for_credits([_credit()]), FA, SHOP, {}, set(), NOW, channels=("sms",))[0]
    assert IRAN_OPT_OUT not in credited.body
