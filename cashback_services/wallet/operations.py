"""Ledger operations on one customer's Book. Each runs inside the Book's
transaction, under the customer's lock; callers validate input first and
these functions keep every invariant the auditor checks:

  lot.amount = remaining + held + spent + expired + reversed + debited
  balance.available = sum(remaining of available lots), pending likewise
  balance.held = sum(active holds) = sum(lot.held)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cashback_services.wallet import tables as t
from cashback_services.wallet.book import Book, new_id
from cashback_services.wallet.domain.ledger import (
    Account,
    EventType,
    HoldStatus,
    LotStatus,
    LotView,
    TxType,
    proportional_return,
    split_by_weights,
    take_from_lots,
)

L = t.lots.c
H = t.holds.c


def past_expiry(lot: dict[str, Any], now: datetime) -> bool:
    return lot["expires_at"] is not None and lot["expires_at"] <= now


# -- time-driven changes ------------------------------------------------------------


async def settle(book: Book) -> None:
    """Bring the customer up to book.now: release expired holds, mature due
    pending lots, expire due lots. Runs before every write (so nothing is ever
    spent from an expired lot or held past its TTL, whether or not the sweeper
    has come by) and from the sweeper."""
    now = book.now
    for hold in await book.holds(H.status == HoldStatus.ACTIVE.value, H.expires_at <= now):
        await release_hold(book, hold, HoldStatus.EXPIRED)
    for lot in await book.lots(L.status == LotStatus.PENDING.value, L.available_at <= now):
        await mature_lot(book, lot)
    for lot in await book.lots(L.status == LotStatus.AVAILABLE.value, L.expires_at.is_not(None), L.expires_at <= now):
        await expire_lot(book, lot)


async def settle_new_lots(book: Book, lot_ids: list[str]) -> None:
    """settle() for lots inserted in this transaction, which is all that can have
    fallen due since the Book was opened and settled at the same `now`: mature the
    due ones, then expire those already past expiry, in settle()'s order."""
    lots = sorted((book.inserted_lots[i] for i in lot_ids), key=lambda lot: lot["lot_id"])
    for lot in lots:
        if lot["status"] == LotStatus.PENDING.value and lot["available_at"] <= book.now:
            await mature_lot(book, lot)
    for lot in lots:
        if lot["status"] == LotStatus.AVAILABLE.value and past_expiry(lot, book.now):
            await expire_lot(book, lot)


async def mature_lot(book: Book, lot: dict[str, Any]) -> None:
    amount = lot["remaining"]
    if amount > 0:
        tx = await book.post(
            TxType.MATURE, lot["currency"], {Account.PENDING: -amount, Account.AVAILABLE: amount},
            order_id=lot["order_id"],
        )
        await book.event(
            EventType.AVAILABLE, lot["currency"], amount, transaction_id=tx, order_id=lot["order_id"],
            lot_id=lot["lot_id"], available_at=lot["available_at"], expires_at=lot["expires_at"],
        )
    await book.update_lot(lot, status=LotStatus.AVAILABLE.value)


async def expire_lot(book: Book, lot: dict[str, Any]) -> None:
    """Move an available lot's remainder past its expiry to breakage. Also used
    when credit comes back to an already expired lot (release, refund): it
    expires again at once."""
    amount = lot["remaining"]
    if amount > 0:
        tx = await book.post(
            TxType.EXPIRY, lot["currency"], {Account.AVAILABLE: -amount, Account.BREAKAGE: amount},
            order_id=lot["order_id"],
        )
        await book.event(
            EventType.EXPIRED, lot["currency"], amount, transaction_id=tx, order_id=lot["order_id"],
            lot_id=lot["lot_id"], expires_at=lot["expires_at"],
        )
    await book.update_lot(
        lot, status=LotStatus.EXPIRED.value, remaining=0, expired=lot["expired"] + amount
    )


async def _expire_if_due(book: Book, lots: list[dict[str, Any]]) -> None:
    """Expire again at once the credit that came back to lots past their expiry.
    Re-reads each lot once: the dicts passed in may be stale copies."""
    for lot_id in dict.fromkeys(lot["lot_id"] for lot in lots):
        lot = await book.lot(lot_id)
        if past_expiry(lot, book.now) and lot["remaining"] > 0:
            await expire_lot(book, lot)


# -- holds ----------------------------------------------------------------------------


async def spendable_lots(book: Book, currency: str) -> list[dict[str, Any]]:
    return await book.lots(
        L.currency == currency, L.status == LotStatus.AVAILABLE.value, L.remaining > 0
    )


def _views(lots: list[dict[str, Any]]) -> list[LotView]:
    return [LotView(lot["lot_id"], lot["remaining"], lot["expires_at"], lot["created_at"]) for lot in lots]


async def authorize(
    book: Book, currency: str, amount: int, order_id: str, ttl: timedelta
) -> dict[str, Any]:
    lots = {lot["lot_id"]: lot for lot in await spendable_lots(book, currency)}
    taken = take_from_lots(_views(list(lots.values())), amount)  # InsufficientCredit: nothing written
    hold: dict[str, Any] = {
        "hold_id": new_id("hold"), "merchant_id": book.merchant_id, "customer_id": book.customer_id,
        "order_id": order_id, "currency": currency, "amount": amount, "captured": 0,
        "status": HoldStatus.ACTIVE.value, "expires_at": book.now + ttl, "created_at": book.now,
        "closed_at": None,
    }
    await book.conn.execute(t.holds.insert().values(**hold))
    allocs = []
    for seq, (lot_id, part) in enumerate(taken):
        lot = lots[lot_id]
        await book.update_lot(lot, remaining=lot["remaining"] - part, held=lot["held"] + part)
        allocs.append({
            "hold_id": hold["hold_id"], "lot_id": lot_id, "merchant_id": book.merchant_id,
            "customer_id": book.customer_id, "seq": seq, "amount": part, "captured": 0, "returned": 0,
        })
    await book.conn.execute(t.hold_allocations.insert(), allocs)
    tx = await book.post(
        TxType.HOLD, currency, {Account.AVAILABLE: -amount, Account.HELD: amount},
        order_id=order_id, hold_id=hold["hold_id"],
    )
    await book.event(
        EventType.HELD, currency, amount, transaction_id=tx, order_id=order_id, hold_id=hold["hold_id"],
        expires_at=hold["expires_at"],
    )
    return hold


async def _close_hold(book: Book, hold: dict[str, Any], captured: int, status: HoldStatus) -> None:
    """Capture `captured` of an active hold and release the rest, lot by lot in
    the order the hold took them."""
    held = hold["amount"]
    left = captured
    touched = []
    for alloc in await book.allocations(hold["hold_id"]):
        lot = await book.lot(alloc["lot_id"])
        cap = min(alloc["amount"], left)
        left -= cap
        rel = alloc["amount"] - cap
        await book.update_lot(
            lot, held=lot["held"] - alloc["amount"], spent=lot["spent"] + cap, remaining=lot["remaining"] + rel
        )
        if cap:
            await book.update_allocation(alloc, captured=cap)
        touched.append(lot)
    released = held - captured
    tx_type = TxType.CAPTURE if captured else TxType.RELEASE
    tx = await book.post(
        tx_type, hold["currency"],
        {Account.HELD: -held, Account.REDEEMED: captured, Account.AVAILABLE: released},
        order_id=hold["order_id"], hold_id=hold["hold_id"],
    )
    if captured:
        await book.event(EventType.REDEEMED, hold["currency"], captured, transaction_id=tx,
                         order_id=hold["order_id"], hold_id=hold["hold_id"])
    if released:
        await book.event(EventType.RELEASED, hold["currency"], released, transaction_id=tx,
                         order_id=hold["order_id"], hold_id=hold["hold_id"])
    values = {"status": status.value, "captured": captured, "closed_at": book.now}
    await book.conn.execute(
        t.holds.update().where(book._me(t.holds), H.hold_id == hold["hold_id"]).values(**values))
    hold.update(values)
    await _expire_if_due(book, touched)


async def release_hold(book: Book, hold: dict[str, Any], status: HoldStatus) -> None:
    await _close_hold(book, hold, 0, status)


async def capture(book: Book, hold: dict[str, Any], amount: int) -> None:
    await _close_hold(book, hold, amount, HoldStatus.CAPTURED)
    first = book.customer.get("first_redeemed_at")
    last = book.customer.get("last_order_at")
    await book.touch_customer(
        first_redeemed_at=first or book.now, last_order_at=max(last, book.now) if last else book.now
    )


# -- adjustments ---------------------------------------------------------------------------


async def adjust(
    book: Book, currency: str, amount: int, reason: str, expires_at: datetime | None
) -> str:
    if amount > 0:
        lot_id = await book.insert_lot(
            currency=currency, source="adjustment", order_id=None, campaign_id=None, amount=amount,
            status=LotStatus.AVAILABLE.value, available_at=book.now, expires_at=expires_at,
        )
    else:
        lot_id = None
        lots = {lot["lot_id"]: lot for lot in await spendable_lots(book, currency)}
        for lid, part in take_from_lots(_views(list(lots.values())), -amount):
            lot = lots[lid]
            await book.update_lot(lot, remaining=lot["remaining"] - part, debited=lot["debited"] + part)
    tx = await book.post(
        TxType.ADJUSTMENT, currency, {Account.AVAILABLE: amount, Account.ADJUSTMENTS: -amount}, reason=reason
    )
    await book.event(EventType.ADJUSTED, currency, amount, transaction_id=tx, lot_id=lot_id,
                     expires_at=expires_at)
    return tx


# -- awards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwardLine:
    campaign_id: str
    currency: str
    amount: int
    available_at: datetime
    expires_at: datetime | None


async def credit_award(book: Book, line: AwardLine, kind: str, source_id: str) -> tuple[int, int, str | None]:
    """Credit one award as a pending lot, paying refund debt off first.
    Returns (credited, debt_repaid, the new lot's id or None)."""
    debt = book.balance(line.currency)["debt"]
    repaid = min(line.amount, debt)
    credited = line.amount - repaid
    order_id = source_id if kind == "order" else None
    lot_id = None
    if credited:
        lot_id = await book.insert_lot(
            currency=line.currency, source=kind, order_id=order_id, campaign_id=line.campaign_id,
            amount=credited, status=LotStatus.PENDING.value, available_at=line.available_at,
            expires_at=line.expires_at,
        )
    tx = await book.post(
        TxType.AWARD, line.currency,
        {Account.EXPENSE: -line.amount, Account.DEBT: repaid, Account.PENDING: credited},
        order_id=order_id, reason=None if kind == "order" else f"event {source_id}",
    )
    if repaid:  # debt is paid first, so say so first
        await book.event(EventType.DEBT_REPAID, line.currency, repaid, transaction_id=tx, order_id=order_id)
    if credited:
        await book.event(
            EventType.CREDITED, line.currency, credited, transaction_id=tx, order_id=order_id, lot_id=lot_id,
            available_at=line.available_at, expires_at=line.expires_at,
        )
    return credited, repaid, lot_id


# -- refunds ------------------------------------------------------------------------------------


async def return_credit(
    book: Book, order_id: str, currency: str, refund_id: str, before: int, after: int, base: int
) -> int:
    """Give back redeemed credit of the order's captured holds, in proportion
    to the refunded part of the order, to the lots it came from."""
    holds = await book.holds(
        H.order_id == order_id, H.currency == currency, H.status == HoldStatus.CAPTURED.value
    )
    captured = sum(h["captured"] for h in holds)
    allocs = [a for h in holds for a in await book.allocations(h["hold_id"]) if a["captured"] > a["returned"]]
    weights = [a["captured"] - a["returned"] for a in allocs]
    give = min(proportional_return(captured, before, after, base), sum(weights))
    if give <= 0:
        return 0
    touched = []
    for alloc, share in zip(allocs, split_by_weights(give, weights), strict=True):
        if share == 0:
            continue
        lot = await book.lot(alloc["lot_id"])
        await book.update_allocation(alloc, returned=alloc["returned"] + share)
        await book.update_lot(lot, spent=lot["spent"] - share, remaining=lot["remaining"] + share)
        touched.append(lot)
    tx = await book.post(
        TxType.REFUND, currency, {Account.REDEEMED: -give, Account.AVAILABLE: give},
        order_id=order_id, refund_id=refund_id,
    )
    await book.event(EventType.REFUNDED, currency, give, transaction_id=tx, order_id=order_id)
    await _expire_if_due(book, touched)
    return give


async def take_back(
    book: Book, order_id: str, currency: str, refund_id: str, amount: int
) -> tuple[int, int]:
    """Take back `amount` of the order's cashback: from its pending lots first,
    then available ones, then what of them already expired (out of breakage:
    the customer never had that credit, so it must not become debt); what was
    spent, held or debited becomes debt. Returns (taken back, new debt)."""
    if amount <= 0:
        return 0, 0
    lots = await book.lots(L.order_id == order_id, L.source == "order", L.currency == currency)
    took = {LotStatus.PENDING.value: 0, LotStatus.AVAILABLE.value: 0, LotStatus.EXPIRED.value: 0}
    left = amount
    for status, column in ((LotStatus.PENDING, "remaining"), (LotStatus.AVAILABLE, "remaining"),
                           (None, "expired")):
        for lot in lots:
            if left == 0:
                break
            if status is not None and lot["status"] != status.value:
                continue
            part = min(lot[column], left)
            if part <= 0:
                continue
            left -= part
            took[status.value if status else LotStatus.EXPIRED.value] += part
            await book.update_lot(lot, **{column: lot[column] - part, "reversed": lot["reversed"] + part})
    pending, available = took[LotStatus.PENDING.value], took[LotStatus.AVAILABLE.value]
    expired = took[LotStatus.EXPIRED.value]
    debt = left
    tx = await book.post(
        TxType.REVERSAL, currency,
        {Account.PENDING: -pending, Account.AVAILABLE: -available, Account.BREAKAGE: -expired,
         Account.DEBT: -debt, Account.EXPENSE: amount},
        order_id=order_id, refund_id=refund_id,
    )
    await book.event(EventType.REVERSED, currency, amount, transaction_id=tx, order_id=order_id)
    return amount - debt, debt
