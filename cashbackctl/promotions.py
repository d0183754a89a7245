"""cashbackctl promotions create / list / cancel (notify's promotions, issue 16).

Texts are given per language as LOCALE=TEXT (or LOCALE=@FILE for a file):
    cashbackctl promotions create "Yalda" --segment at_risk --sms 'fa=شب یلدا ۲۰٪ تخفیف' --sms 'en=20% off tonight'
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc

from cashbackctl.common import call, ctx, emit, fail, money, ts
from cashbackctl.merchant import merchant_currency
from cashbackctl.units import AmountError, parse_amount

app = typer.Typer(no_args_is_help=True, help="One-off or scheduled promotional messages to an audience.")
N = notify_pb2


def _stub():
    return ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub)


def _status(p: N.Promotion) -> str:
    return N.PromotionStatus.Name(p.status).removeprefix("PROMOTION_STATUS_").lower()


def _audience(p: N.Promotion) -> str:
    a = p.audience
    parts = [", ".join(a.segments) or "everyone"]
    if a.tiers:
        parts.append("tier " + ", ".join(a.tiers))
    if a.inactive_days:
        parts.append(f"idle {a.inactive_days} d")
    if a.min_available.amount_minor:
        parts.append(f">= {money(a.min_available)}")
    return "; ".join(parts)


COLUMNS = [
    ("id", lambda p: p.promotion_id),
    ("name", lambda p: p.name),
    ("status", _status),
    ("audience", _audience),
    ("send at", lambda p: ts(p.send_at)),
    ("matched", lambda p: str(p.counts.matched)),
    ("sent", lambda p: str(p.counts.sent)),
    ("suppressed", lambda p: str(p.counts.suppressed)),
    ("failed", lambda p: str(p.counts.failed)),
    ("pending", lambda p: str(p.counts.pending)),
]


def _pairs(values: list[str], option: str) -> dict[str, str]:
    """LOCALE=TEXT (or LOCALE=@FILE) per language."""
    out: dict[str, str] = {}
    for raw in values:
        locale, sep, text = raw.partition("=")
        if not sep or not locale.strip():
            fail(f"{option} takes LOCALE=TEXT, e.g. {option} 'fa=...'; got {raw[:40]!r}")
        if text.startswith("@"):
            path = Path(text[1:])
            if not path.is_file():
                fail(f"{option}: no file {path}")
            text = path.read_text().strip()
        out[locale.strip()] = text
    return out


@app.command("create")
def create(
    name: str,
    segment: list[str] = typer.Option([], help="RFM segment, e.g. at_risk (repeat for several)"),
    tier: list[str] = typer.Option([], help="tier name (repeat for several)"),
    min_available: str = typer.Option("", help="at least this much credit, e.g. '50,000 toman'"),
    inactive_days: int = typer.Option(0, help="no order in this many days (0 = any)"),
    channel: list[str] = typer.Option([], help="sms or email (default: those with a text)"),
    sms: list[str] = typer.Option([], help="LOCALE=TEXT or LOCALE=@FILE, per language"),
    email_subject: list[str] = typer.Option([], help="LOCALE=SUBJECT"),
    email_body: list[str] = typer.Option([], help="LOCALE=TEXT or LOCALE=@FILE"),
    send_at: str = typer.Option("", help="ISO 8601 with offset, e.g. 2026-12-21T18:00:00+03:30; default now"),
    promotion_id: str = typer.Option("", "--id", help="your key: the same request again creates nothing"),
) -> None:
    """Create a promotion: sent once per customer (quiet hours and opt-outs apply)."""
    req = N.CreatePromotionRequest(merchant_id=ctx().merchant, promotion_id=promotion_id, name=name)
    req.audience.segments.extend(segment)
    req.audience.tiers.extend(tier)
    req.audience.inactive_days = inactive_days
    if min_available:
        try:
            m = parse_amount(min_available, "min_available", merchant_currency)
        except AmountError as exc:
            fail(str(exc))
        req.audience.min_available.currency_code, req.audience.min_available.amount_minor = m.currency, m.minor
    texts_sms, subjects, bodies = (
        _pairs(sms, "--sms"),
        _pairs(email_subject, "--email-subject"),
        _pairs(email_body, "--email-body"),
    )
    for locale in dict.fromkeys([*texts_sms, *subjects, *bodies]):
        req.texts.add(
            locale=locale,
            sms_body=texts_sms.get(locale, ""),
            email_subject=subjects.get(locale, ""),
            email_body=bodies.get(locale, ""),
        )
    channels = channel or ([c for c, given in (("sms", texts_sms), ("email", bodies)) if given])
    for c in channels:
        if c.lower() not in ("sms", "email"):
            fail("--channel must be sms or email")
        req.channels.append(N.Channel.Value(f"CHANNEL_{c.upper()}"))
    if send_at:
        try:
            when = datetime.fromisoformat(send_at.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--send-at: not an ISO 8601 time: {send_at!r}")
        if when.tzinfo is None:
            fail("--send-at needs a UTC offset, e.g. +03:30 or Z")
        req.send_at.FromDatetime(when)
    with _stub() as stub:
        out = call(stub.CreatePromotion, req).promotion
    emit(out, COLUMNS, [out])


@app.command("list")
def list_promotions(limit: int = typer.Option(50, help="at most this many, newest first")) -> None:
    """Promotions, newest first, with what each reached."""
    with _stub() as stub:
        out = list(
            call(stub.ListPromotions, N.ListPromotionsRequest(merchant_id=ctx().merchant, page_size=limit)).promotions
        )
    emit(out, COLUMNS, out)


@app.command("cancel")
def cancel(promotion_id: str = typer.Argument(..., help="the promotion's id")) -> None:
    """Stop a promotion: nothing more is created and what waits to go out is not sent."""
    with _stub() as stub:
        out = call(
            stub.CancelPromotion, N.CancelPromotionRequest(merchant_id=ctx().merchant, promotion_id=promotion_id)
        ).promotion
    emit(out, COLUMNS, [out])
