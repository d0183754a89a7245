"""The provider interface: senders say what happened, the delivery state machine
decides what to do about it."""

from __future__ import annotations

from typing import Protocol

from cashback_services.notify.domain.outcomes import OutboundEmail, OutboundSms, Outcome, SendResult
from cashback_services.notify.domain.phones import calling_code

__all__ = ["EmailProvider", "OutboundEmail", "OutboundSms", "Outcome", "SendResult", "SmsProvider", "SmsRouter"]


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
        return self.by_country_code.get(calling_code(e164), self.default)

    async def close(self) -> None:
        for provider in {id(p): p for p in [self.default, *self.by_country_code.values()]}.values():
            await provider.close()
