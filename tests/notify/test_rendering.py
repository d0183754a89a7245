"""Messages in the customer's language: toman, Persian digits and the Solar Hijri
calendar, SAR and Arabic digits (and the Umm al-Qura date when asked), date
filters in merchant templates, right-to-left marks, and SMS segments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_services.notify.domain.rendering import (
    RLM,
    MessageContext,
    render,
    sms_encoding_and_segments,
    validate_template,
)


def ctx(locale: str, amount: Money, zone: str = "UTC", **kw) -> MessageContext:
    return MessageContext(kind="credited", locale=locale, timezone=zone, amount=amount,
                          available_at=datetime(2026, 3, 5, 22, 0, tzinfo=UTC), **kw)


def test_a_persian_credit_sms_shows_toman_in_persian_digits_and_the_solar_hijri_tehran_date():
    r = render("sms", ctx("fa-IR", Money("IRR", 1_250_000), "Asia/Tehran"))
    assert "۱۲۵٬۰۰۰ تومان" in r.body  # 1,250,000 rials = 125,000 toman
    assert "از ۱۵ اسفند فعال" in r.body  # 22:00 UTC on 5 March 2026 is 6 March in Tehran: 15 Esfand 1404
    assert "۱۵ اسفند ۱۴۰۴" in render("email", ctx("fa-IR", Money("IRR", 1_250_000), "Asia/Tehran")).body
    assert not any(ch.isascii() and ch.isdigit() for ch in r.body)
    assert RLM not in r.body  # it opens with a Persian word: no mark needed
    assert r.encoding == "UCS-2" and r.segments == 1


def test_a_latin_shop_name_opening_a_persian_sms_gets_a_right_to_left_mark():
    r = render("sms", ctx("fa-IR", Money("IRR", 1_250_000), "Asia/Tehran", shop="Digi"))
    assert r.body.startswith(RLM + "Digi: ")


def test_toman_are_whole_and_rounded_half_up():
    assert "۱۲۵٬۰۰۱ تومان" in render("sms", ctx("fa", Money("IRR", 1_250_005))).body
    assert "۱۲۵٬۰۰۰ تومان" in render("sms", ctx("fa", Money("IRR", 1_250_004))).body


def test_an_english_or_arabic_message_about_rials_says_toman_too():
    assert "125,000 toman" in render("sms", ctx("en", Money("IRR", 1_250_000))).body
    assert "١٢٥٬٠٠٠ تومان" in render("sms", ctx("ar", Money("IRR", 1_250_000))).body


def test_latin_digits_are_a_merchant_choice():
    r = render("sms", ctx("fa-IR", Money("IRR", 1_250_000), "Asia/Tehran", latin_digits=True))
    assert "125,000 تومان" in r.body and "15 اسفند" in r.body


def test_arabic_dates_are_gregorian_with_the_umm_al_qura_date_beside_them_when_the_merchant_asks():
    plain = render("sms", ctx("ar-SA", Money("SAR", 5050), "Asia/Riyadh"))
    both = render("sms", ctx("ar-SA", Money("SAR", 5050), "Asia/Riyadh", hijri_beside=True))
    assert "٦ مارس ٢٠٢٦" in plain.body and "هـ" not in plain.body
    # 6 March 2026 is 17 Ramadan 1447 in the Umm al-Qura calendar.
    assert "٦ مارس ٢٠٢٦ (١٧ رمضان ١٤٤٧هـ)" in both.body


def test_a_merchant_template_gets_dates_as_values_and_picks_the_calendar_with_a_filter():
    c = ctx("fa-IR", Money("IRR", 1_250_000), "Asia/Tehran")
    body = "{{ available_at|gregorian }} / {{ available_at|jalali }} / {{ available_at|hijri }} / {{ available_at }}"
    r = render("sms", c, body=body)
    assert r.body == "۶ مارس ۲۰۲۶ / ۱۵ اسفند ۱۴۰۴ / ۱۷ رمضان ۱۴۴۷هـ / ۱۵ اسفند ۱۴۰۴"


def test_an_arabic_credit_sms_shows_sar_in_arabic_indic_digits():
    r = render("sms", ctx("ar-SA", Money("SAR", 5050), "Asia/Riyadh"))
    assert "٥٠٫٥٠ ر.س" in r.body
    assert not any(ch.isascii() and ch.isdigit() for ch in r.body)
    whole = render("sms", ctx("ar-SA", Money("SAR", 5000), "Asia/Riyadh")).body
    assert "٥٠ ر.س" in whole and "٫" not in whole  # whole riyals: no ".00"


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
