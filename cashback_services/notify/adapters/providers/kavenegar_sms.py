"""SMS through Kavenegar's REST API (https://kavenegar.com/rest.html) with aiohttp.

POST {base}/v1/{api_key}/sms/send.json, form-encoded: receptor, sender, message
and localid (the delivery id). Every answer is JSON: {"return": {"status",
"message"}, "entries": [{"messageid", "status", ...}]}; `return.status` 200 is
accepted, anything else is one of Kavenegar's status codes (also the HTTP status).

Kavenegar does not send a second message for a localid it has seen, so a send
whose answer was lost is settled by asking sms/statuslocalmessageid.json: known
-> SENT with its messageid; unknown (status 100) -> not received, safe to send
again. Nothing is left UNKNOWN."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from cashback_services.notify.domain.outcomes import OutboundSms, Outcome, SendResult
from cashback_services.notify.domain.phones import calling_code

log = logging.getLogger("cashback.notify.kavenegar")
KAVENEGAR_API = "https://api.kavenegar.com"

# Kavenegar's status codes (return.status) and what they mean for a delivery.
NO_CREDIT = 418
# The message or its number is wrong: sending it again cannot help.
FAILED_CODES = {
    400: "parameters incomplete", 402: "operation failed", 404: "method not found", 405: "wrong HTTP method",
    406: "required parameters missing", 411: "receptor invalid", 412: "sender invalid",
    413: "message empty or too long", 414: "too many receptors", 422: "invalid characters in the data",
}
# The account needs an operator (disabled, bad key, IP not allowed, no credit, trial account):
# the message is fine, so it waits and is retried within the retry budget, loudly logged.
CONFIG_CODES = {
    401: "account disabled", 403: "API key invalid", 407: "access denied", 416: "IP address not allowed",
    NO_CREDIT: "not enough credit", 501: "a trial account can only text its owner",
}
# Message statuses (entries[].status) that mean it will not arrive.
NOT_DELIVERED = {6: "failed", 11: "undelivered", 13: "canceled", 14: "blocked by the receptor"}
UNKNOWN_LOCALID = 100


def receptor(e164: str) -> str:
    """Kavenegar's receptor: the national form for Iranian numbers (09121234567), 00… otherwise."""
    digits = e164.lstrip("+")
    if calling_code(e164) == "98":
        return "0" + digits[2:]
    return "00" + digits


class KavenegarSms:
    name = "kavenegar"

    def __init__(self, api_key: str, sender: str = "", *, base_url: str = KAVENEGAR_API, timeout: float = 10.0,
                 connect_timeout: float = 3.0) -> None:
        self.sender = sender
        self.base = f"{(base_url or KAVENEGAR_API).rstrip('/')}/v1/{api_key}/sms"
        self.client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.client_timeout)
        return self._session

    async def _call(self, method: str, data: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
        async with self._http().post(f"{self.base}/{method}.json", data=data,
                                     headers={"Accept": "application/json"}) as resp:
            text = await resp.text()
        try:
            body = json.loads(text)
            return int(body["return"]["status"]), body
        except (ValueError, KeyError, TypeError):
            return resp.status, None

    async def send(self, msg: OutboundSms) -> SendResult:
        data = {"receptor": receptor(msg.to), "message": msg.body, "localid": msg.delivery_id}
        if self.sender:
            data["sender"] = self.sender
        try:
            status, body = await self._call("send", data)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return SendResult(Outcome.RETRY,
                              error=f"kavenegar: connection failed before sending ({type(exc).__name__})")
        except (TimeoutError, aiohttp.ClientError) as exc:
            return await self.settle(msg, f"no answer after the request went out ({type(exc).__name__})")
        return self.classify(msg, status, body)

    def classify(self, msg: OutboundSms, status: int, body: dict[str, Any] | None) -> SendResult:
        error = f"kavenegar {status}: {FAILED_CODES.get(status) or CONFIG_CODES.get(status) or 'see its status table'}"
        if status == 200 and body is not None:
            entries = body.get("entries") or [{}]
            entry = entries[0] if isinstance(entries, list) else {}
            entry_status = int(entry.get("status") or 0)
            if entry_status in NOT_DELIVERED:
                return SendResult(Outcome.FAILED, error=f"kavenegar message {NOT_DELIVERED[entry_status]}")
            return SendResult(Outcome.SENT, provider_message_id=str(entry.get("messageid", "")))
        if status in CONFIG_CODES:
            # Loud: every message waits until an operator fixes the account.
            log.error("kavenegar refused the account; messages wait and are retried",
                      extra={"status": status, "reason": CONFIG_CODES[status], "delivery_id": msg.delivery_id})
            return SendResult(Outcome.RETRY, error=error)
        if status == 409 or status == 429 or status >= 500:
            return SendResult(Outcome.RETRY, error=error)
        return SendResult(Outcome.FAILED, error=error)

    async def settle(self, msg: OutboundSms, why: str) -> SendResult:
        """A send whose answer was lost: did Kavenegar get it (by our localid)?"""
        try:
            status, body = await self._call("statuslocalmessageid", {"localid": msg.delivery_id})
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Still unknown, but sending again with the same localid cannot send twice.
            return SendResult(Outcome.RETRY, error=f"kavenegar: {why}; status check failed ({type(exc).__name__})")
        entries = (body or {}).get("entries") or []
        entry = entries[0] if status == 200 and isinstance(entries, list) and entries else {}
        entry_status = int(entry.get("status") or UNKNOWN_LOCALID)
        if entry_status == UNKNOWN_LOCALID:
            return SendResult(Outcome.RETRY, error=f"kavenegar: {why}; it never arrived, sending again")
        if entry_status in NOT_DELIVERED:
            return SendResult(Outcome.FAILED, error=f"kavenegar message {NOT_DELIVERED[entry_status]}")
        return SendResult(Outcome.SENT, provider_message_id=str(entry.get("messageid", "")))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
