"""The ASGI app: routes, security headers, and the service channels opened at
start-up (never at import) and closed at shutdown."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from cashback_console.config import ConsoleSettings
from cashback_console.services import Services
from cashback_console.views import auth, campaigns, customers, messaging, promotions, report, segments
from cashback_console.web import Console

log = logging.getLogger("cashback.console")
# Inline SVG charts carry style attributes, hence 'unsafe-inline' for styles only; scripts come from /static.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Edge:
    """Security headers on every response, and the console's own access line: method,
    path, status, never a query string, form or cookie (so no key reaches the log);
    customer pages are logged without the customer's id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), [0]

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
                if scope.get("scheme") == "https":
                    message["headers"].append((b"strict-transport-security", b"max-age=31536000"))
            await send(message)

        await self.app(scope, receive, send_with_headers)
        path = "/customers" if scope["path"].startswith("/customers/") else scope["path"]
        log.info("http", extra={"method": scope["method"], "path": path, "status": status[0],
                                "ms": round(1000 * (time.monotonic() - started), 1)})


async def home(request: Request) -> Response:
    return RedirectResponse("/campaigns", status_code=303)


ROUTES = [
    Route("/", home),
    Route("/login", auth.login_form, methods=["GET"]),
    Route("/login", auth.login, methods=["POST"]),
    Route("/logout", auth.logout, methods=["POST"]),
    Route("/merchant", auth.switch_merchant, methods=["POST"]),
    Route("/lang/{code}", auth.switch_language, methods=["GET"]),
    Route("/campaigns", campaigns.campaign_list, methods=["GET"]),
    Route("/campaigns/new", campaigns.new_campaign, methods=["GET"]),
    Route("/campaigns/new", campaigns.create_campaign, methods=["POST"]),
    Route("/campaigns/simulate", campaigns.simulate, methods=["POST"]),
    Route("/campaigns/{campaign_id}", campaigns.edit_campaign, methods=["GET"]),
    Route("/campaigns/{campaign_id}", campaigns.update_campaign, methods=["POST"]),
    Route("/campaigns/{campaign_id}/status", campaigns.set_status, methods=["POST"]),
    Route("/customers", customers.search, methods=["GET"]),
    Route("/customers", customers.search_post, methods=["POST"]),
    Route("/segments", segments.segments_page, methods=["GET"]),
    Route("/customers/{customer_id}", customers.show, methods=["GET"]),
    Route("/customers/{customer_id}/adjust", customers.adjust, methods=["POST"]),
    Route("/reminders", messaging.reminders, methods=["GET"]),
    Route("/reminders", messaging.create_reminder, methods=["POST"]),
    Route("/reminders/{campaign_id}/active", messaging.set_reminder_active, methods=["POST"]),
    Route("/reminders/{campaign_id}/run", messaging.run_reminder, methods=["POST"]),
    Route("/promotions", promotions.promotions, methods=["GET"]),
    Route("/promotions", promotions.create, methods=["POST"]),
    Route("/promotions/preview", promotions.preview, methods=["POST"]),
    Route("/promotions/{promotion_id}/cancel", promotions.cancel, methods=["POST"]),
    Route("/templates", messaging.templates_page, methods=["GET"]),
    Route("/templates", messaging.templates_post, methods=["POST"]),
    Route("/settings", messaging.settings_page, methods=["GET"]),
    Route("/settings/tiers", messaging.save_tiers, methods=["POST"]),
    Route("/settings/notify", messaging.save_notify, methods=["POST"]),
    Route("/report", report.report, methods=["GET"]),
    Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
]


def create_app(settings: ConsoleSettings) -> Starlette:
    console = Console(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.services = Services(settings.targets)
        try:
            yield
        finally:
            await console.services.close()

    app = Starlette(routes=ROUTES, middleware=[Middleware(Edge)], lifespan=lifespan)
    app.state.console = console
    return app
