"""A local Twilio-compatible HTTP server on 127.0.0.1 for tests: POST
/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded as the SDK sends
it, answering with Twilio's Message JSON (checked against Twilio's OpenAPI
description in test_fake_twilio.py) or with Twilio's error JSON.

Magic recipients (in the US's fictional 555-01xx range, which the phonenumbers
library reads as mobile, so notify's contact validation lets them through; Twilio's
own +1500555xxxx test numbers are "personal numbers" there, not mobiles):
  STOP_NUMBER     +12025550121  400, code 21610 (the recipient replied STOP)
  INVALID_NUMBER  +12025550101  400, code 21211 (invalid 'To' number)
  UNREACHABLE     +12025550102  400, code 21408 (region not enabled)
  RATE_LIMITED    +12025550129  429, code 20429
  SERVER_ERROR    +12025550150  500, code 20500
  HANG            +12025550199  never answers (until the server stops)
`fail_next[number] = [429, 500, ...]` makes the next requests to a number fail
with those statuses, then succeed (for retry tests)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import BasicAuth, web

from tests.notify.local_http import LocalServer

STOP_NUMBER = "+12025550121"
INVALID_NUMBER = "+12025550101"
UNREACHABLE = "+12025550102"
RATE_LIMITED = "+12025550129"
SERVER_ERROR = "+12025550150"
HANG = "+12025550199"
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token"
FROM_NUMBER = "+15005550006"

_ERRORS = {
    STOP_NUMBER: (400, 21610, "Attempt to send to unsubscribed recipient"),
    INVALID_NUMBER: (400, 21211, "The 'To' number is not a valid phone number."),
    UNREACHABLE: (400, 21408, "Permission to send an SMS has not been enabled for the region"),
    RATE_LIMITED: (429, 20429, "Too Many Requests"),
    SERVER_ERROR: (500, 20500, "Internal Server Error"),
}


@dataclass
class FakeTwilio(LocalServer):
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    messages: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, to keep requests in flight
    port: int = 0
    _runner: web.AppRunner | None = None
    _hung: asyncio.Event = field(default_factory=asyncio.Event)

    def to(self, number: str) -> list[dict[str, str]]:
        return [m for m in self.messages if m["To"] == number]

    @staticmethod
    def error(status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message, "status": status,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status=status)

    async def create_message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        auth = request.headers.get("Authorization", "")
        try:
            creds = BasicAuth.decode(auth)
        except ValueError:
            creds = None
        if creds is None or creds.login != self.account_sid or creds.password != self.auth_token or sid != creds.login:
            return self.error(401, 20003, "Authentication Error - invalid username")
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        to = form.get("To", "")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return self.error(400, 21602, "Message body is required.")
        if self.delay:
            await asyncio.sleep(self.delay)
        if to == HANG:
            await self._hung.wait()
            return self.error(500, 20500, "server stopping")
        queued = self.fail_next.get(to)
        if queued:
            status = queued.pop(0)
            return self.error(status, 20429 if status == 429 else 20500, "scripted failure")
        if to in _ERRORS:
            return self.error(*_ERRORS[to])
        now = format_datetime(datetime.now(UTC), usegmt=True)
        msg_sid = "SM" + secrets.token_hex(16)
        self.messages.append({"sid": msg_sid, **form})
        body = form.get("Body", "")
        return web.json_response({
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": msg_sid, "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{sid}/Messages/{msg_sid}/Media.json"},
            "to": to, "uri": f"/2010-04-01/Accounts/{sid}/Messages/{msg_sid}.json",
        }, status=201)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message)

    async def stop(self) -> None:
        self._hung.set()
        await super().stop()
