"""SMS through the twilio SDK's async client.

TWILIO_API_BASE_URL sends the SDK's requests to another base URL (a local
Twilio-compatible server in tests). The outcome mapping decides what is safe to
resend: only 429/5xx and connections that failed before the request went out."""

from __future__ import annotations

from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from cashback_services.notify.domain.outcomes import OutboundSms, Outcome, SendResult

TWILIO_API = "https://api.twilio.com"
STOP_CODE = 21610  # the recipient replied STOP
TERMINAL_CODES = {21211, 21408, 21614, 21612, 21610}


class NotSent(Exception):
    """The connection failed before the request was written: safe to retry."""


class _HttpClient(AsyncTwilioHttpClient):
    """The SDK's aiohttp client, with a base-URL rewrite and timeouts that tell
    'never connected' from 'sent, no answer'."""

    def __init__(self, base_url: str, timeout: float, connect_timeout: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def request(self, method: str, url: str, params: Any = None, data: Any = None, headers: Any = None,
                      auth: Any = None, timeout: Any = None,  # noqa: ASYNC109 - the SDK's signature
                      allow_redirects: bool = False) -> Response:
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.client_timeout)
        basic = aiohttp.BasicAuth(auth[0], auth[1]) if auth else None
        try:
            async with self._session.request(method.upper(), url, params=params, data=data, headers=headers,
                                             auth=basic, allow_redirects=allow_redirects) as resp:
                return Response(resp.status, await resp.text(), resp.headers)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NotSent(type(exc).__name__) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class TwilioSms:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_: str, *, base_url: str = "",
                 timeout: float = 10.0, connect_timeout: float = 3.0) -> None:
        self.from_ = from_
        self.http = _HttpClient(base_url, timeout, connect_timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)

    async def send(self, msg: OutboundSms) -> SendResult:
        try:
            sent = await self.client.messages.create_async(to=msg.to, from_=self.from_, body=msg.body)
        except NotSent as exc:
            return SendResult(Outcome.RETRY, error=f"connection failed before sending ({exc})")
        except TwilioRestException as exc:
            return classify_twilio_error(exc)
        except (TimeoutError, aiohttp.ServerTimeoutError, aiohttp.ServerDisconnectedError,
                aiohttp.ClientPayloadError) as exc:
            return SendResult(Outcome.UNKNOWN, error=f"no answer after the request went out ({type(exc).__name__})")
        except aiohttp.ClientError as exc:
            return SendResult(Outcome.UNKNOWN, error=f"{type(exc).__name__} after the request went out")
        return SendResult(Outcome.SENT, provider_message_id=sent.sid or "")

    async def close(self) -> None:
        await self.http.close()


def classify_twilio_error(exc: TwilioRestException) -> SendResult:
    code = int(exc.code or 0)
    error = f"twilio {exc.status} {code}: {exc.msg}"
    if code == STOP_CODE:
        return SendResult(Outcome.SUPPRESS, error=error)
    if exc.status == 429 or exc.status >= 500:
        return SendResult(Outcome.RETRY, error=error)
    return SendResult(Outcome.FAILED, error=error)
