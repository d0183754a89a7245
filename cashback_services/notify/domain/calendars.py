"""Dates and numbers the way each language writes them: the Solar Hijri
calendar for Persian (jdatetime), the Umm al-Qura Hijri calendar beside the
Gregorian date for Arabic when the merchant wants it (hijridate), Gregorian for
everyone else; native digits unless the merchant asks for Latin ones; toman for
Iranian rials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import hijridate
import jdatetime
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from cashback_kit.money import Money, currency_exponent
from cashback_kit.points import POINTS, points_phrase

DIGITS = {
    "fa": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
    "ar": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
}
BABEL_LOCALE = {"en": "en", "fa": "fa_IR", "ar": "ar_SA"}
PERSIAN_MONTHS = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن",
                  "اسفند")


@dataclass(frozen=True)
class Style:
    """How one message writes numbers and dates: its language and the merchant's choices."""

    lang: str  # en | fa | ar
    latin_digits: bool = False
    hijri_beside: bool = False  # ar: the Umm al-Qura date in brackets after the Gregorian one

    def digits(self, text: str) -> str:
        if self.latin_digits or self.lang not in DIGITS:
            return text
        return text.translate(DIGITS[self.lang])


def solar_hijri(day: date, style: Style, year: bool = True) -> str:
    """«۲۴ آذر ۱۴۰۵» (or «۲۴ آذر»)."""
    j = jdatetime.date.fromgregorian(date=day)
    text = f"{j.day} {PERSIAN_MONTHS[j.month - 1]}"
    return style.digits(f"{text} {j.year}" if year else text)


def umm_al_qura(day: date, style: Style) -> str:
    """«٦ رجب ١٤٤٨هـ» (Umm al-Qura, the calendar Saudi Arabia uses)."""
    h = hijridate.Gregorian(day.year, day.month, day.day).to_hijri()
    return style.digits(f"{h.day} {h.month_name('ar')} {h.year}{h.notation('ar')}")


def gregorian(day: date, style: Style, year: bool = True) -> str:
    """«15 December 2026», «١٥ ديسمبر ٢٠٢٦» (or without the year)."""
    return style.digits(format_date(day, format="d MMMM y" if year else "d MMMM",
                                    locale=BABEL_LOCALE.get(style.lang, "en")))


def default_day(day: date, style: Style, year: bool = True) -> str:
    """The date as a customer of this language expects it; without the year for a
    short SMS about a date weeks away, where it goes without saying."""
    if style.lang == "fa":
        return solar_hijri(day, style, year)
    if style.lang == "ar" and style.hijri_beside:
        return f"{gregorian(day, style, year)} ({umm_al_qura(day, style)})"
    return gregorian(day, style, year)


def toman(rials: int) -> int:
    """Whole tomans (10 rials), half up: Iranians price in toman and never in fractions of one."""
    return (abs(rials) + 5) // 10 * (1 if rials >= 0 else -1)


def points(n: int, style: Style) -> str:
    """«۵۰ امتیاز», «٥٠ نقطة», «50 points»: points are counted, never priced."""
    numbers = "en" if style.latin_digits else BABEL_LOCALE.get(style.lang, "en")
    count = style.digits(format_decimal(n, locale=numbers, numbering_system="default"))
    return points_phrase(count, n, style.lang)


def money(m: Money, style: Style) -> str:
    """«۱۲۵٬۰۰۰ تومان», «125,000 toman», «٢٥٫٥٠ ر.س», «SAR 25.50» (and points as «۵۰ امتیاز»)."""
    if m.currency == POINTS:
        return points(m.minor, style)
    # Latin digits come with Latin separators (125,000), native ones with native separators (۱۲۵٬۰۰۰).
    numbers = "en" if style.latin_digits else BABEL_LOCALE.get(style.lang, "en")
    if m.currency == "IRR":
        # Prices in Iran are said and written in toman whatever the language of the message.
        whole = style.digits(format_decimal(toman(m.minor), locale=numbers, numbering_system="default"))
        return f"{whole} toman" if style.lang == "en" else f"{whole} تومان"
    major = Decimal(m.minor).scaleb(-currency_exponent(m.currency))
    if style.lang == "ar" and m.currency == "SAR":
        pattern = "#,##0" if m.minor % 100 == 0 else "#,##0.00"
        text = format_decimal(major, format=pattern, locale=numbers, numbering_system="default")
        return f"{style.digits(text)} ر.س"
    text = format_currency(major, m.currency, locale=BABEL_LOCALE.get(style.lang, "en"),
                           numbering_system="default")
    return style.digits(text)


def local_day(when: datetime, zone: str) -> date:
    """The calendar day `when` falls on in the customer's zone (UTC when unknown)."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return when.astimezone(tz).date()
