"""Orders and events on the customer aggregate: crediting an award, and a
refund's two halves -- redeemed credit given back in proportion, cashback
taken back pending -> available -> breakage, the rest as debt -- with the
records that make each idempotent (one award row per order or event, one
refund row per refund_id)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cashback_kit.errors import FailedPrecondition, InvalidArgument
from cashback_kit.money import Money
from cashback_services.wallet.domain.customer import AwardLine, Customer
from cashback_services.wallet.domain.ledger import (
    Account,
    EventType,
    HoldStatus,
    LotStatus,
    TxType,
    proportional_return,
    split_by_weights,
)
from cashback_services.wallet.domain.points import POINTS


@dataclass(frozen=True)
class Scored:
    """A committed score from rules: the awards to credit, and the score as
    rules sent it (opaque bytes, returned to our caller unchanged)."""

    currency: str
    awards: list[AwardLine]
    blob: bytes


@dataclass(frozen=True)
class Reversed:
    """How much of an order's cashback rules takes back for a refund: credit
    (`total`, in `currency`) and points (awards of points campaigns)."""

    currency: str
    total: int
    points: int = 0


@dataclass(frozen=True)
class AwardRecord:
    """One row per AwardOrder (kind "order") or AwardEvent (kind "event")."""

    merchant_id: str
    kind: str
    source_id: str
    customer_id: str
    fingerprint: str
    score: bytes
    currency: str
    earned: int
    credited: int
    debt_repaid: int
    base: int
    refunded: int
    credit_returned: int
    placed_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class RefundRecord:
    merchant_id: str
    refund_id: str
    order_id: str
    customer_id: str
    fingerprint: str
    currency: str
    refunded_amount: int
    credit_returned: int
    cashback_reversed: int
    debt: int
    created_at: datetime


def award(customer: Customer, kind: str, source_id: str, fingerprint: str, lines: list[AwardLine],
          currency: str, score: bytes, base: int, placed_at: datetime) -> AwardRecord:
    """Credit one lot per award line, one AWARD transaction per currency (credit, points); the
    totals in the score's currency are the record's."""
    credited = repaid = earned = 0
    by_currency: dict[str, list[AwardLine]] = {}
    for line in lines:
        if line.amount > 0:
            by_currency.setdefault(line.currency, []).append(line)
    for cur, same in by_currency.items():
        c, r = customer.credit_awards(same, kind, source_id)
        if cur == currency:
            credited, repaid, earned = credited + c, repaid + r, earned + sum(line.amount for line in same)
    customer.record_order(placed_at if kind == "order" else None, earned > 0)
    return AwardRecord(customer.merchant_id, kind, source_id, customer.customer_id, fingerprint, score, currency,
                       earned, credited, repaid, base, 0, 0, placed_at, customer.now)


def check_refund(order: AwardRecord, currency: str, minor: int) -> None:
    """A refund must be in the order's currency and within what is left of it."""
    if currency != order.currency:
        raise InvalidArgument(f"refunded_amount is in {currency} but the order is in {order.currency}",
                              field="refunded_amount.currency_code", reason="CURRENCY_MISMATCH")
    left = order.base - order.refunded
    if minor > left:
        raise FailedPrecondition(f"refund of {Money(currency, minor)} is above what is left of order "
                                 f"{order.source_id!r} ({Money(currency, left)} of its net merchandise amount "
                                 f"{Money(currency, order.base)})", reason="REFUND_EXCEEDS_ORDER")


def refund(customer: Customer, order: AwardRecord, refund_id: str, fingerprint: str, minor: int,
           reversal_currency: str, reversal: int, points: int = 0) -> tuple[AwardRecord, RefundRecord]:
    """Refund `minor` of the order: give back redeemed credit in proportion and
    take back `reversal` of its cashback and `points` of its points (as rules
    computed them). Points come back the way credit does (pending, available,
    expired); points already spent become points debt, which the next points
    award pays first. The record's amounts are the credit's."""
    check_refund(order, order.currency, minor)
    after = order.refunded + minor
    returned = _return_credit(customer, order, refund_id, after)
    _take_back(customer, order.source_id, POINTS, refund_id, points)
    taken, debt = _take_back(customer, order.source_id, reversal_currency, refund_id, reversal)
    if reversal_currency != order.currency:  # rules answered in another currency: report in the order's
        taken, debt = 0, 0
    updated = replace(order, refunded=after, credit_returned=order.credit_returned + returned)
    record = RefundRecord(order.merchant_id, refund_id, order.source_id, order.customer_id, fingerprint,
                          order.currency, minor, returned, taken, debt, customer.now)
    return updated, record


def _return_credit(customer: Customer, order: AwardRecord, refund_id: str, after: int) -> int:
    """Redeemed credit of the order's captured holds, back to the lots it came from."""
    holds = [h for h in customer.holds.values() if h.order_id == order.source_id
             and h.currency == order.currency and h.status == HoldStatus.CAPTURED.value]
    holds.sort(key=lambda h: (h.created_at, h.hold_id))
    captured = sum(h.captured for h in holds)
    allocs = [(h, a) for h in holds for a in sorted(h.allocations, key=lambda a: a.seq) if a.captured > a.returned]
    weights = [a.captured - a.returned for _, a in allocs]
    give = min(proportional_return(captured, order.refunded, after, order.base), sum(weights))
    if give <= 0:
        return 0
    for (hold, alloc), share in zip(allocs, split_by_weights(give, weights), strict=True):
        if share == 0:
            continue
        alloc.returned += share
        customer.hold_changed(hold)
        lot = customer.lots[alloc.lot_id]
        lot.give_back(share)
        customer.lot_changed(lot)
    tx = customer.post(TxType.REFUND, order.currency, {Account.REDEEMED: -give, Account.AVAILABLE: give},
                       order_id=order.source_id, refund_id=refund_id)
    customer.emit(EventType.REFUNDED, order.currency, give, transaction_id=tx, order_id=order.source_id)
    return give


def _take_back(customer: Customer, order_id: str, currency: str, refund_id: str, amount: int) -> tuple[int, int]:
    """From the order's pending lots first, then available ones, then what of
    them already expired (out of breakage: the customer never had that credit,
    so it must not become debt); what was spent, held or debited becomes debt.
    Returns (taken back, new debt)."""
    if amount <= 0:
        return 0, 0
    lots = sorted((lot for lot in customer.lots.values()
                   if lot.order_id == order_id and lot.source == "order" and lot.currency == currency),
                  key=lambda lot: (lot.created_at, lot.lot_id))
    took = {Account.PENDING: 0, Account.AVAILABLE: 0, Account.BREAKAGE: 0}
    left = amount
    for account, status in ((Account.PENDING, LotStatus.PENDING), (Account.AVAILABLE, LotStatus.AVAILABLE),
                            (Account.BREAKAGE, None)):
        for lot in lots:
            if left == 0:
                break
            if status is not None and lot.status != status.value:
                continue
            part = min(lot.expired if status is None else lot.remaining, left)
            if part <= 0:
                continue
            lot.reverse(part, from_expired=status is None)
            customer.lot_changed(lot)
            left -= part
            took[account] += part
    tx = customer.post(TxType.REVERSAL, currency, {
        Account.PENDING: -took[Account.PENDING], Account.AVAILABLE: -took[Account.AVAILABLE],
        Account.BREAKAGE: -took[Account.BREAKAGE], Account.DEBT: -left, Account.EXPENSE: amount,
    }, order_id=order_id, refund_id=refund_id)
    customer.emit(EventType.REVERSED, currency, amount, transaction_id=tx, order_id=order_id)
    return amount - left, left
