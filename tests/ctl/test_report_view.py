"""The report's HTML from given figures (no services): rials become whole tomans,
big amounts and small customer counts get whole-number axes, never 1e6."""

from __future__ import annotations

import re
from datetime import date

from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2

from cashbackctl.report_data import ReportData
from cashbackctl.report_view import page


def irr(minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="IRR", amount_minor=minor)


def data() -> ReportData:
    days = [wallet_pb2.ProgramDay(date=f"2026-11-{d:02d}", earned=irr(17_500_000 * d), redeemed=irr(0),
                                  expired=irr(0), liability=irr(17_500_000 * d)) for d in range(1, 8)]
    timeline = wallet_pb2.GetProgramTimelineResponse(days=days, redemption_delay=[
        wallet_pb2.DelayBucket(min_days=0, max_days=7, customers=1),
        wallet_pb2.DelayBucket(min_days=7, max_days=0, customers=2)])
    stats = wallet_pb2.ProgramStats(customers_earned=3, customers_redeemed=1, earned=irr(17_500_000),
                                    redeemed=irr(0), expired=irr(0), outstanding_liability=irr(17_500_000),
                                    avg_days_to_first_redemption=2.5, repeat_purchase_share=0.5)
    campaigns = rules_pb2.GetCampaignReportResponse(campaigns=[rules_pb2.CampaignCost(
        campaign_id="c1", name="Yalda", cost=irr(17_500_000), gmv=irr(350_000_000), orders=12)],
        repeat_purchase=rules_pb2.RepeatPurchase(earners=3, earners_repeat=1, non_earners=1))
    return ReportData("m2", date(2026, 11, 1), date(2026, 11, 7), "IRR", stats, timeline, campaigns)


def chart_text(html: str) -> list[str]:
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", html) if t.strip()]


def test_rials_are_reported_in_whole_tomans_and_axes_never_use_scientific_notation():
    html = page(data(), "en")
    assert "1,750,000 toman" in html and "1750000 IRR" not in html and "17,500,000" not in html.split("<svg")[0]
    labels = chart_text(html)
    assert "12,000,000" in labels  # up to 7 x 1,750,000 tomans: the axis counts tomans, grouped
    assert not any(re.search(r"\de[+-]?\d|1e\d|×", t) for t in labels)
    numbers = [t for t in labels if re.fullmatch(r"[\d,]+", t)]
    assert numbers and all("." not in t for t in numbers)


def test_the_customer_counts_axis_has_no_fractions():
    html = page(data(), "en")
    delay_svg = html.split("<svg")[3]  # flows, liability, then the redemption delay
    ticks = [t for t in chart_text("<svg" + delay_svg) if re.fullmatch(r"[\d.,]+", t)]
    assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks


def test_persian_and_arabic_pages_are_right_to_left_in_their_digits():
    fa, ar = page(data(), "fa"), page(data(), "ar")
    assert '<html lang="fa" dir="rtl">' in fa and "۱٬۷۵۰٬۰۰۰ تومان" in fa and "۱۴۰۵/۰۸/۱۰" in fa
    assert '<html lang="ar" dir="rtl">' in ar and "١٬٧٥٠٬٠٠٠ تومان" in ar and "٠١/١١/٢٠٢٦" in ar
