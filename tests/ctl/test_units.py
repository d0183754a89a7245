"""Money as people write it, and as the CLI and console show it."""

from __future__ import annotations

from datetime import date

import pytest

from cashback_kit.money import Money
from cashbackctl.units import AmountError, date_text, money_text, number, parse_amount


@pytest.mark.parametrize(("text", "expected"), [
    ("50 SAR", Money("SAR", 5000)),
    ("-10 SAR", Money("SAR", -1000)),
    ("50,000 toman", Money("IRR", 500000)),
    ("۵۰٬۰۰۰ تومان", Money("IRR", 500000)),
    ("١٠ SAR", Money("SAR", 1000)),
    ("1,000,000 IRR", Money("IRR", 1000000)),
    ("1,000,000 ریال", Money("IRR", 1000000)),
    ("sar 2.5", Money("SAR", 250)),
])
def test_amounts_are_read_as_people_write_them(text, expected):
    assert parse_amount(text, "amount") == expected


def test_a_bare_amount_is_in_the_currency_given_and_the_lookup_runs_only_when_needed():
    calls: list[int] = []

    def merchant() -> str:
        calls.append(1)
        return "IRR"

    assert parse_amount("12 SAR", "amount", merchant) == Money("SAR", 1200) and not calls
    assert parse_amount("12", "amount", merchant) == Money("IRR", 12) and calls == [1]


@pytest.mark.parametrize(("text", "message"), [
    ("0.001 SAR", "more decimals than SAR allows"),
    ("ten SAR", "is not an amount"),
    ("5 XYZ", "'XYZ' is not a currency"),
    ("5", "needs a currency"),
])
def test_bad_amounts_are_refused_naming_the_field(text, message):
    with pytest.raises(AmountError, match=message) as err:
        parse_amount(text, "budget")
    assert str(err.value).startswith("budget: ")


def test_rials_are_shown_as_whole_tomans_in_each_languages_digits():
    m = Money("IRR", 17_500_005)
    assert money_text(m, "en") == "1,750,001 toman"  # 1,750,000.5 tomans, half up
    assert money_text(m, "fa") == "۱٬۷۵۰٬۰۰۱ تومان"
    assert money_text(m, "ar") == "١٬٧٥٠٬٠٠١ تومان"
    assert money_text(Money("SAR", -2550), "en") == "-25.50 SAR"


def test_big_numbers_never_use_scientific_notation():
    assert number(10**12, "en") == "1,000,000,000,000"


def test_persian_dates_are_solar_hijri():
    assert date_text(date(2026, 12, 1), "fa") == "۱۴۰۵/۰۹/۱۰"
    assert date_text(date(2026, 12, 1), "en") == "2026-12-01"
    assert date_text(date(2026, 12, 1), "ar") == "٠١/١٢/٢٠٢٦"


def test_arabic_shows_riyals_with_the_local_symbol():
    assert money_text(Money("SAR", 2550), "ar") == "٢٥٫٥٠ ر.س."
