"""AwardOrder, AwardEvent and RefundOrder: the handlers that talk to rules.

The call to rules happens before the wallet's transaction and outside any
lock (never hold a row lock across a network call). That is safe because
rules is idempotent by the same key (order_id, event_id, refund_id): after a
crash between the two steps, the retry gets the same answer from rules and
the wallet credits once, guarded by its own unique award/refund rows that are
checked again under the customer's lock. When rules is down, nothing has been
written and the caller gets UNAVAILABLE."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.money import Money
from cashback_services.wallet import operations as ops
from cashback_services.wallet import tables as t
from cashback_services.wallet.batch import Group
from cashback_services.wallet.book import Book
from cashback_services.wallet.commands import (
    AwardEvent,
    AwardOrder,
    AwardResult,
    RefundOrder,
    RefundResult,
    RulesPort,
    Scored,
)
from cashback_services.wallet.service import WalletService

A = t.awards.c
R = t.refunds.c


def _rules(svc: WalletService) -> RulesPort:
    if svc.rules is None:
        raise RuntimeError("the wallet was started without a rules client")
    return svc.rules


async def _award_row(conn: AsyncConnection, merchant_id: str, kind: str, source_id: str) -> dict[str, Any] | None:
    q = select(t.awards).where(A.merchant_id == merchant_id, A.kind == kind, A.source_id == source_id)
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


def _replay(row: dict[str, Any], fingerprint: str, what: str) -> AwardResult:
    if row["fingerprint"] != fingerprint:
        raise AlreadyExists(f"{what} {row['source_id']!r} was already awarded with different content")
    cur = row["currency"]
    return AwardResult(bytes(row["score"]), Money(cur, int(row["credited"])), Money(cur, int(row["debt_repaid"])))


async def _award(
    svc: WalletService, merchant_id: str, customer_id: str, kind: str, source_id: str, fingerprint: str,
    score: Callable[[], Awaitable[Scored]], base: int, placed_at: datetime,
) -> AwardResult:
    """Score with rules (idempotent there), then credit one lot per award in
    one transaction, unless this order/event was credited already. The credit
    goes through the grouped write path when it is on (batch.py)."""
    what = "order_id" if kind == "order" else "event_id"
    async with svc.db.read() as conn:
        row = await _award_row(conn, merchant_id, kind, source_id)
    if row is not None:
        return _replay(row, fingerprint, what)
    scored = await score()
    award = _Award(kind, source_id, fingerprint, scored, base, placed_at, what)

    async def alone() -> AwardResult:
        async with svc.customer(merchant_id, customer_id) as book:
            return await award.credit(book, await _award_row(book.conn, merchant_id, kind, source_id))

    if svc.batcher is None:
        return await alone()
    key = (merchant_id, kind, source_id)

    async def in_group(book: Book, group: Group) -> AwardResult:
        result = await award.credit(book, group.awards.get(key))
        group.awards[key] = award.row
        return result

    return await svc.batcher.submit((merchant_id, customer_id), in_group, alone, award=key)


@dataclass
class _Award:
    """Crediting one scored order or event under the customer's lock, alone or in a group."""

    kind: str
    source_id: str
    fingerprint: str
    scored: Scored
    base: int
    placed_at: datetime
    what: str
    row: dict[str, Any] | None = None

    async def credit(self, book: Book, existing: dict[str, Any] | None) -> AwardResult:
        if existing is not None:  # a concurrent retry got here first
            return _replay(existing, self.fingerprint, self.what)
        scored, kind = self.scored, self.kind
        credited = repaid = earned = 0
        new_lots: list[str] = []
        for line in scored.awards:
            if line.amount <= 0:
                continue
            c, r, lot_id = await ops.credit_award(book, line, kind, self.source_id)
            new_lots += [lot_id] if lot_id else []
            if line.currency == scored.currency:
                credited, repaid, earned = credited + c, repaid + r, earned + line.amount
        self.row = dict(
            merchant_id=book.merchant_id, kind=kind, source_id=self.source_id, customer_id=book.customer_id,
            fingerprint=self.fingerprint, score=scored.blob, currency=scored.currency, earned=earned,
            credited=credited, debt_repaid=repaid, base=self.base, refunded=0, credit_returned=0,
            placed_at=self.placed_at, created_at=book.now,
        )
        await book.insert(t.awards, self.row)
        customer: dict[str, Any] = {}
        if kind == "order":
            last = book.customer.get("last_order_at")
            customer["last_order_at"] = max(last, self.placed_at) if last else self.placed_at
        if earned and book.customer.get("first_earned_at") is None:
            customer["first_earned_at"] = book.now
        if customer:
            await book.touch_customer(**customer)
        await ops.settle_new_lots(book, new_lots)  # awards already past available_at mature at once
        return AwardResult(scored.blob, Money(scored.currency, credited), Money(scored.currency, repaid))


async def award_order(svc: WalletService, cmd: AwardOrder) -> AwardResult:
    return await _award(svc, cmd.merchant_id, cmd.customer_id, "order", cmd.order_id, cmd.fingerprint,
                        lambda: _rules(svc).score_order(cmd.payload), cmd.base, cmd.placed_at)


async def award_event(svc: WalletService, cmd: AwardEvent) -> AwardResult:
    return await _award(svc, cmd.merchant_id, cmd.customer_id, "event", cmd.event_id, cmd.fingerprint,
                        lambda: _rules(svc).score_event(cmd.payload), 0, cmd.occurred_at)


def _refund_replay(row: dict[str, Any], fingerprint: str) -> RefundResult:
    if row["fingerprint"] != fingerprint:
        raise AlreadyExists(f"refund_id {row['refund_id']!r} was already used for a different refund")
    cur = row["currency"]
    return RefundResult(Money(cur, int(row["credit_returned"])), Money(cur, int(row["cashback_reversed"])),
                        Money(cur, int(row["debt"])))


async def _refund_row(conn: AsyncConnection, merchant_id: str, refund_id: str) -> dict[str, Any] | None:
    q = select(t.refunds).where(R.merchant_id == merchant_id, R.refund_id == refund_id)
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


def _check_refund(order: dict[str, Any], cmd: RefundOrder) -> None:
    if cmd.amount.currency != order["currency"]:
        raise InvalidArgument(
            f"refunded_amount is in {cmd.amount.currency} but the order is in {order['currency']}",
            field="refunded_amount.currency_code",
        )
    left = int(order["base"]) - int(order["refunded"])
    if cmd.amount.minor > left:
        raise FailedPrecondition(
            f"refund of {cmd.amount.minor} is above what is left of order {cmd.order_id!r} "
            f"({left} of its net merchandise amount {order['base']})"
        )


async def refund_order(svc: WalletService, cmd: RefundOrder) -> RefundResult:
    async with svc.db.read() as conn:
        prior = await _refund_row(conn, cmd.merchant_id, cmd.refund_id)
        order = await _award_row(conn, cmd.merchant_id, "order", cmd.order_id)
    if prior is not None:
        return _refund_replay(prior, cmd.fingerprint)
    if order is None:
        raise NotFound(f"order {cmd.order_id!r} was never awarded by this wallet")
    _check_refund(order, cmd)
    reversal = await _rules(svc).reverse_order(cmd.merchant_id, cmd.order_id, cmd.refund_id, cmd.amount)
    async with svc.customer(cmd.merchant_id, order["customer_id"]) as book:
        prior = await _refund_row(book.conn, cmd.merchant_id, cmd.refund_id)
        if prior is not None:
            return _refund_replay(prior, cmd.fingerprint)
        order = await _award_row(book.conn, cmd.merchant_id, "order", cmd.order_id)
        assert order is not None
        _check_refund(order, cmd)
        cur, before = order["currency"], int(order["refunded"])
        after = before + cmd.amount.minor
        returned = await ops.return_credit(book, cmd.order_id, cur, cmd.refund_id, before, after, int(order["base"]))
        taken, debt = await ops.take_back(book, cmd.order_id, reversal.currency, cmd.refund_id, reversal.total)
        if reversal.currency != cur:  # rules answered in another currency: report in the order's
            taken, debt = 0, 0
        await book.conn.execute(
            update(t.awards)
            .where(A.merchant_id == cmd.merchant_id, A.customer_id == order["customer_id"], A.kind == "order",
                   A.source_id == cmd.order_id)
            .values(refunded=after, credit_returned=int(order["credit_returned"]) + returned)
        )
        await book.conn.execute(insert(t.refunds).values(
            merchant_id=cmd.merchant_id, refund_id=cmd.refund_id, order_id=cmd.order_id,
            customer_id=order["customer_id"], fingerprint=cmd.fingerprint, currency=cur,
            refunded_amount=cmd.amount.minor, credit_returned=returned, cashback_reversed=taken, debt=debt,
            created_at=book.now,
        ))
    return RefundResult(Money(cur, returned), Money(cur, taken), Money(cur, debt))
