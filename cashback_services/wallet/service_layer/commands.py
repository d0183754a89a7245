"""What the service layer takes in (commands: primitives and Money, already
validated for shape by the servicer) and what it needs from rules (a port, so
the service layer never sees gRPC; its answers, Scored and Reversed, are domain
values that the rules adapter builds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cashback_kit.money import Money
from cashback_services.wallet.domain.orders import Reversed, Scored


@dataclass(frozen=True)
class Authorize:
    merchant_id: str
    customer_id: str
    order_id: str
    amount: Money
    ttl: timedelta
    idempotency_key: str
    fingerprint: str


@dataclass(frozen=True)
class Actor:
    """Who asked, for the audit trail: the key's id and label, never the key."""

    key_id: str
    key_name: str = ""
    role: str = ""


@dataclass(frozen=True)
class Adjust:
    merchant_id: str
    customer_id: str
    amount: Money
    reason: str
    idempotency_key: str
    fingerprint: str
    expires_at: datetime | None = None
    actor: Actor | None = None


@dataclass(frozen=True)
class AwardOrder:
    merchant_id: str
    order_id: str
    customer_id: str
    currency: str
    base: int  # net merchandise base, the denominator of refund proportions
    placed_at: datetime
    fingerprint: str
    payload: object = field(compare=False)  # handed to the rules port as is


@dataclass(frozen=True)
class AwardEvent:
    merchant_id: str
    customer_id: str
    event_type: str
    event_id: str
    occurred_at: datetime
    fingerprint: str
    payload: object = field(compare=False)


@dataclass(frozen=True)
class RefundOrder:
    merchant_id: str
    order_id: str
    refund_id: str
    amount: Money
    fingerprint: str



class RulesPort(Protocol):
    async def score_order(self, payload: object) -> Scored: ...

    async def score_event(self, payload: object) -> Scored: ...

    async def reverse_order(self, merchant_id: str, order_id: str, refund_id: str, amount: Money) -> Reversed: ...


@dataclass(frozen=True)
class Capture:
    merchant_id: str
    hold_id: str
    amount: Money | None = None  # None: the whole hold


@dataclass(frozen=True)
class Void:
    merchant_id: str
    hold_id: str


@dataclass(frozen=True)
class AwardResult:
    score_blob: bytes
    credited: Money
    debt_repaid: Money


@dataclass(frozen=True)
class RefundResult:
    credit_returned: Money
    cashback_reversed: Money
    debt: Money
