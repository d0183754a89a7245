"""Rendering messages: sandboxed Jinja2, money and dates formatted per locale,
native digits and right-to-left marks, and SMS encoding and segment counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money, currency_exponent
from cashback_services.notify.templates_builtin import BUILTIN

RLM = "\u200f"
MAX_SMS_SEGMENTS = 2
_DIGITS = {
    "fa": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
    "ar": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
}
_BABEL_LOCALE = {"en": "en", "fa": "fa_IR", "ar": "ar_SA"}
# GSM 03.38: the basic set counts 1, the extension set 2 (escape + char).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox stops attribute access, not arithmetic: a merchant's
    `{{ "x" * 10**9 }}` or `{{ 9**9**9 }}` would eat the process, so these are capped."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):  # type: ignore[no-untyped-def]
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise ValueError("exponent too large")
        if operator == "*" and any(isinstance(x, str | list | tuple) for x in (left, right)):
            count = right if isinstance(right, int) else left
            if isinstance(count, int) and count > 1000:
                raise ValueError("repetition too large")
        return super().call_binop(context, operator, left, right)


_env = _Sandbox(autoescape=False, undefined=StrictUndefined, trim_blocks=True)


@dataclass(frozen=True)
class MessageContext:
    kind: str  # credited | available | expiry_warning | reminder
    locale: str
    timezone: str
    amount: Money
    available_at: datetime | None = None
    expires_at: datetime | None = None
    balance: Money | None = None
    customer_id: str = ""
    merchant_id: str = ""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    encoding: str  # "GSM-7" | "UCS-2" | "" (email)
    segments: int


def language(locale: str) -> str:
    """fa*, ar*, else en: the languages we ship defaults for."""
    lang = (locale or "en").replace("_", "-").split("-")[0].lower()
    return lang if lang in _DIGITS else "en"


def sms_encoding_and_segments(text: str) -> tuple[str, int]:
    if all(ch in _GSM_BASIC or ch in _GSM_EXT for ch in text):
        units = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        return "GSM-7", 1 if units <= 160 else math.ceil(units / 153)
    units = len(text.encode("utf-16-le")) // 2  # UCS-2 counts UTF-16 code units
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def format_money(m: Money, locale: str) -> str:
    lang = language(locale)
    major = Decimal(m.minor).scaleb(-currency_exponent(m.currency))
    if lang == "fa" and m.currency == "IRR":
        toman = Decimal(m.minor) / 10  # Iranians price in toman: 10 rials
        text = format_decimal(toman, locale="fa_IR", numbering_system="default", decimal_quantization=False)
        return f"{RLM}{text.translate(_DIGITS['fa'])} تومان{RLM}"
    if lang == "ar" and m.currency == "SAR":
        text = format_decimal(major, format="#,##0.00", locale="ar_SA", numbering_system="default")
        return f"{RLM}{text.translate(_DIGITS['ar'])} ر.س{RLM}"
    text = format_currency(major, m.currency, locale=_BABEL_LOCALE[lang], numbering_system="default")
    return f"{RLM}{text.translate(_DIGITS[lang])}{RLM}" if lang in _DIGITS else text


def format_day(when: datetime | None, ctx: MessageContext) -> str:
    if when is None:
        return ""
    try:
        zone = ZoneInfo(ctx.timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    lang = language(ctx.locale)
    # Gregorian dates: Babel has no Solar Hijri calendar; month names are localised.
    text = format_date(when.astimezone(zone).date(), format="d MMMM y", locale=_BABEL_LOCALE[lang])
    return f"{RLM}{text.translate(_DIGITS[lang])}{RLM}" if lang in _DIGITS else text


def _variables(ctx: MessageContext) -> dict[str, object]:
    days_left = ""
    if ctx.expires_at is not None:
        days_left = str(max(0, (ctx.expires_at - datetime.now(UTC)).days))
        lang = language(ctx.locale)
        days_left = days_left.translate(_DIGITS[lang]) if lang in _DIGITS else days_left
    return {
        "amount": format_money(ctx.amount, ctx.locale),
        "balance": format_money(ctx.balance or ctx.amount, ctx.locale),
        "available_date": format_day(ctx.available_at, ctx),
        "expiry_date": format_day(ctx.expires_at, ctx),
        "days_left": days_left,
        "customer_id": ctx.customer_id,
    }


def builtin(kind: str, channel: str, locale: str) -> tuple[str, str]:
    sms, subject, email = BUILTIN[(kind, language(locale))]
    return (sms, "") if channel == "sms" else (email, subject)


def render(channel: str, ctx: MessageContext, body: str | None = None, subject: str | None = None) -> Rendered:
    if body is None:
        body, default_subject = builtin(ctx.kind, channel, ctx.locale)
        subject = default_subject if subject is None else subject
    values = _variables(ctx)
    try:
        text = _env.from_string(body).render(values).strip()
        subj = _env.from_string(subject or "").render(values).strip() if channel == "email" else ""
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        # Template code is the merchant's: whatever it raises is a bad template, not a server fault.
        raise InvalidArgument(f"the template does not render: {type(exc).__name__}: {exc}",
                              field="template.body") from exc
    if channel != "sms":
        return Rendered(subj, text, "", 0)
    encoding, segments = sms_encoding_and_segments(text)
    if segments > MAX_SMS_SEGMENTS:
        raise InvalidArgument(
            f"the SMS renders to {segments} segments ({encoding}); at most {MAX_SMS_SEGMENTS} are allowed",
            field="template.body",
        )
    return Rendered("", text, encoding, segments)


def sample_context(kind: str, locale: str, amount: Money | None = None, timezone: str = "UTC") -> MessageContext:
    """Typical values for a preview or a test render of a template."""
    lang = language(locale)
    amount = amount or (Money("IRR", 1_250_000) if lang == "fa" else Money("SAR", 2_550))
    now = datetime.now(UTC)
    from datetime import timedelta

    return MessageContext(kind=kind, locale=locale, timezone=timezone, amount=amount,
                          available_at=now + timedelta(days=14), expires_at=now + timedelta(days=90),
                          balance=amount)


def validate_template(kind: str, channel: str, locale: str, body: str, subject: str) -> Rendered:
    """Test-render a merchant's template with sample data (SetTemplate refuses what fails)."""
    return render(channel, sample_context(kind, locale), body=body, subject=subject)
