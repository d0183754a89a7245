"""FindContacts: a customer search by phone written any usual way (national,
international, Persian digits) or by email, within the merchant, over real gRPC
on PostgreSQL; the number is never logged nor echoed in an error."""

from __future__ import annotations

import logging

import grpc
import pytest
from cashback.notify.v1 import notify_pb2 as N

from cashback_services.notify.domain.phones import PhoneError, search_forms
from tests.notify.stack import notify_stack
from tests.support.servers import auth

OPS = auth("ops")


def test_a_national_number_is_read_in_the_merchants_region_or_else_in_each_of_our_countries() -> None:
    assert search_forms("0912 345 6789", "IR") == ["+989123456789"]
    assert search_forms("۰۹۱۲۳۴۵۶۷۸۹") == ["+989123456789"]  # no default region: valid in IR only
    assert search_forms("٠٥٠١٢٣٤٥٦٧") == ["+966501234567"]
    assert search_forms("+971 50 123 4567", "IR") == ["+971501234567"]
    with pytest.raises(PhoneError):
        search_forms("0912", "IR")


async def test_a_phone_written_any_way_finds_every_contact_with_it_and_only_in_this_merchant(pg_url, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with notify_stack(pg_url) as s:
        await s.n.SetNotifyPolicy(N.SetNotifyPolicyRequest(policy=N.NotifyPolicy(
            merchant_id="m1", expiry_warning_days=[7], default_region="IR")), metadata=OPS)
        await s.contact("c-mother", "۰۹۱۲ ۳۴۵ ۶۷۸۹", locale="fa-IR")
        await s.contact("c-son", "+98 912 345 6789", locale="en")  # one family phone, two customers
        await s.contact("c-other", "09127654321", locale="fa-IR")
        await s.contact("c-mail", "", locale="en", email="Sara.Ahmadi@Example.com")
        await s.n.UpsertContact(N.UpsertContactRequest(contact=N.Contact(
            merchant_id="m2", customer_id="c-elsewhere", phone_e164="+989123456789", locale="fa-IR",
            timezone="Asia/Tehran", sms_opt_in=True)), metadata=OPS)

        async def find(phone: str = "", email: str = "") -> list[str]:
            req = N.FindContactsRequest(merchant_id="m1", phone=phone, email=email)
            return [c.customer_id for c in (await s.n.FindContacts(req, metadata=OPS)).contacts]

        for written in ("0912 345 6789", "۰۹۱۲۳۴۵۶۷۸۹", "+989123456789", "00989123456789", "\u200f0912-345-6789"):
            assert await find(written) == ["c-mother", "c-son"], written
        assert await find("09127654321") == ["c-other"]
        assert await find("09120000000") == []  # a valid number no contact has
        assert await find(email="sara.ahmadi@example.COM") == ["c-mail"]

        for phone, email in (("0912", ""), ("not a phone", ""), ("", "")):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await find(phone, email)
            assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "phone" in (err.value.details() or "") and "0912" not in (err.value.details() or "")
    assert "FindContacts" in caplog.text  # the calls were logged (method, status), not their content
    # The number's subscriber part in any script (a short piece like "345" also matches timestamps).
    for piece in ("3456789", "345 6789", "345-6789", "۳۴۵۶۷۸۹", "٣٤٥٦٧", "Sara", "sara."):
        assert piece not in caplog.text
