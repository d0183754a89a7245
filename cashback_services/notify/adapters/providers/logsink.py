"""Log sinks: where SMS and email go when no provider is configured (`make run`).
They log that a message was sent, its length and a fingerprint of the
recipient, never the number, the address or the text (those are personal data)."""

from __future__ import annotations

import hashlib
import logging

from cashback_services.notify.domain.outcomes import OutboundEmail, OutboundSms, Outcome, SendResult

log = logging.getLogger("cashback.notify.sink")


def recipient_ref(to: str) -> str:
    return hashlib.sha256(to.encode()).hexdigest()[:10]


class LogSmsSink:
    name = "log-sms"

    async def send(self, msg: OutboundSms) -> SendResult:
        log.info("sms sent to log sink", extra={"delivery_id": msg.delivery_id, "recipient_ref": recipient_ref(msg.to),
                                                "chars": len(msg.body)})
        return SendResult(Outcome.SENT, provider_message_id=f"log-{msg.delivery_id}")

    async def close(self) -> None:
        return None


class LogEmailSink:
    name = "log-email"

    async def send(self, msg: OutboundEmail) -> SendResult:
        log.info("email sent to log sink", extra={"delivery_id": msg.delivery_id,
                                                  "recipient_ref": recipient_ref(msg.to), "chars": len(msg.body)})
        return SendResult(Outcome.SENT, provider_message_id=f"log-{msg.delivery_id}")

    async def close(self) -> None:
        return None
