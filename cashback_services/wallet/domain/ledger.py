"""Ledger vocabulary and the pure rules of the wallet.

Sign convention: a customer account's balance is the sum of its entries
(available, pending and held credit are positive). The customer's refund debt
is a receivable, so its account runs negative and the `debt` balance shows it
positive. Merchant-side accounts are the counter-legs. Every transaction's
entries sum to zero per currency; `check_balanced` refuses anything else
before it reaches the database (whose deferred trigger checks again)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from cashback_kit.errors import InsufficientCredit
from cashback_kit.money import Rounding, div_round


class Account(StrEnum):
    AVAILABLE = "customer:available"
    PENDING = "customer:pending"
    HELD = "customer:held"
    DEBT = "customer:debt"
    EXPENSE = "merchant:expense"  # cashback the merchant pays
    BREAKAGE = "merchant:breakage"  # credit that expired unspent
    REDEEMED = "merchant:redeemed"  # credit spent on orders
    ADJUSTMENTS = "merchant:adjustments"  # ops corrections
    IN_FLIGHT = "transfer:in_flight"  # clearing between two customers' legs of a transfer
    CONVERSION = "merchant:conversion"  # each unit's counter-leg of a credit <-> points conversion
    # A partner redemption: on the issuer's sub-ledger what it owes the redeeming merchant,
    # on the redeemer's what it is owed (the settlement row names the pair: coalitions.md).
    PAYABLE = "settlement:payable"
    RECEIVABLE = "settlement:receivable"


# Customer accounts -> (balance column, sign of the column relative to the entries).
BALANCE_COLUMNS: dict[Account, tuple[str, int]] = {
    Account.AVAILABLE: ("available", 1),
    Account.PENDING: ("pending", 1),
    Account.HELD: ("held", 1),
    Account.DEBT: ("debt", -1),
}


class TxType(StrEnum):
    AWARD = "award"
    MATURE = "mature"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    REFUND = "refund"
    REVERSAL = "reversal"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    CONVERSION = "conversion"


class EventType(StrEnum):
    CREDITED = "credited"
    AVAILABLE = "available"
    REDEEMED = "redeemed"
    RELEASED = "released"
    REFUNDED = "refunded"
    REVERSED = "reversed"
    EXPIRED = "expired"
    ADJUSTED = "adjusted"
    HELD = "held"
    DEBT_REPAID = "debt_repaid"
    TRANSFERRED_OUT = "transferred_out"
    TRANSFERRED_IN = "transferred_in"
    CONVERTED = "converted"
    PARTNER_REDEEMED = "partner_redeemed"
    PARTNER_REFUNDED = "partner_refunded"
    SETTLEMENT = "settlement"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    VOIDED = "voided"
    EXPIRED = "expired"


class LotStatus(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    EXPIRED = "expired"


class UnbalancedTransaction(AssertionError):
    """A bug: code tried to post entries that do not sum to zero."""


def check_balanced(postings: dict[Account, int]) -> None:
    total = sum(postings.values())
    if total != 0:
        raise UnbalancedTransaction(f"entries sum to {total}, not 0: {postings}")


def customer_delta(postings: dict[Account, int]) -> int:
    """The change to the customer's available + pending credit (Transaction.amount)."""
    return postings.get(Account.AVAILABLE, 0) + postings.get(Account.PENDING, 0)


@dataclass(frozen=True)
class LotView:
    """What allocation needs to know about a spendable lot."""

    lot_id: str
    remaining: int
    expires_at: datetime | None
    created_at: datetime


class SpendableLot(Protocol):
    """What allocation reads of a lot (a LotView, or the domain's Lot)."""

    @property
    def lot_id(self) -> str: ...
    @property
    def remaining(self) -> int: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


_L = TypeVar("_L", bound=SpendableLot)


def spend_order(lots: Iterable[_L]) -> list[_L]:
    """Earliest expiry first (never-expiring last), then oldest, then by id:
    credit that would be lost soonest is used first."""
    return sorted(
        lots,
        key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.created_at, lot.created_at, lot.lot_id),
    )


def take_from_lots(lots: Iterable[SpendableLot], amount: int) -> list[tuple[str, int]]:
    """Take `amount` from the lots in spend order. Raises InsufficientCredit
    (and takes nothing) when they hold less."""
    if amount <= 0:
        raise ValueError("amount to take must be positive")
    ordered = [lot for lot in spend_order(lots) if lot.remaining > 0]
    have = sum(lot.remaining for lot in ordered)
    if have < amount:
        raise InsufficientCredit(f"not enough available credit: {have} available, {amount} asked")
    taken: list[tuple[str, int]] = []
    left = amount
    for lot in ordered:
        if left == 0:
            break
        part = min(lot.remaining, left)
        taken.append((lot.lot_id, part))
        left -= part
    return taken


def proportional_return(captured: int, refunded_before: int, refunded_after: int, base: int) -> int:
    """How much redeemed credit a refund gives back.

    Computed on the cumulative refunded amount, rounded down, so partial refunds
    never drift: the sum over all refunds of an order is captured x refunded/base
    rounded down, and exactly `captured` once the whole order is refunded."""
    if base <= 0 or captured <= 0:
        return 0
    before = captured if refunded_before >= base else div_round(captured * refunded_before, base, Rounding.DOWN)
    after = captured if refunded_after >= base else div_round(captured * refunded_after, base, Rounding.DOWN)
    return max(0, after - before)


def split_by_weights(amount: int, weights: Sequence[int]) -> list[int]:
    """Split amount over weights exactly (largest remainder); zero weights get zero."""
    total = sum(weights)
    if amount == 0 or total <= 0:
        return [0] * len(weights)
    if amount > total:
        raise ValueError("cannot split more than the weights hold")
    shares = [amount * w // total for w in weights]
    rest = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order:
        if rest == 0:
            break
        if shares[i] < weights[i]:
            shares[i] += 1
            rest -= 1
    return shares


@dataclass(frozen=True)
class OrderLineAmounts:
    unit_price: int
    quantity: int
    line_discount: int


def net_merchandise(lines: Sequence[OrderLineAmounts], order_discount: int) -> int:
    """What the goods cost the customer: line nets less the order discount,
    never below zero. Shipping and tax are not part of it; wallet credit used
    to pay IS (it is the customer's money). This is the amount rules measures
    refunds against, so refunded_amount / merchandise is the refunded share of
    the order for both services."""
    gross = sum(line.unit_price * line.quantity - line.line_discount for line in lines)
    return max(0, gross - order_discount)
