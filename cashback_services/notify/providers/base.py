"""The provider interface: senders say what happened, the delivery state machine
decides what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import phonenumbers


@dataclass(frozen=True)
class OutboundSms:
    delivery_id: str
    to: str  # E.164
    body: str


@dataclass(frozen=True)
class OutboundEmail:
    delivery_id: str
    to: str
    subject: str
    body: str


class Outcome(Enum):
    SENT = "sent"
    # Safe to send again: 429, 5xx, or the connection failed before the request went out.
    RETRY = "retry"
    # Terminal (invalid number, unroutable, SMTP 5xx).
    FAILED = "failed"
    # The recipient opted out at the provider (Twilio 21610, replied STOP).
    SUPPRESS = "suppress"
    # The request went out and no answer came back: it may or may not have been sent.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str = ""
    error: str = ""
    retry_after: float | None = None


class SmsProvider(Protocol):
    name: str

    async def send(self, msg: OutboundSms) -> SendResult: ...

    async def close(self) -> None: ...


class EmailProvider(Protocol):
    name: str

    async def send(self, msg: OutboundEmail) -> SendResult: ...

    async def close(self) -> None: ...


class SmsRouter:
    """Picks the SMS provider by the recipient's country calling code, so a
    country one provider can't reach (Iran, +98, for Twilio since March 2025)
    gets another without the rest of the code knowing."""

    def __init__(self, default: SmsProvider, by_country_code: dict[str, SmsProvider] | None = None) -> None:
        self.default = default
        self.by_country_code = dict(by_country_code or {})

    def for_number(self, e164: str) -> SmsProvider:
        if not self.by_country_code:
            return self.default
        try:
            code = str(phonenumbers.parse(e164).country_code)
        except phonenumbers.NumberParseException:
            return self.default
        return self.by_country_code.get(code, self.default)

    async def close(self) -> None:
        for provider in {id(p): p for p in [self.default, *self.by_country_code.values()]}.values():
            await provider.close()
