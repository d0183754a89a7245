"""UpsertContact takes phone numbers as people write them and stores E.164;
a number SMS cannot reach is refused with a field violation naming the phone."""

from __future__ import annotations

import grpc
import pytest
from cashback.notify.v1 import notify_pb2 as N

from cashback_services.notify.domain.phones import PhoneError, region_for, to_e164
from tests.notify.stack import notify_stack
from tests.support.servers import auth


@pytest.mark.parametrize(("raw", "locale", "region", "e164"), [
    ("09121234567", "fa-IR", "", "+989121234567"),
    ("0912 123 4567", "fa", "", "+989121234567"),
    ("۰۹۱۲۱۲۳۴۵۶۷", "fa-IR", "", "+989121234567"),
    ("00989121234567", "en", "", "+989121234567"),
    ("+98 (912) 123-4567", "", "", "+989121234567"),
    ("0501234567", "ar-SA", "", "+966501234567"),
    ("٠٥٠١٢٣٤٥٦٧", "ar", "", "+966501234567"),
    ("\u200f050 123 4567\u200f", "ar", "", "+966501234567"),
    ("0501234567", "en", "SA", "+966501234567"),
    ("0501234567", "ar-AE", "", "+971501234567"),  # the locale's region wins over the language's
])
def test_numbers_written_nationally_or_in_native_digits_become_e164(raw, locale, region, e164):
    assert to_e164(raw, locale, region) == e164


@pytest.mark.parametrize(("raw", "locale", "why"), [
    ("02188776655", "fa-IR", "not a mobile"),  # a Tehran landline
    ("0501234567", "en", "no country"),
    ("0912", "fa-IR", "not a valid number"),
    ("hello", "fa-IR", "not a phone number"),
])
def test_numbers_sms_cannot_reach_are_refused_with_the_reason(raw, locale, why):
    with pytest.raises(PhoneError, match=why):
        to_e164(raw, locale)


def test_the_region_comes_from_the_locale_then_the_merchant_then_the_language():
    assert region_for("fa-IR") == "IR" and region_for("ar_AE") == "AE"
    assert region_for("en", "IR") == "IR" and region_for("ar") == "SA" and region_for("en") is None


async def test_upsert_contact_stores_e164_using_the_merchants_default_region_and_refuses_a_landline(pg_url):
    async with notify_stack(pg_url) as s:
        await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
            merchant_id="m1", expiry_warning_days=[7], notify_on_credit=True, notify_on_available=True,
            default_region="ir")), metadata=auth("ops"))
        await s.contact("c-fa", "۰۹۱۲ ۱۲۳ ۴۵۶۷", locale="fa-IR")
        await s.contact("c-en", "09121234568", locale="en", zone="Asia/Tehran")
        stored = [(await s.n.GetContact(N.GetContactRequest(merchant_id="m1", customer_id=c),
                                        metadata=auth("ops"))).contact.phone_e164 for c in ("c-fa", "c-en")]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await s.contact("c-land", "021 8877 6655", locale="fa-IR")
        with pytest.raises(grpc.aio.AioRpcError) as region:
            await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
                merchant_id="m1", expiry_warning_days=[7], default_region="Iran")), metadata=auth("ops"))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await s.n.GetContact(N.GetContactRequest(merchant_id="m1", customer_id="c-land"), metadata=auth("ops"))
    assert stored == ["+989121234567", "+989121234568"]
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "contact.phone_e164" in info.value.details() and "mobile" in info.value.details()
    assert "021" not in info.value.details()  # the refusal does not echo the number
    assert region.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "default_region" in region.value.details()
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND  # nothing was stored
