"""What every page shares: the session cookie, CSRF checks, sign-in redirects, the
language, and the template helpers that show money, numbers and dates in it."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cashback.notify.v1 import notify_pb2 as N
from cashback.rules.v1 import rules_pb2 as R
from cashback.wallet.v1 import wallet_pb2 as W
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from cashback_console.forms import form_from_campaign
from cashback_console.i18n import NAMES, negotiate, translate
from cashback_console.services import ServiceError, Services
from cashback_console.sessions import COOKIE, LoginLimiter, Session, SessionStore
from cashback_kit.money import Money
from cashbackctl.units import date_text, digits, display_unit, money_text, number, percent

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
Handler = Callable[[Request, Session], Awaitable[Response]]


class Console:
    """The app's state: settings, sessions, the sign-in limiter and the service channels."""

    def __init__(self, settings: Any, services: Services | None = None) -> None:
        self.settings = settings
        self.sessions = SessionStore(settings.session_idle_seconds, settings.session_max_seconds)
        self.limiter = LoginLimiter(settings.login_attempts, settings.login_window_seconds)
        self.services = services

    async def call(self, session: Session, service: str, method: str, request: Any, deadline: float = 30) -> Any:
        assert self.services is not None
        return await self.services.call(session.key, service, method, request, deadline)


def console_of(request: Request) -> Console:
    return request.app.state.console


def secure(request: Request) -> bool:
    mode = console_of(request).settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def session_of(request: Request) -> tuple[Session, bool]:
    """The request's session, or a new anonymous one (True when it is new)."""
    c = console_of(request)
    s = c.sessions.get(request.cookies.get(COOKIE))
    if s is not None:
        return s, False
    return c.sessions.new(negotiate(request.headers.get("accept-language", ""))), True


def with_cookie(request: Request, response: Response, s: Session) -> Response:
    if any(name == b"set-cookie" for name, _ in response.raw_headers):
        return response  # the handler chose the cookie (a new session at sign-in, none at sign-out)
    response.set_cookie(COOKIE, s.sid, httponly=True, samesite="strict", secure=secure(request), path="/")
    return response


def page(*, login: bool = True) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Load the session; send strangers to /login; refuse a POST without the session's CSRF token."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            s, new = session_of(request)
            if login and not s.signed_in:
                return with_cookie(request, RedirectResponse("/login", status_code=303), s)
            if request.method == "POST":
                form = await request.form()
                if new or not s.csrf_ok(str(form.get("csrf", ""))):
                    return with_cookie(request, render(request, s, "login.html" if not s.signed_in else "error.html",
                                                       http_status=403, error=translate(
                                                           "The form expired; please try again.", s.lang)), s)
            try:
                response = await handler(request, s)
            except ServiceError as exc:
                if exc.code == "UNAUTHENTICATED":
                    # The key was revoked or rotated since sign-in: the session ends with it.
                    console_of(request).sessions.drop(s)
                    fresh = console_of(request).sessions.new(s.lang)
                    fresh.flash = translate("Your key is no longer accepted; sign in again.", s.lang)
                    return with_cookie(request, redirect("/login"), fresh)
                if exc.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                    message = translate("The services are not reachable right now.", s.lang)
                else:
                    message = f"{exc.message}"
                response = render(request, s, "error.html", http_status=_http_status(exc.code), error=message)
            return with_cookie(request, response, s)

        return endpoint

    return wrap


def _http_status(code: str) -> int:
    return {"NOT_FOUND": 404, "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "INVALID_ARGUMENT": 400,
            "FAILED_PRECONDITION": 409, "ALREADY_EXISTS": 409}.get(code, 502)


def helpers(s: Session) -> dict[str, Any]:
    lang = s.lang or "en"
    zone = ZoneInfo(s.timezone or "UTC")

    def money(m: Any, absolute: bool = False) -> str:
        if m is None or not m.currency_code:
            return "-"
        return money_text(Money(m.currency_code, abs(m.amount_minor) if absolute else m.amount_minor), lang)

    def when(ts: Any) -> str:
        if not ts.seconds:
            return "-"
        moment = ts.ToDatetime().replace(tzinfo=UTC).astimezone(zone)
        return f"{date_text(moment.date(), lang)} {digits(moment.strftime('%H:%M'), lang)}"

    def day(d: Any) -> str:
        return date_text(d, lang) if d else ""

    def reward(c: R.Campaign) -> str:
        if c.WhichOneof("reward") == "fixed":
            return translate("{amount} per order", lang, amount=money(c.fixed))
        return percent(Decimal(c.percent_bps) / 100, lang, 0 if c.percent_bps % 100 == 0 else 2)

    def window(c: R.Campaign) -> str:
        f = form_from_campaign(c)
        first, last = (day(_iso(f["starts_on"])), day(_iso(f["ends_on"])))
        if first and last:
            return translate("{first} to {last}", lang, first=first, last=last)
        if first:
            return translate("from {first}", lang, first=first)
        return translate("until {last}", lang, last=last) if last else translate("always", lang)

    def unit_hint() -> str:
        return display_unit(s.currency, lang) if s.currency else ""

    return {
        "_": lambda text, **kw: translate(text, lang, **kw), "lang": lang, "session": s, "languages": NAMES,
        "money": money, "when": when, "day": day, "num": lambda n: number(n, lang), "reward": reward,
        "window": window, "pct": lambda r: percent(Decimal(str(round(r * 100, 2))), lang, 2),
        "status_name": lambda v: R.CampaignStatus.Name(R.CampaignStatus.ValueType(v))
        .removeprefix("CAMPAIGN_STATUS_").lower(),
        "tx_type": lambda v: W.TransactionType.Name(W.TransactionType.ValueType(v))
        .removeprefix("TRANSACTION_TYPE_").lower(),
        "enum_word": _enum_word, "unit_hint": unit_hint(),
    }


def _iso(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _enum_word(value: int, kind: str) -> str:
    """'MESSAGE_KIND_EXPIRY_WARNING' -> 'expiry_warning' (a key of the translations)."""
    enum, prefix = {"kind": (N.MessageKind, "MESSAGE_KIND_"), "channel": (N.Channel, "CHANNEL_"),
                    "delivery": (N.DeliveryStatus, "DELIVERY_STATUS_")}[kind]
    return enum.DESCRIPTOR.values_by_number[value].name.removeprefix(prefix).lower()


def render(request: Request, s: Session, template: str, *, http_status: int = 200, **context: Any) -> HTMLResponse:
    ctx = {**helpers(s), "form": {}, "errors": {}, "section": "/" + request.url.path.strip("/").split("/")[0],
           "flash": s.flash, **context}
    s.flash = ""
    ctx.setdefault("title", ctx["_"](context.get("title_key", "Cashback console")))
    return HTMLResponse(TEMPLATES.get_template(template).render(ctx), status_code=http_status,
                        headers={"Cache-Control": "no-store"})


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def field_errors(exc: ServiceError, renames: dict[str, str] | None = None) -> dict[str, str]:
    """The service's field violations keyed by the form's field names."""
    out = {}
    for field, problem in exc.fields.items():
        name = field.split(".")[-1].split("[")[0]
        out[(renames or {}).get(name, name)] = problem
    return out
