"""AwardOrder, AwardEvent and RefundOrder: the handlers that talk to rules.

The call to rules happens before the wallet's transaction and outside any
lock (never hold a row lock across a network call). That is safe because
rules is idempotent by the same key (order_id, event_id, refund_id): a retry
gets the same answer from rules and the wallet credits once, guarded by its
own unique award/refund rows, read under the customer's lock. So an award
asks rules first and does not read beforehand (a replay costs rules one
idempotent answer, and a checkout order one round trip less). A refund is
checked first (one read: a replay, an order this wallet never awarded, more
than is left of it), so rules never reverses what the wallet would refuse.
When rules is down, an award already made answers its retry from the wallet's
own row (one read, only on that path); otherwise nothing has been written and
the caller gets UNAVAILABLE."""

from __future__ import annotations

from datetime import datetime

from cashback_kit.errors import NotFound, Unavailable
from cashback_kit.idempotency import check_same
from cashback_kit.money import Money
from cashback_services.wallet.adapters import customer_reads as reads
from cashback_services.wallet.adapters.repository import State, Want
from cashback_services.wallet.domain import orders
from cashback_services.wallet.domain.orders import AwardRecord, RefundRecord, Scored
from cashback_services.wallet.service_layer import coalitions
from cashback_services.wallet.service_layer.batch import Call
from cashback_services.wallet.service_layer.commands import (
    AwardEvent,
    AwardOrder,
    AwardResult,
    RefundOrder,
    RefundResult,
    RulesPort,
)
from cashback_services.wallet.service_layer.write_path import WritePath


def _rules(svc: WritePath) -> RulesPort:
    if svc.rules is None:
        raise RuntimeError("the wallet was started without a rules client")
    return svc.rules


def _replay(row: AwardRecord, fingerprint: str) -> AwardResult:
    what = "order_id" if row.kind == "order" else "event_id"
    check_same(row.fingerprint, fingerprint, f"{what} {row.source_id!r}")
    return AwardResult(row.score, Money(row.currency, row.credited), Money(row.currency, row.debt_repaid))


async def _award(svc: WritePath, merchant_id: str, customer_id: str, kind: str, source_id: str,
                 fingerprint: str, scored: Scored, base: int, placed_at: datetime) -> AwardResult:
    """Credit one lot per award, unless this order/event was credited already."""
    key = (merchant_id, kind, source_id)

    def run(state: State) -> AwardResult:
        existing = state.awards.get(key)
        if existing is not None:  # a retry, or a concurrent twin got here first
            return _replay(existing, fingerprint)
        record = orders.award(state.customers[(merchant_id, customer_id)], kind, source_id, fingerprint,
                              scored.awards, scored.currency, scored.blob, base, placed_at)
        state.awards[key] = record
        state.new_awards.append(record)
        return _replay(record, fingerprint)

    result: AwardResult = await svc.write(Call(Want(customers=((merchant_id, customer_id),), awards=(key,)), run))
    return result


async def _already_awarded(svc: WritePath, merchant_id: str, kind: str, source_id: str, fingerprint: str,
                           down: Unavailable) -> AwardResult:
    """Rules is down: a retry of an award the wallet already made still gets its answer."""
    row = await reads.award(svc.db, merchant_id, kind, source_id)
    if row is None:
        raise down
    return _replay(row, fingerprint)


async def award_order(svc: WritePath, cmd: AwardOrder) -> AwardResult:
    try:
        scored = await _rules(svc).score_order(cmd.payload)
    except Unavailable as down:
        return await _already_awarded(svc, cmd.merchant_id, "order", cmd.order_id, cmd.fingerprint, down)
    return await _award(svc, cmd.merchant_id, cmd.customer_id, "order", cmd.order_id, cmd.fingerprint, scored,
                        cmd.base, cmd.placed_at)


async def award_event(svc: WritePath, cmd: AwardEvent) -> AwardResult:
    try:
        scored = await _rules(svc).score_event(cmd.payload)
    except Unavailable as down:
        return await _already_awarded(svc, cmd.merchant_id, "event", cmd.event_id, cmd.fingerprint, down)
    return await _award(svc, cmd.merchant_id, cmd.customer_id, "event", cmd.event_id, cmd.fingerprint, scored, 0,
                        cmd.occurred_at)


def _refund_replay(row: RefundRecord, fingerprint: str) -> RefundResult:
    check_same(row.fingerprint, fingerprint, f"refund_id {row.refund_id!r}")
    cur = row.currency
    return RefundResult(Money(cur, row.credit_returned), Money(cur, row.cashback_reversed), Money(cur, row.debt))


async def refund_order(svc: WritePath, cmd: RefundOrder) -> RefundResult:
    prior, order, partnered = await reads.refund_and_order(svc.db, cmd.merchant_id, cmd.refund_id, cmd.order_id)
    if prior is not None:
        return _refund_replay(prior, cmd.fingerprint)
    if order is None:
        raise NotFound(f"order {cmd.order_id!r} was never awarded by this wallet", reason="ORDER_NOT_AWARDED")
    orders.check_refund(order, cmd.amount.currency, cmd.amount.minor)
    reversal = await _rules(svc).reverse_order(cmd.merchant_id, cmd.order_id, cmd.refund_id, cmd.amount)
    if partnered:  # partner credit paid for it: those customers are locked too
        return _refund_replay(await coalitions.refund(svc, cmd, reversal, order.customer_id), cmd.fingerprint)
    key = (cmd.merchant_id, "order", cmd.order_id)
    want = Want(order=(cmd.merchant_id, cmd.order_id), refund=(cmd.merchant_id, cmd.refund_id), awards=(key,))
    async with svc.locked(want) as state:
        prior = state.refunds.get((cmd.merchant_id, cmd.refund_id))
        if prior is not None:  # a concurrent twin committed it while we asked rules
            return _refund_replay(prior, cmd.fingerprint)
        updated, record = orders.refund(state.only(), state.awards[key], cmd.refund_id, cmd.fingerprint,
                                        cmd.amount.minor, reversal.currency, reversal.total)
        state.changed_awards.append(updated)
        state.new_refunds.append(record)
    return _refund_replay(record, cmd.fingerprint)
