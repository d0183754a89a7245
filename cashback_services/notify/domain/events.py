"""What notify hears from the wallet, as plain values: the wallet stream adapter
maps the wallet's protobuf events to these, so planning never sees a proto."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashback_kit.money import Money


@dataclass(frozen=True)
class CreditEvent:
    """Cashback credited to a customer (kind "credited") or become spendable ("available")."""

    event_id: str
    kind: str  # credited | available | transferred_out | transferred_in | converted | reward_redeemed
    merchant_id: str
    customer_id: str
    amount: Money
    order_id: str = ""  # empty for credit that is not an order's (adjustments, events)
    lot_id: str = ""
    available_at: datetime | None = None
    expires_at: datetime | None = None
    occurred_at: datetime | None = None

    @property
    def group(self) -> str:
        """What one message covers: all of an order's credit, else this event alone."""
        return f"order:{self.order_id}" if self.order_id else f"event:{self.event_id}"

    def usable_at_once(self) -> bool:
        """Credit that could be spent the moment it was credited (no pending period)."""
        if self.available_at is None or self.occurred_at is None:
            return self.available_at is None
        return self.available_at <= self.occurred_at


@dataclass(frozen=True)
class StreamedEvent:
    """One event of the wallet's stream: its id and cursor, and the credit it is (None
    for the types notify does not message)."""

    event_id: str
    cursor: int
    merchant_id: str
    customer_id: str
    credit: CreditEvent | None


@dataclass(frozen=True)
class BalanceView:
    """What the sender re-checks before an expiry warning goes out."""

    available: Money
    next_expiry_at: datetime | None


@dataclass(frozen=True)
class CustomerBalance:
    customer_id: str
    available: Money


@dataclass(frozen=True)
class ExpiringCredit:
    customer_id: str
    amount: Money
    earliest_expiry: datetime | None
    lot_ids: tuple[str, ...]
