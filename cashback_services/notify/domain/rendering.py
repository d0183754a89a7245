"""Rendering messages: sandboxed Jinja2 given money and dates as values (they
print in the customer's calendar and digits; filters pick another calendar), and
SMS encoding and segment counts."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import Money
from cashback_services.notify.domain.calendars import (
    POINTS,
    Style,
    default_day,
    gregorian,
    local_day,
    money,
    solar_hijri,
    umm_al_qura,
)
from cashback_services.notify.domain.templates_builtin import BUILTIN

RLM = "\u200f"
MAX_SMS_SEGMENTS = 2
# What one render may write, whatever the template's loops: an SMS is at most 2 segments anyway
# (cut long before a loop fills memory), an email body at most 64,000 characters.
MAX_OUTPUT_CHARS = {"sms": 2_000, "email": 64_000}
MAX_SUBJECT_CHARS = 300
# Control characters a message may carry; any other (NUL above all) is refused before it is stored.
_ALLOWED_CONTROLS = frozenset("\n\t\r\f")
# GSM 03.38: the basic set counts 1, the extension set 2 (escape + char).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")
_RTL = ("fa", "ar")


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
    kind: str  # credited | available | expiry_warning | reminder | planning.ONE_PER_EVENT's kinds
    locale: str
    timezone: str
    amount: Money
    available_at: datetime | None = None
    expires_at: datetime | None = None
    balance: Money | None = None
    customer_id: str = ""
    merchant_id: str = ""
    shop: str = ""  # the merchant's shop name, as customers know it
    latin_digits: bool = False
    hijri_beside: bool = False
    available_now: bool = False  # credited: usable at once, no pending period
    now: datetime | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    encoding: str  # "GSM-7" | "UCS-2" | "" (email)
    segments: int


@dataclass(frozen=True)
class RenderJob:
    """One render to do: a template (None = the built-in text) with its values."""
    channel: str
    ctx: MessageContext
    body: str | None = None
    subject: str | None = None
    footer: str = ""


class Day:
    """A date a template can print as it likes: `{{ available_at }}` in the
    customer's usual calendar, `|jalali`, `|hijri`, `|gregorian` for one calendar,
    `|day_month` in the usual calendar without the year."""

    def __init__(self, day: date, style: Style) -> None:
        self.day, self.style = day, style
        self.year, self.month = day.year, day.month

    def __str__(self) -> str:
        return default_day(self.day, self.style)


class Amount:
    """Money a template prints in the customer's words: `{{ amount }}`; `.minor`
    and `.currency` for a merchant's own logic."""

    def __init__(self, m: Money, style: Style) -> None:
        self.money, self.style = m, style
        self.minor, self.currency = m.minor, m.currency

    def __str__(self) -> str:
        return money(self.money, self.style)


class Count(int):
    """A whole number that prints in the customer's digits (days_left)."""

    style: Style

    def __str__(self) -> str:
        return self.style.digits(int.__str__(self))


def _count(n: int, style: Style) -> Count:
    c = Count(n)
    c.style = style
    return c


def _day_filter(write: Callable[[date, Style], str]) -> Callable[[object], str]:
    def apply(value: object) -> str:
        if isinstance(value, Day):
            return write(value.day, value.style)
        if value is None or value == "":
            return ""
        raise TypeError("a date filter needs a date such as available_at or expires_at")
    return apply


_env.filters.update(jalali=_day_filter(solar_hijri), hijri=_day_filter(umm_al_qura),
                    gregorian=_day_filter(gregorian),
                    day_month=_day_filter(lambda day, style: default_day(day, style, year=False)))


def language(locale: str) -> str:
    """fa*, ar*, else en: the languages we ship defaults for."""
    lang = (locale or "en").replace("_", "-").split("-")[0].lower()
    return lang if lang in _RTL else "en"


def sms_encoding_and_segments(text: str) -> tuple[str, int]:
    if all(ch in _GSM_BASIC or ch in _GSM_EXT for ch in text):
        units = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        return "GSM-7", 1 if units <= 160 else math.ceil(units / 153)
    units = len(text.encode("utf-16-le")) // 2  # UCS-2 counts UTF-16 code units
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def _variables(ctx: MessageContext) -> dict[str, object]:
    style = Style(language(ctx.locale), ctx.latin_digits, ctx.hijri_beside)
    now = ctx.now or datetime.now(UTC)
    available = Day(local_day(ctx.available_at, ctx.timezone), style) if ctx.available_at else None
    expires = Day(local_day(ctx.expires_at, ctx.timezone), style) if ctx.expires_at else None
    days_left = _count(max(0, (ctx.expires_at - now).days), style) if ctx.expires_at else ""
    return {
        "shop": ctx.shop,
        "amount": Amount(ctx.amount, style),
        "balance": Amount(ctx.balance or ctx.amount, style),
        "available_at": available,
        "expires_at": expires,
        "available_now": ctx.available_now,
        # The names templates used before dates became values; they print the same.
        "available_date": available or "",
        "expiry_date": expires or "",
        "days_left": days_left,
        "customer_id": ctx.customer_id,
    }


def builtin(kind: str, channel: str, locale: str) -> tuple[str, str]:
    sms, subject, email = BUILTIN[(kind, language(locale))]
    return (sms, "") if channel == "sms" else (email, subject)


def _starts_left_to_right(text: str) -> bool:
    for ch in text:
        direction = unicodedata.bidirectional(ch)
        if direction in ("R", "AL"):
            return False
        if direction == "L":
            return True
    return False


class OutputTooLong(ValueError):
    pass


def _bounded_render(source: str, values: dict[str, object], cap: int) -> str:
    """Render chunk by chunk, stopping as soon as the output passes `cap` characters
    (a loop writing gigabytes is cut at the cap, not after it has filled memory)."""
    parts: list[str] = []
    size = 0
    for chunk in _env.from_string(source).generate(values):
        size += len(chunk)
        if size > cap:
            raise OutputTooLong(f"renders more than {cap} characters")
        parts.append(chunk)
    return "".join(parts)


def control_problem(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS:
            return f"renders the control character U+{ord(ch):04X}"
    return None


def render(channel: str, ctx: MessageContext, body: str | None = None, subject: str | None = None,
           footer: str = "") -> Rendered:
    """`footer` goes on a line of its own at the end of an SMS (e.g. Iran's opt-out «لغو۱۱»)."""
    if body is None:
        body, default_subject = builtin(ctx.kind, channel, ctx.locale)
        subject = default_subject if subject is None else subject
    values = _variables(ctx)
    try:
        text = _bounded_render(body, values, MAX_OUTPUT_CHARS.get(channel, 2_000)).strip()
        subj = _bounded_render(subject or "", values, MAX_SUBJECT_CHARS).strip() if channel == "email" else ""
        problem = control_problem(text + subj)
        if problem:
            raise ValueError(problem)
    except (TemplateError, RecursionError, MemoryError, ArithmeticError, TypeError, ValueError, LookupError,
            AttributeError, RuntimeError) as exc:
        # Template code is the merchant's: whatever it raises is a bad template, not a server fault.
        raise InvalidArgument(f"the template does not render: {type(exc).__name__}: {str(exc)[:200]}",
                              field="template.body") from exc
    if language(ctx.locale) in _RTL and _starts_left_to_right(text):
        # A Persian or Arabic message that opens with a Latin shop name would otherwise be laid out
        # left to right by the phone (the first strong character sets the direction).
        text = RLM + text
    if channel != "sms":
        return Rendered(subj, text, "", 0)
    if footer:
        text = f"{text}\n{footer}"
    encoding, segments = sms_encoding_and_segments(text)
    if segments > MAX_SMS_SEGMENTS:
        raise InvalidArgument(
            f"the SMS renders to {segments} segments ({encoding}); at most {MAX_SMS_SEGMENTS} are allowed",
            field="template.body",
        )
    return Rendered("", text, encoding, segments)


def sample_context(kind: str, locale: str, amount: Money | None = None, timezone: str = "UTC",
                   shop: str = "", latin_digits: bool = False, hijri_beside: bool = False) -> MessageContext:
    """Typical values for a preview or a test render of a template."""
    lang = language(locale)
    amount = amount or (Money("IRR", 1_250_000) if lang == "fa" else Money("SAR", 2_550))
    now = datetime.now(UTC)
    return MessageContext(kind=kind, locale=locale, timezone=timezone, amount=amount,
                          available_at=now + timedelta(days=14), expires_at=now + timedelta(days=90),
                          balance=amount, shop=shop, latin_digits=latin_digits, hijri_beside=hijri_beside, now=now)


# Kinds whose amount may be points (a conversion from points, a reward's cost).
POINTS_KINDS = ("converted", "reward_redeemed")
# A customer id as long as ids get (64 characters), a shop name as long as policies allow (40).
SAMPLE_CUSTOMER_ID = "cus_" + "7f3a9c2e" * 7 + "b1d4e6"
SAMPLE_LONG_SHOP = "Grand Bazaar Electronics & Home Supplies"[:40]


def sample_contexts(kind: str, locale: str) -> list[MessageContext]:
    """Every shape of real values a template may meet: a non-empty customer id, credit
    usable now or later, with and without dates, short and long shop names, large amounts,
    native and Latin digits, the Hijri date beside or not. SetTemplate renders all of them."""
    lang = language(locale)
    big = Money("IRR", 9_876_543_210) if lang == "fa" else Money("SAR", 98_765_432)
    now = datetime.now(UTC)
    out = []
    for shop, amount, latin, hijri in (("", None, False, False), (SAMPLE_LONG_SHOP, big, True, True),
                                       ("Shop", big, False, True)):
        base = sample_context(kind, locale, amount, "Asia/Tehran" if lang == "fa" else "Asia/Riyadh", shop,
                              latin, hijri)
        out.append(replace(base, customer_id=SAMPLE_CUSTOMER_ID, merchant_id="m_sample"))
        # Usable at once (no pending period), and without the dates a template may assume.
        out.append(replace(base, customer_id="c1", available_now=True, available_at=now, expires_at=None))
        out.append(replace(base, customer_id=SAMPLE_CUSTOMER_ID, available_at=None, balance=None))
        if kind in POINTS_KINDS:  # their amount may be a count of points: one, and a great many
            out += [replace(base, amount=Money(POINTS, 1), balance=None),
                    replace(base, amount=Money(POINTS, 987_654_321), expires_at=None)]
    return out


def validation_jobs(kind: str, channel: str, locale: str, body: str, subject: str) -> list[RenderJob]:
    """The renders SetTemplate does before it stores a template: one per sample."""
    return [RenderJob(channel, ctx, body, subject) for ctx in sample_contexts(kind, locale)]


def validate_template(kind: str, channel: str, locale: str, body: str, subject: str) -> Rendered:
    """In this process, what SetTemplate checks in the render workers (for tests and tools
    that hold no pool): every sample renders, or InvalidArgument."""
    results = [render(job.channel, job.ctx, job.body, job.subject) for job in
               validation_jobs(kind, channel, locale, body, subject)]
    return results[0]
