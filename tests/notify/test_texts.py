"""The built-in texts: every default SMS fits one segment with the shop's name
(up to 13 characters), the longest amounts we expect and the longest month
names, counted as the network counts them (GSM-7 160 with extension characters
as 2, UCS-2 70 in UTF-16 code units)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cashback_kit.money import Money
from cashback_services.notify.domain.planning import IRAN_OPT_OUT
from cashback_services.notify.domain.rendering import MessageContext, render

NOW = datetime(2027, 4, 20, 8, 0, tzinfo=UTC)
# 14 May 2027 is 24 Ordibehesht 1406 (اردیبهشت: the longest Persian month name); 24 December
# has the longest Arabic and English month names.
LATER = datetime(2027, 5, 14, 8, 0, tzinfo=UTC)
DATES = (LATER, datetime(2027, 12, 24, 8, 0, tzinfo=UTC), datetime(2027, 9, 28, 8, 0, tzinfo=UTC))
LONGEST = {
    "fa": ("فروشگاه باران", Money("IRR", 9_999_990), "Asia/Tehran"),  # 999,999 toman
    "ar": ("متجر الواحة ١", Money("SAR", 999_999), "Asia/Riyadh"),  # 9,999.99 riyals
    "en": ("Nimbus Stores", Money("SAR", 999_999), "Asia/Riyadh"),
}
# (kind, language, usable at once) -> segments, as the network bills them.
SEGMENTS = {
    ("credited", "fa", False): 1, ("credited", "fa", True): 1, ("available", "fa", False): 1,
    ("expiry_warning", "fa", False): 1, ("reminder", "fa", False): 1,
    ("credited", "ar", False): 1, ("credited", "ar", True): 1, ("available", "ar", False): 1,
    ("expiry_warning", "ar", False): 1, ("reminder", "ar", False): 1,
    ("credited", "en", False): 1, ("credited", "en", True): 1, ("available", "en", False): 1,
    ("expiry_warning", "en", False): 1, ("reminder", "en", False): 1,
}


def rendered(kind: str, lang: str, now: bool = False, when: datetime = LATER):
    shop, amount, zone = LONGEST[lang]
    ctx = MessageContext(kind=kind, locale=lang, timezone=zone, amount=amount, balance=amount,
                         available_at=when, expires_at=when, shop=shop, available_now=now, now=NOW)
    # Reminders to Iranian numbers carry the opt-out keyword: count it in.
    return render("sms", ctx, footer=IRAN_OPT_OUT if kind == "reminder" and lang == "fa" else "")


@pytest.mark.parametrize(("kind", "lang", "now"), list(SEGMENTS))
@pytest.mark.parametrize("when", DATES, ids=["may", "december", "september"])
def test_each_default_sms_fits_its_segment_count_with_the_shops_name(kind, lang, now, when):
    r = rendered(kind, lang, now, when)
    assert r.body.startswith(LONGEST[lang][0] + ": ")
    assert r.encoding == ("GSM-7" if lang == "en" else "UCS-2")
    assert r.segments == SEGMENTS[(kind, lang, now)], f"{len(r.body)} characters: {r.body}"


def test_the_shop_name_is_counted_so_a_longer_one_shows_up_as_a_second_segment():
    shop, amount, zone = LONGEST["fa"]
    ctx = MessageContext(kind="credited", locale="fa", timezone=zone, amount=amount, available_at=LATER,
                         shop=shop + " مرکزی تهران", now=NOW)
    assert render("sms", ctx).segments == 2


def test_the_persian_texts_say_toman_credit_and_the_solar_hijri_date_in_persian_digits():
    credited = rendered("credited", "fa").body
    assert credited == "فروشگاه باران: ۹۹۹٬۹۹۹ تومان اعتبار گرفتید؛ از ۲۴ اردیبهشت فعال می‌شود"
    assert "اعتبار" in rendered("available", "fa").body


def test_the_arabic_now_available_text_speaks_of_the_credit_that_became_available_not_the_total_balance():
    body = rendered("available", "ar").body
    assert body == "متجر الواحة ١: أصبح ٩٬٩٩٩٫٩٩ ر.س من رصيدك متاحاً للاستخدام"
    assert "رصيدك" in body and "أصبح رصيدك" not in body


def test_expiry_and_the_email_have_the_days_left_in_native_digits():
    shop, amount, zone = LONGEST["fa"]
    ctx = MessageContext(kind="expiry_warning", locale="fa", timezone=zone, amount=amount, expires_at=LATER,
                         shop=shop, now=LATER - timedelta(days=3, hours=1))
    assert "(۳ روز دیگر)" in render("email", ctx).body
