"""Sign-in with an ops key, sign-out, language and merchant switches.

The services have no "who am I" call, so sign-in asks them: the key is tried for the
merchant typed in the form, else for each merchant the console is configured with,
with a read (ListCampaigns) only an ops key of that merchant may make."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from cashback.rules.v1 import rules_pb2 as R
from cashback.wallet.v1 import wallet_pb2 as W
from starlette.requests import Request
from starlette.responses import Response

from cashback_console.i18n import translate
from cashback_console.services import ServiceError
from cashback_console.sessions import Session
from cashback_console.web import console_of, page, redirect, render, session_of, with_cookie
from cashbackctl.units import LANGUAGES

log = logging.getLogger("cashback.console")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@page(login=False)
async def login_form(request: Request, s: Session) -> Response:
    if s.signed_in:
        return redirect("/campaigns")
    return render(request, s, "login.html", title_key="Sign in")


async def discover(request: Request, s: Session, merchant: str) -> None:
    """The merchant's currency and zone, from its campaigns (else its wallet), for forms and dates."""
    c = console_of(request)
    listed = (await c.call(s, "rules", "ListCampaigns", R.ListCampaignsRequest(merchant_id=merchant,
                                                                               page_size=100))).campaigns
    currencies = {x.currency_code for x in listed if x.currency_code}
    s.timezone = next((x.timezone for x in listed if x.timezone), "UTC")
    s.currency = currencies.pop() if len(currencies) == 1 else ""
    if not s.currency:
        try:
            stats = await c.call(s, "wallet", "GetProgramStats", W.GetProgramStatsRequest(merchant_id=merchant))
            s.currency = stats.stats.earned.currency_code
        except ServiceError:
            s.currency = ""


async def _may_act_for(request: Request, key: str, merchant: str) -> str:
    """'' when the key is an ops key of this merchant, else the refusal's status code."""
    services = console_of(request).services
    assert services is not None
    try:
        await services.call(key, "rules", "ListCampaigns", R.ListCampaignsRequest(merchant_id=merchant, page_size=1),
                            deadline=10)
    except ServiceError as exc:
        return exc.code
    return ""


@page(login=False)
async def login(request: Request, s: Session) -> Response:
    c = console_of(request)
    client = client_address(request)
    form = await request.form()
    wait = c.limiter.retry_after(client)
    if wait:
        log.warning("console sign-in refused: too many attempts", extra={"client": client})
        response = render(request, s, "login.html", http_status=429, title_key="Sign in",
                          error=translate("Too many sign-in attempts; try again in {seconds} seconds.", s.lang,
                                          seconds=wait))
        response.headers["Retry-After"] = str(wait)
        return response
    key, typed = str(form.get("api_key", "")).strip(), str(form.get("merchant", "")).strip()
    candidates = [typed] if typed else list(c.settings.merchants)
    outcomes = {m: await _may_act_for(request, key, m) for m in candidates} if key else {}
    allowed = tuple(m for m, code in outcomes.items() if code == "")
    if not allowed:
        c.limiter.failed(client)
        codes = set(outcomes.values())
        if "UNAVAILABLE" in codes or "DEADLINE_EXCEEDED" in codes:
            message = translate("The services are not reachable right now.", s.lang)
        elif not key or "UNAUTHENTICATED" in codes:
            message = translate("Unknown API key.", s.lang)
        elif typed:
            message = translate("This key may not act for merchant {merchant}.", s.lang, merchant=typed)
        else:
            message = translate("This key may not run the console (it is not an ops key).", s.lang)
        log.info("console sign-in failed", extra={"client": client})
        return render(request, s, "login.html", http_status=401, title_key="Sign in", error=message, merchant=typed)
    c.limiter.succeeded(client)
    fresh = c.sessions.rotate(s)
    fresh.key, fresh.merchants, fresh.merchant = key, allowed, allowed[0]
    await discover(request, fresh, fresh.merchant)
    log.info("console sign-in", extra={"merchant": fresh.merchant})
    return with_cookie(request, redirect("/campaigns"), fresh)


@page()
async def logout(request: Request, s: Session) -> Response:
    console_of(request).sessions.drop(s)
    response = redirect("/login")
    response.delete_cookie("cb_session", path="/")
    return response


@page()
async def switch_merchant(request: Request, s: Session) -> Response:
    wanted = str((await request.form()).get("merchant", ""))
    if wanted in s.merchants:
        s.merchant = wanted
        await discover(request, s, wanted)
    return redirect("/campaigns")


async def switch_language(request: Request) -> Response:
    s, _ = session_of(request)
    code = request.path_params["code"]
    if code in LANGUAGES:
        s.lang = code
    back = urlsplit(request.headers.get("referer", ""))
    # Back to the page it was clicked on, only if that page is this console's (no open redirect).
    if back.netloc == request.url.netloc and back.path.startswith("/") and not back.path.startswith("//"):
        target = back.path + (f"?{back.query}" if back.query else "")
    else:
        target = "/campaigns" if s.signed_in else "/login"
    return with_cookie(request, redirect(target), s)
