"""The built-in texts for the wallet's events of issue 17 (transfers, conversions,
rewards): one segment each with the longest shop name, amounts and month names
the other texts are held to (tests/notify/test_texts.py), points counted the way
each language counts them."""

from __future__ import annotations

from datetime import datetime

import pytest

from cashback_kit.money import Money
from cashback_services.notify.domain.calendars import Style, points
from cashback_services.notify.domain.planning import ONE_PER_EVENT
from cashback_services.notify.domain.rendering import MessageContext, render, validate_template
from cashback_services.notify.domain.templates_builtin import BUILTIN
from tests.notify.test_texts import DATES, LATER, LONGEST, NOW

MOST_POINTS = Money("PTS", 999_999)
# (kind, language, amount in points, with an expiry date) -> segments, as the network bills them.
SEGMENTS = {
    (kind, lang, pts, dated): 1
    for kind in ONE_PER_EVENT
    for lang in ("fa", "ar", "en")
    for pts in ((False, True) if kind == "converted" else (True,) if kind == "reward_redeemed" else (False,))
    for dated in (False, True)
}


def rendered(kind: str, lang: str, pts: bool = False, when: datetime | None = LATER, channel: str = "sms"):
    shop, amount, zone = LONGEST[lang]
    ctx = MessageContext(
        kind=kind,
        locale=lang,
        timezone=zone,
        amount=MOST_POINTS if pts else amount,
        expires_at=when,
        shop=shop,
        now=NOW,
    )
    return render(channel, ctx)


@pytest.mark.parametrize(("kind", "lang", "pts", "dated"), list(SEGMENTS))
@pytest.mark.parametrize("when", DATES, ids=["may", "december", "september"])
def test_each_new_default_sms_fits_one_segment_with_the_shops_name(kind, lang, pts, dated, when):
    r = rendered(kind, lang, pts, when if dated else None)
    assert r.body.startswith(LONGEST[lang][0] + ": ")
    assert r.encoding == ("GSM-7" if lang == "en" else "UCS-2")
    assert r.segments == SEGMENTS[(kind, lang, pts, dated)], f"{len(r.body)} characters: {r.body}"


def test_the_texts_read_as_the_customer_would_write_them():
    assert (
        rendered("transferred_in", "fa").body == "فروشگاه باران: ۹۹۹٬۹۹۹ تومان اعتبار هدیه گرفتید، معتبر تا ۲۴ اردیبهشت"
    )
    assert rendered("transferred_out", "ar").body == "متجر الواحة ١: أرسلت ٩٬٩٩٩٫٩٩ ر.س من رصيدك إلى محفظة عميل آخر"
    assert rendered("converted", "ar", pts=True).body == "متجر الواحة ١: حوّلنا ٩٩٩٬٩٩٩ نقطة إلى رصيد في محفظتك"
    assert rendered("converted", "fa").body == "فروشگاه باران: ۹۹۹٬۹۹۹ تومان از اعتبار شما به امتیاز تبدیل شد"
    assert (
        rendered("reward_redeemed", "en", pts=True).body
        == "Nimbus Stores: you spent 999,999 points on a reward. Enjoy it!"
    )
    assert (
        rendered("transferred_in", "en", when=None).body
        == "Nimbus Stores: another customer sent you SAR9,999.99 of credit. Use it on your next order."
    )
    assert rendered("converted", "en", pts=True, channel="email").subject == "Your points are now credit"


@pytest.mark.parametrize(
    ("n", "fa", "ar", "en"),
    [
        (1, "۱ امتیاز", "نقطة واحدة", "1 point"),
        (2, "۲ امتیاز", "نقطتان", "2 points"),
        (5, "۵ امتیاز", "٥ نقاط", "5 points"),
        (11, "۱۱ امتیاز", "١١ نقطة", "11 points"),
        (100, "۱۰۰ امتیاز", "١٠٠ نقطة", "100 points"),
        (103, "۱۰۳ امتیاز", "١٠٣ نقاط", "103 points"),
        (12_500, "۱۲٬۵۰۰ امتیاز", "١٢٬٥٠٠ نقطة", "12,500 points"),
    ],
)
def test_points_are_counted_in_each_language_with_the_noun_its_grammar_wants(n, fa, ar, en):
    assert (points(n, Style("fa")), points(n, Style("ar")), points(n, Style("en"))) == (fa, ar, en)
    assert points(n, Style("ar", latin_digits=True)).startswith(f"{n:,}" if n > 2 else "نقط")


@pytest.mark.parametrize("kind", ONE_PER_EVENT)
@pytest.mark.parametrize("lang", ["fa", "ar", "en"])
def test_every_new_built_in_text_passes_the_checks_a_merchants_template_must_pass(kind, lang):
    sms, subject, email = BUILTIN[(kind, lang)]
    assert validate_template(kind, "sms", lang, sms, "").segments == 1
    validate_template(kind, "email", lang, email, subject)
