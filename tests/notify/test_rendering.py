"""Messages in the customer's language: toman and Persian digits, SAR and Arabic
digits, right-to-left marks, and SMS segments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_services.notify.rendering import RLM, MessageContext, render, sms_encoding_and_segments, validate_template


def ctx(locale: str, amount: Money, zone: str = "UTC") -> MessageContext:
    return MessageContext(kind="credited", locale=locale, timezone=zone, amount=amount,
                          available_at=datetime(2026, 3, 5, 22, 0, tzinfo=UTC))


def test_a_persian_credit_sms_shows_toman_in_persian_digits_and_the_tehran_date():
    r = render("sms", ctx("fa-IR", Money("IRR", 1_250_000), "Asia/Tehran"))
    assert "۱۲۵٬۰۰۰ تومان" in r.body  # 1,250,000 rials = 125,000 toman
    assert "۶ مارس ۲۰۲۶" in r.body  # 22:00 UTC on the 5th is the 6th in Tehran
    assert not any(ch.isascii() and ch.isdigit() for ch in r.body)
    assert r.body.count(RLM) >= 2
    assert r.encoding == "UCS-2" and r.segments <= 2


def test_an_arabic_credit_sms_shows_sar_in_arabic_indic_digits():
    r = render("sms", ctx("ar-SA", Money("SAR", 5050), "Asia/Riyadh"))
    assert "٥٠٫٥٠ ر.س" in r.body
    assert not any(ch.isascii() and ch.isdigit() for ch in r.body)


def test_english_is_the_fallback_and_fits_gsm7():
    r = render("sms", ctx("de-DE", Money("SAR", 5050)))
    assert "50.50" in r.body and r.encoding == "GSM-7" and r.segments == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("a" * 160, ("GSM-7", 1)), ("a" * 161, ("GSM-7", 2)), ("a" * 306, ("GSM-7", 2)), ("a" * 307, ("GSM-7", 3)),
    ("€" * 80, ("GSM-7", 1)), ("€" * 81, ("GSM-7", 2)),
    ("س" * 70, ("UCS-2", 1)), ("س" * 71, ("UCS-2", 2)), ("س" * 134, ("UCS-2", 2)), ("س" * 135, ("UCS-2", 3)),
])
def test_segments_count_at_the_boundaries(text, expected):
    assert sms_encoding_and_segments(text) == expected


def test_a_template_past_two_segments_is_refused():
    with pytest.raises(InvalidArgument) as info:
        validate_template("credited", "sms", "fa", "{{ amount }} " + "س" * 140, "")
    assert info.value.violations[0].field == "template.body"


def test_the_sandbox_refuses_reaching_into_python_internals():
    with pytest.raises(InvalidArgument):
        validate_template("credited", "sms", "en", "{{ amount.__class__.__mro__ }}", "")
    with pytest.raises(InvalidArgument):
        validate_template("credited", "sms", "en", "{{ no_such_variable }}", "")


def test_email_has_a_subject():
    r = render("email", ctx("en", Money("SAR", 5050)))
    assert "cashback added" in r.subject and r.encoding == "" and r.segments == 0


@pytest.mark.parametrize("body", ["{{ amount + 1 }}", "{{ amount|int // 0 }}", "{{ 'x' * 10**9 }}",
                                  "{{ [0] * 100000000 }}", "{{ 9 ** (9 ** 9) }}"])
def test_a_template_that_raises_or_would_eat_the_process_is_an_invalid_argument(body):
    with pytest.raises(InvalidArgument) as info:
        validate_template("credited", "sms", "en", body, "")
    assert info.value.violations[0].field == "template.body"


def test_small_arithmetic_in_a_template_still_works():
    r = validate_template("credited", "sms", "en", "{{ '*' * 3 }} {{ 2 ** 10 }} {{ amount }}", "")
    assert r.body.startswith("*** 1024 ")
