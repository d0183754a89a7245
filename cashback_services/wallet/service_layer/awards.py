"""AwardOrder, AwardEvent and RefundOrder: the handlers that talk to rules.

The call to rules happens outside any lock (never hold a row lock across a
network call). That is safe because rules is idempotent by the same key
(order_id, event_id, refund_id): a retry gets the same answer from rules and
the wallet credits once, guarded by its own unique award/refund rows, read
under the customer's lock. So an award asks rules first and does not read
beforehand (a replay costs rules one idempotent answer, and a checkout order
one round trip less). When rules is down, an award already made answers its
retry from the wallet's own row (one read, only on that path); otherwise
nothing has been written and the caller gets UNAVAILABLE.

A refund is checked first, so rules never reverses what the wallet would
refuse (a replay, an order this wallet never awarded, more than is left of
it), and that check is the decision's own load, with optimistic concurrency
(migration 0013): one statement in autocommit locks the order's owner for
that statement only, matures what fell due and loads the aggregate with the
version of what it read (its rows' versions); rules reverses; the domain
decides on that aggregate; one statement writes it if, under the lock, the
version is still that one. Two statements. If anything the decision read
changed in between (a capture, an award, a twin of this refund, the sweeper),
the write changes nothing and the refund is decided again on the locked path
(BEGIN, load, write, COMMIT) with the same reversal: rules is asked once either way."""

from __future__ import annotations

from datetime import datetime

from cashback_kit.errors import NotFound, Unavailable
from cashback_kit.idempotency import check_same
from cashback_kit.money import Money
from cashback_services.wallet.adapters import customer_reads as reads
from cashback_services.wallet.adapters.repository import State, Want, peek_order, write_if
from cashback_services.wallet.domain import orders
from cashback_services.wallet.domain.orders import AwardRecord, RefundRecord, Reversed, Scored
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


def _refund(state: State, cmd: RefundOrder, reversal: Reversed) -> RefundRecord:
    """The refund on the loaded aggregate (or its record, if a twin committed it first)."""
    prior = state.refunds.get((cmd.merchant_id, cmd.refund_id))
    if prior is not None:
        return prior
    updated, record = orders.refund(state.only(), state.awards[(cmd.merchant_id, "order", cmd.order_id)],
                                    cmd.refund_id, cmd.fingerprint, cmd.amount.minor, reversal.currency,
                                    reversal.total, reversal.points)
    state.changed_awards.append(updated)
    state.new_refunds.append(record)
    return record


async def refund_order(svc: WritePath, cmd: RefundOrder) -> RefundResult:
    key = (cmd.merchant_id, "order", cmd.order_id)
    want = Want(order=(cmd.merchant_id, cmd.order_id), refund=(cmd.merchant_id, cmd.refund_id), awards=(key,))
    peeked = await peek_order(svc.db, svc.clock(), want)
    state = peeked.state
    prior = state.refunds.get((cmd.merchant_id, cmd.refund_id))
    if prior is not None:
        return _refund_replay(prior, cmd.fingerprint)
    if state.missing is not None:
        raise NotFound(f"order {cmd.order_id!r} was never awarded by this wallet", reason="ORDER_NOT_AWARDED")
    orders.check_refund(state.awards[key], cmd.amount.currency, cmd.amount.minor)
    reversal = await _rules(svc).reverse_order(cmd.merchant_id, cmd.order_id, cmd.refund_id, cmd.amount)
    if peeked.partnered:  # partner credit paid for it: those customers are locked too
        return _refund_replay(await coalitions.refund(svc, cmd, reversal, state.awards[key].customer_id),
                              cmd.fingerprint)
    state.only().release_due_holds()  # as the locked path does first
    record = _refund(state, cmd, reversal)
    if await write_if(svc.db, peeked):
        svc.committed(state)
        return _refund_replay(record, cmd.fingerprint)
    # What the decision read changed while rules answered: decide again, under the lock.
    async with svc.locked(want) as state:
        record = _refund(state, cmd, reversal)
    return _refund_replay(record, cmd.fingerprint)
