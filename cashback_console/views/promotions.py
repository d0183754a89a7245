"""Promotions (issue 16): the list with what each reached, a form to create one
(audience by segment, tier, minimum credit and inactivity; a text per language
for SMS and email; now or later) with a live preview and SMS segment count of
each text, and cancel."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2 as N
from cashback.rules.v1 import rules_pb2 as R
from starlette.requests import Request
from starlette.responses import Response

from cashback_console.forms import unit_word
from cashback_console.i18n import translate
from cashback_console.i18n_segments import SEGMENT_WORDS
from cashback_console.services import ServiceError
from cashback_console.sessions import Session
from cashback_console.web import console_of, page, redirect, render
from cashbackctl.units import AmountError, parse_amount, to_ascii

LOCALES = ("fa", "ar", "en")
CHANNELS = {"sms": N.CHANNEL_SMS, "email": N.CHANNEL_EMAIL}
# A text's parts: the form's field name prefix -> PromotionText's field.
PARTS = {"sms": "sms_body", "subject": "email_subject", "email": "email_body"}


def _values(form: Any) -> dict[str, Any]:
    return {k: (form.getlist(k) if k in ("segments", "channels") else str(v)) for k, v in form.items()}


def _request(s: Session, v: dict[str, Any]) -> tuple[N.CreatePromotionRequest, dict[str, str], list[str]]:
    """The CreatePromotion request the form asks for, the form's own errors, and the locale
    of each text in the request (texts[i] -> locales[i], to put the service's errors back)."""
    errors: dict[str, str] = {}
    req = N.CreatePromotionRequest(
        merchant_id=s.merchant,
        promotion_id=v.get("promotion_key", ""),
        name=v.get("name", "").strip(),
        channels=[CHANNELS[c] for c in v.get("channels", []) if c in CHANNELS],
    )
    req.audience.segments.extend(x for x in v.get("segments", []) if x)
    req.audience.tiers.extend(t.strip() for t in v.get("tiers", "").split(",") if t.strip())
    try:
        req.audience.inactive_days = int(to_ascii(v.get("inactive_days", "0")) or 0)
    except ValueError:
        errors["inactive_days"] = translate("write a whole number", s.lang)
    if v.get("min_available", "").strip():
        try:
            m = parse_amount(v["min_available"], "min_available", unit_word(s.currency))
            req.audience.min_available.CopyFrom(common_pb2.Money(currency_code=m.currency, amount_minor=m.minor))
        except AmountError as exc:
            errors["min_available"] = str(exc).split(": ", 1)[-1]
    if v.get("send_at", "").strip():
        try:
            local = datetime.fromisoformat(v["send_at"]).replace(tzinfo=ZoneInfo(s.timezone or "UTC"))
            req.send_at.FromDatetime(local)
        except ValueError:
            errors["send_at"] = translate("pick a date and time", s.lang)
    locales = []
    for locale in LOCALES:
        parts = {field: v.get(f"{prefix}_{locale}", "").strip() for prefix, field in PARTS.items()}
        if any(parts.values()):
            req.texts.add(locale=locale, **parts)
            locales.append(locale)
    return req, errors, locales


def _service_errors(exc: ServiceError, locales: list[str]) -> dict[str, str]:
    """texts[1].sms_body -> sms_ar; audience.segments[0] -> segments; others by their last name."""
    out: dict[str, str] = {}
    prefix_of = {field: prefix for prefix, field in PARTS.items()}
    for path, problem in exc.fields.items():
        if path.startswith("texts[") and "]." in path:
            index, _, part = path[len("texts[") :].partition("].")
            i = int(index) if index.isdigit() else -1
            name = f"{prefix_of.get(part, 'sms')}_{locales[i]}" if 0 <= i < len(locales) else "texts"
        else:
            name = path.split(".")[-1].split("[")[0]
        out.setdefault(name, problem)
    return out or {"name": exc.message}


async def _previews(request: Request, s: Session, v: dict[str, Any]) -> dict[str, Any]:
    """Each written text rendered as customers will get it, with its SMS encoding and segments
    («لغو۱۱» counted in a Persian SMS); a text that does not render shows why."""
    out: dict[str, Any] = {}
    c = console_of(request)
    for locale in LOCALES:
        for channel, body_key, subject_key in (
            ("sms", f"sms_{locale}", ""),
            ("email", f"email_{locale}", f"subject_{locale}"),
        ):
            body = v.get(body_key, "").strip()
            if not body:
                continue
            req = N.PreviewTemplateRequest(
                merchant_id=s.merchant,
                kind=N.MESSAGE_KIND_PROMOTION,
                channel=CHANNELS[channel],
                locale=locale,
                template=N.Template(body=body, subject=v.get(subject_key, "")),
            )
            try:
                out[body_key] = (await c.call(s, "notify", "PreviewTemplate", req)).rendered
            except ServiceError as exc:
                if exc.code != "INVALID_ARGUMENT":
                    raise
                out[body_key] = exc.message
    return out


async def _page(
    request: Request,
    s: Session,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    previews: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    c = console_of(request)
    listed = (
        await c.call(s, "notify", "ListPromotions", N.ListPromotionsRequest(merchant_id=s.merchant, page_size=100))
    ).promotions
    # The segments in rules' order, each with how many customers it has now.
    segments = (await c.call(s, "rules", "ListSegments", R.ListSegmentsRequest(merchant_id=s.merchant))).segments
    form = values or {"channels": ["sms"], "inactive_days": "0"}
    form.setdefault("promotion_key", f"pr-{uuid.uuid4().hex[:16]}")  # a double submit creates one promotion
    return render(
        request,
        s,
        "promotions.html",
        http_status=status,
        title_key="Promotions",
        promotions=listed,
        form=form,
        errors=errors or {},
        previews=previews or {},
        segments=segments,
        segment_name=lambda seg: SEGMENT_WORDS.get(seg, (seg, ""))[0],
        locales=LOCALES,
        promotion_status=lambda v: N.PromotionStatus.Name(v).removeprefix("PROMOTION_STATUS_").lower(),
    )


@page()
async def promotions(request: Request, s: Session) -> Response:
    return await _page(request, s)


@page()
async def preview(request: Request, s: Session) -> Response:
    """The previews alone (the page's script asks as the texts change), or the page with them."""
    v = _values(await request.form())
    previews = await _previews(request, s, v)
    if request.headers.get("x-console-fragment") == "promotion-previews":
        return render(request, s, "_promotion_previews.html", previews=previews, locales=LOCALES)
    return await _page(request, s, v, previews=previews)


@page()
async def create(request: Request, s: Session) -> Response:
    v = _values(await request.form())
    req, errors, locales = _request(s, v)
    if not errors:
        try:
            await console_of(request).call(s, "notify", "CreatePromotion", req)
        except ServiceError as exc:
            if exc.code != "INVALID_ARGUMENT":
                raise
            errors = _service_errors(exc, locales)
        else:
            s.flash = translate("Promotion created.", s.lang)
            return redirect("/promotions")
    return await _page(request, s, v, errors, await _previews(request, s, v), status=400)


@page()
async def cancel(request: Request, s: Session) -> Response:
    await console_of(request).call(
        s,
        "notify",
        "CancelPromotion",
        N.CancelPromotionRequest(merchant_id=s.merchant, promotion_id=request.path_params["promotion_id"]),
    )
    s.flash = translate("Promotion cancelled.", s.lang)
    return redirect("/promotions")
