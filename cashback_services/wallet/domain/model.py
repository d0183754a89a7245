"""The wallet's entities: lots of credit, holds on them, the maintained balance,
and the ledger transactions and outbox events a change produces. Plain
dataclasses with their transitions; each transition keeps its entity's
invariant or raises before changing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cashback_kit.errors import HoldExpired, HoldNotActive, InvalidArgument
from cashback_kit.ids import random_hex
from cashback_kit.money import Money
from cashback_services.wallet.domain.ledger import (
    BALANCE_COLUMNS,
    Account,
    EventType,
    HoldStatus,
    LotStatus,
    TxType,
    check_balanced,
    customer_delta,
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_hex()}"


class BrokenInvariant(AssertionError):
    """A bug: a transition would break an entity's invariant (never a client's fault)."""


@dataclass
class Lot:
    """One grant of credit. Invariant: amount = remaining + held + spent +
    expired + reversed + debited, none negative."""

    lot_id: str
    currency: str
    source: str
    order_id: str | None
    campaign_id: str | None
    amount: int
    status: str
    available_at: datetime
    expires_at: datetime | None
    created_at: datetime
    remaining: int = 0
    held: int = 0
    spent: int = 0
    expired: int = 0
    reversed: int = 0
    debited: int = 0

    def past_expiry(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def spendable(self, currency: str, now: datetime) -> bool:
        return (self.currency == currency and self.status == LotStatus.AVAILABLE.value and self.remaining > 0
                and not self.past_expiry(now))

    def _move(self, **delta: int) -> None:
        new = {k: getattr(self, k) + v for k, v in delta.items()}
        if any(v < 0 for v in new.values()):
            raise BrokenInvariant(f"lot {self.lot_id}: {delta} would go negative")
        for k, v in new.items():
            setattr(self, k, v)

    def hold(self, part: int) -> None:
        self._move(remaining=-part, held=part)

    def settle_hold(self, held: int, captured: int) -> None:
        """Of `held`, `captured` is spent and the rest comes back as remaining."""
        self._move(held=-held, spent=captured, remaining=held - captured)

    def give_back(self, part: int) -> None:
        """Redeemed credit returned by a refund."""
        self._move(spent=-part, remaining=part)

    def debit(self, part: int) -> None:
        self._move(remaining=-part, debited=part)

    def reverse(self, part: int, *, from_expired: bool = False) -> None:
        self._move(**{"expired" if from_expired else "remaining": -part, "reversed": part})


@dataclass
class Allocation:
    """What a hold took from one lot, and what of that was captured and later returned."""

    lot_id: str
    seq: int
    amount: int
    captured: int = 0
    returned: int = 0


@dataclass
class Hold:
    """Credit set aside for an order. States: active -> captured (once, for up
    to the held amount; the rest is released) | voided | expired."""

    hold_id: str
    order_id: str
    currency: str
    amount: int
    expires_at: datetime
    created_at: datetime
    status: str = HoldStatus.ACTIVE.value
    captured: int = 0
    closed_at: datetime | None = None
    allocations: list[Allocation] = field(default_factory=list)

    def due(self, now: datetime) -> bool:
        return self.status == HoldStatus.ACTIVE.value and self.expires_at <= now

    def capture_amount(self, currency: str | None, minor: int | None) -> int | None:
        """The amount a capture of (currency, minor) takes, or None for a replay
        of the capture already made. Refuses what the state does not allow."""
        if currency is not None and currency != self.currency:
            raise InvalidArgument(f"amount is in {currency} but the hold is in {self.currency}",
                                  field="amount.currency_code", reason="CURRENCY_MISMATCH")
        want = self.amount if minor is None else minor
        if self.status == HoldStatus.CAPTURED.value:
            if want == self.captured:
                return None
            raise HoldNotActive(f"hold {self.hold_id!r} was already captured with {self.captured}")
        self._refuse_closed()
        if want > self.amount:
            raise InvalidArgument(f"capture of {Money(self.currency, want)} exceeds the held "
                                  f"{Money(self.currency, self.amount)}", field="amount.amount_minor",
                                  reason="CAPTURE_EXCEEDS_HOLD")
        return want

    def voidable(self) -> bool:
        """True if a void has something to do; False for a void already done."""
        if self.status == HoldStatus.CAPTURED.value:
            raise HoldNotActive(f"hold {self.hold_id!r} was captured and can't be voided")
        return self.status == HoldStatus.ACTIVE.value

    def _refuse_closed(self) -> None:
        if self.status == HoldStatus.VOIDED.value:
            raise HoldNotActive(f"hold {self.hold_id!r} was voided")
        if self.status == HoldStatus.EXPIRED.value:
            raise HoldExpired(f"hold {self.hold_id!r} expired at {self.expires_at.isoformat()}")
        if self.status != HoldStatus.ACTIVE.value:
            raise HoldNotActive(f"hold {self.hold_id!r} is {self.status}")

    def close(self, captured: int, status: HoldStatus, now: datetime) -> list[tuple[Allocation, int]]:
        """Capture `captured` and release the rest, lot by lot in the order the
        hold took them. Returns (allocation, captured from it) for each."""
        self._refuse_closed()
        if not 0 <= captured <= self.amount:
            raise BrokenInvariant(f"capture {captured} of hold {self.hold_id} holding {self.amount}")
        left, out = captured, []
        for alloc in sorted(self.allocations, key=lambda a: a.seq):
            cap = min(alloc.amount, left)
            left -= cap
            alloc.captured = cap
            out.append((alloc, cap))
        self.status, self.captured, self.closed_at = status.value, captured, now
        return out


@dataclass
class Balance:
    """The maintained balance of one customer in one currency (debt shown positive)."""

    currency: str
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0

    def post(self, postings: dict[Account, int]) -> None:
        new = {col: getattr(self, col) for col, _ in BALANCE_COLUMNS.values()}
        for acc, amt in postings.items():
            if acc in BALANCE_COLUMNS:
                col, sign = BALANCE_COLUMNS[acc]
                new[col] += sign * amt
        negative = {k: v for k, v in new.items() if v < 0}
        if negative:
            raise BrokenInvariant(f"balance would go negative: {negative}")
        for k, v in new.items():
            setattr(self, k, v)


@dataclass(frozen=True)
class Entry:
    account: str
    currency: str
    amount: int


@dataclass(frozen=True)
class Transaction:
    """A balanced ledger transaction: its entries sum to zero."""

    transaction_id: str
    type: str
    currency: str
    amount: int  # the change to the customer's available + pending credit
    entries: tuple[Entry, ...]
    created_at: datetime
    order_id: str | None = None
    hold_id: str | None = None
    refund_id: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, tx_type: TxType, currency: str, postings: dict[Account, int], now: datetime,
           **refs: str | None) -> Transaction:
        postings = {acc: amt for acc, amt in postings.items() if amt != 0}
        check_balanced(postings)
        if not postings:
            raise BrokenInvariant("empty ledger transaction")
        entries = tuple(Entry(acc.value, currency, amt) for acc, amt in postings.items())
        return cls(new_id("tx"), tx_type.value, currency, customer_delta(postings), entries, now, **refs)


@dataclass(frozen=True)
class Event:
    """An outbox row: what notify and other readers learn of a change."""

    event_id: str
    type: str
    currency: str
    amount: int
    occurred_at: datetime
    transaction_id: str | None = None
    order_id: str | None = None
    lot_id: str | None = None
    hold_id: str | None = None
    available_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def of(cls, type_: EventType, currency: str, amount: int, now: datetime, **refs: object) -> Event:
        return cls(new_id("ev"), type_.value, currency, amount, now, **refs)  # type: ignore[arg-type]
