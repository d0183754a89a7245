"""Money and numbers as people write and read them, in en, fa and ar.

Parsing accepts "50 SAR", "-10 SAR", "50,000 toman", "۵۰٬۰۰۰ تومان" and a bare
amount in the merchant's currency. Formatting shows IRR in whole tomans (the unit
Iranian shoppers and merchants use; IRR / 10, ties rounded half up) and uses each
language's own digits and separators. Shared by cashbackctl and the web console.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from babel.numbers import format_decimal, get_currency_symbol

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money, Rounding, currency_exponent, div_round, validate_currency
from cashback_kit.points import POINTS, points_phrase

LANGUAGES = ("en", "fa", "ar")
# Persian and Arabic-Indic digits, their group and decimal separators, and the minus sign.
_TO_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٬٫−", "01234567890123456789,.-")
_NATIVE = {"fa": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"), "ar": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")}
# Babel's fa data already uses the Persian separators; ar needs the "arab" numbering system for them.
_NUMBERING = {"en": "latn", "fa": "default", "ar": "arab"}
# Words for a currency and how many of its minor units one of them is worth (None: the ISO exponent).
_UNIT_WORDS: dict[str, tuple[str, int | None]] = {
    "toman": ("IRR", 10), "tomans": ("IRR", 10), "تومان": ("IRR", 10), "تومن": ("IRR", 10),
    "rial": ("IRR", 1), "rials": ("IRR", 1), "ریال": ("IRR", 1),
}
_NUM = r"(?P<sign>[+-]?)\s*(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)"
_AMOUNT_UNIT = re.compile(rf"^{_NUM}\s*(?P<unit>[^\d\s,.+-]*)$")
_UNIT_AMOUNT = re.compile(rf"^(?P<unit>[^\d\s,.+-]+)\s*{_NUM}$")
TOMAN = {"en": "toman", "fa": "تومان", "ar": "تومان"}


class AmountError(ValueError):
    """Bad money text; the message names the field."""


def language(locale: str) -> str:
    """'fa-IR' -> 'fa'; anything we have no words for -> 'en'."""
    lang = (locale or "en").replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else "en"


def to_ascii(text: str) -> str:
    return text.translate(_TO_ASCII)


def parse_amount(text: str, field: str, currency: str | Callable[[], str] = "") -> Money:
    """Money from what a person typed. `currency` (or what it returns: it is called only
    when needed, as finding the merchant's may take an RPC) is used when the text names none."""
    raw = " ".join(to_ascii(str(text)).split())
    m = _AMOUNT_UNIT.match(raw) or _UNIT_AMOUNT.match(raw)
    if not m:
        raise AmountError(f"{field}: {text!r} is not an amount; write e.g. '50 SAR', '-10 SAR' or '50,000 toman'")
    unit = m.group("unit")
    code, per_unit = _unit(unit or (currency() if callable(currency) else currency), field, text)
    value = Decimal(m.group("num").replace(",", ""))
    minor = value * (per_unit if per_unit is not None else 10 ** currency_exponent(code))
    if minor != minor.to_integral_value():
        raise AmountError(f"{field}: {text!r} has more decimals than {code} allows")
    return Money(code, int(minor) * (-1 if m.group("sign") == "-" else 1))


def _unit(word: str, field: str, text: str) -> tuple[str, int | None]:
    if not word:
        raise AmountError(f"{field}: {text!r} needs a currency, e.g. '50 SAR' or '50,000 toman'")
    if word.lower() in _UNIT_WORDS:
        return _UNIT_WORDS[word.lower()]
    try:
        return validate_currency(word.upper(), field), None
    except InvalidArgument as exc:
        raise AmountError(f"{field}: {word!r} is not a currency; use an ISO code (SAR, IRR) or toman") from exc


def digits(text: str, lang: str) -> str:
    """ASCII digits to the language's own."""
    table = _NATIVE.get(language(lang))
    return text.translate(table) if table else text


def number(value: int | Decimal, lang: str = "en", decimals: int = 0) -> str:
    """A grouped number in the language's digits and separators (never scientific notation)."""
    lang = language(lang)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return digits(format_decimal(Decimal(value), format=pattern, locale=lang, numbering_system=_NUMBERING[lang]),
                  lang)


def percent(value: int | Decimal, lang: str = "en", decimals: int = 0) -> str:
    """'12.5%', '۱۲٫۵٪'."""
    return number(value, lang, decimals) + ("%" if language(lang) == "en" else "٪")


def display_unit(currency: str, lang: str = "en") -> str:
    """What amounts of this currency are shown in: tomans for IRR; in Arabic the local
    symbol (ر.س. for SAR); else the ISO code."""
    if currency == "IRR":
        return TOMAN[language(lang)]
    if language(lang) == "ar":
        return get_currency_symbol(currency, locale="ar").rstrip("\u200f")
    return currency


def major(m: Money) -> Decimal:
    """The amount in display units (whole tomans for IRR, half up), for charts and sums."""
    if m.currency == "IRR":
        return Decimal(div_round(m.minor, 10, Rounding.HALF_UP))
    return Decimal(m.minor).scaleb(-currency_exponent(m.currency))


def points_text(n: int, lang: str = "en") -> str:
    """'120 points', '۱۲۰ امتیاز', '١٢٠ نقطة' (counted as notify's messages count them)."""
    return points_phrase(number(n, lang), n, language(lang))


def money_text(m: Money | None, lang: str = "en") -> str:
    """'1,750,000 toman', '۱٬۷۵۰٬۰۰۰ تومان', '25.00 SAR' (and an amount in PTS as points)."""
    if m is None:
        return "-"
    if m.currency == POINTS:
        return points_text(m.minor, lang)
    decimals = 0 if m.currency == "IRR" else currency_exponent(m.currency)
    return f"{number(major(m), lang, decimals)} {display_unit(m.currency, lang)}"


def date_text(day: date, lang: str = "en") -> str:
    """ISO dates in English; day/month/year in Arabic ('٠١/١٢/٢٠٢٦'); the Solar Hijri calendar
    in Persian ('۱۴۰۵/۰۹/۱۰'). Slashes, not hyphens: between Arabic digits a hyphen lets
    right-to-left text reorder the parts, a slash keeps the date one run."""
    lang = language(lang)
    if lang == "fa":
        import jdatetime

        return digits(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"), "fa")
    if lang == "ar":
        return digits(f"{day.day:02d}/{day.month:02d}/{day.year}", "ar")
    return day.isoformat()
