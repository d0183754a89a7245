"""Log sinks: where SMS and email go when no provider is configured (`make run`).
They log that a message was sent, its length and a fingerprint of the
recipient, never the number, the address or the text (those are personal data)."""

from __future__ import annotations

import logging
import secrets

from cashback_kit.tokens import recipient_fingerprint
from cashback_services.notify.domain.outcomes import OutboundEmail, OutboundSms, Outcome, SendResult

log = logging.getLogger("cashback.notify.sink")


class _Sink:
    def __init__(self, fingerprint_secret: bytes | None = None) -> None:
        # A keyed hash (CASHBACK_FINGERPRINT_SECRET): an unsalted short hash of a phone number
        # is reversed by trying every number (issue 15 found them in 2 s).
        self._secret = fingerprint_secret or secrets.token_bytes(32)

    def recipient_ref(self, to: str) -> str:
        return recipient_fingerprint(self._secret, to)


class LogSmsSink(_Sink):
    name = "log-sms"

    async def send(self, msg: OutboundSms) -> SendResult:
        log.info("sms sent to log sink", extra={"delivery_id": msg.delivery_id,
                                                "recipient_ref": self.recipient_ref(msg.to), "chars": len(msg.body)})
        return SendResult(Outcome.SENT, provider_message_id=f"log-{msg.delivery_id}")

    async def close(self) -> None:
        return None


class LogEmailSink(_Sink):
    name = "log-email"

    async def send(self, msg: OutboundEmail) -> SendResult:
        log.info("email sent to log sink", extra={"delivery_id": msg.delivery_id,
                                                  "recipient_ref": self.recipient_ref(msg.to), "chars": len(msg.body)})
        return SendResult(Outcome.SENT, provider_message_id=f"log-{msg.delivery_id}")

    async def close(self) -> None:
        return None
