"""What a provider says happened to a send; the delivery state machine decides
what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
    # Safe to send again: 429, 5xx, a configuration problem an operator can fix (no credit,
    # SMTP auth), or the connection failed before the request went out.
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
