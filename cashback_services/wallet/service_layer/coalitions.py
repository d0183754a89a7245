"""Coalitions (CreateCoalition, JoinCoalition, GetCoalition, GetSettlement) and
partner redemptions: AuthorizeRedemption with use_partner_credit, and the
capture, void and refund of one (domain/partner.py decides).

A partner write locks every customer it touches -- the same customer id at the
redeemer and at each issuer -- with ONE wallet_load, which locks in (merchant_id,
customer_id) order: two partner checkouts for one customer at two members lock
the same rows in the same order, so they wait for each other and never deadlock.
The rows that link a redemption's parts and the settlement rows are written in
the same transaction as the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from cashback_kit.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.pgtx import Tx, transaction
from cashback_services.wallet.adapters import coalitions as repo
from cashback_services.wallet.adapters.repository import Key, State, Want, load, write
from cashback_services.wallet.domain import orders, partner
from cashback_services.wallet.domain.coalitions import Coalition, SettlementLine, net_lines, propose
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.model import Hold
from cashback_services.wallet.domain.orders import RefundRecord, Reversed
from cashback_services.wallet.domain.partner import PartView, Redemption
from cashback_services.wallet.service_layer.commands import Authorize, Capture, RefundOrder, Void
from cashback_services.wallet.service_layer.keyed_writes import keyed, run_keyed
from cashback_services.wallet.service_layer.write_path import WritePath


@dataclass(frozen=True)
class PartnerHold:
    """A partner redemption as the client sees it: one hold, and what each issuer's part holds."""

    merchant_id: str
    customer_id: str
    hold: Hold
    parts: tuple[PartView, ...]


# -- membership --------------------------------------------------------------------------


async def create(svc: WritePath, proposer: str, coalition_id: str, name: str, member_ids: Iterable[str],
                 currency: str) -> Coalition:
    new = propose(coalition_id, name, currency, proposer, member_ids, svc.clock())
    async with transaction(svc.db) as tx:
        return await repo.create(tx, new)


async def join(svc: WritePath, coalition_id: str, merchant_id: str) -> Coalition:
    async with transaction(svc.db) as tx:
        current = _found(await repo.locked(tx, coalition_id), coalition_id, merchant_id)
        joined = current.join(merchant_id, svc.clock())
        if joined != current:
            await repo.save_join(tx, joined, merchant_id)
    return joined


async def get(svc: WritePath, coalition_id: str, merchant_id: str) -> Coalition:
    async with transaction(svc.db) as tx:
        return _found(await repo.coalition(tx, coalition_id), coalition_id, merchant_id)


async def settlement(svc: WritePath, coalition_id: str, merchant_id: str, start: datetime,
                     end: datetime) -> tuple[Coalition, list[SettlementLine]]:
    async with transaction(svc.db) as tx:
        c = _found(await repo.coalition(tx, coalition_id), coalition_id, merchant_id)
        return c, net_lines(await repo.flows(tx, coalition_id, start, end))


def _found(c: Coalition | None, coalition_id: str, merchant_id: str) -> Coalition:
    if c is None:
        raise NotFound(f"coalition {coalition_id!r} not found", reason="COALITION_NOT_FOUND")
    return c.visible_to(merchant_id)


# -- partner redemptions ------------------------------------------------------------------


def _customers(state: State, customer_id: str) -> dict[str, Customer]:
    for c in state.customers.values():
        c.release_due_holds()
    return {m: c for (m, cid), c in state.customers.items() if cid == customer_id}


def _result(r: Redemption, part_holds: list[Hold]) -> PartnerHold:
    hold, parts = partner.view_of(r, part_holds)
    return PartnerHold(r.merchant_id, r.customer_id, hold, parts)


def _part_holds(r: Redemption, customers: dict[str, Customer]) -> list[Hold]:
    return [customers[p.issuer].holds[p.hold_id] for p in sorted(r.parts, key=lambda p: p.seq)]


async def authorize(svc: WritePath, cmd: Authorize) -> PartnerHold:
    return await run_keyed(lambda: _authorize_once(svc, cmd))


async def _authorize_once(svc: WritePath, cmd: Authorize) -> PartnerHold | DomainError:
    key = (cmd.merchant_id, "authorize", cmd.idempotency_key)
    currency = cmd.amount.currency
    async with transaction(svc.db) as tx:
        found = await repo.partners(tx, cmd.merchant_id, cmd.customer_id)
        if found is None or not found.active:
            raise FailedPrecondition(f"merchant {cmd.merchant_id!r} is not in an active coalition",
                                     reason="NO_ACTIVE_COALITION")
        if currency != found.currency:
            raise InvalidArgument(f"amount is in {currency} but coalition {found.coalition_id!r} uses "
                                  f"{found.currency}", field="amount.currency_code", reason="CURRENCY_MISMATCH")
        keys = tuple((m, cmd.customer_id) for m in (cmd.merchant_id, *found.merchant_ids))
        state = await load(tx, svc.clock(), Want(customers=keys, spend=(currency,), idem=(key,)))
        customers = _customers(state, cmd.customer_id)
        redeemer = customers[cmd.merchant_id]
        stored: dict[str, tuple[Redemption, list[Hold]]] = {}
        prior = state.outcomes.get(key)
        if prior is not None and prior.result_id:
            earlier = await repo.redemption(tx, cmd.merchant_id, prior.result_id)
            if earlier is not None:
                stored[prior.result_id] = earlier
        others = [customers[m] for m in found.merchant_ids]
        result = keyed(state, key, redeemer, cmd.fingerprint, cmd.idempotency_key,
                       lambda: partner.authorize(redeemer, others, found.coalition_id, cmd.order_id, currency,
                                                 cmd.amount.minor, cmd.ttl),
                       lambda r: r.redemption_id, lambda rid: stored[rid][0])
        await write(tx, state)
        fresh = isinstance(result, Redemption) and result.redemption_id not in stored
        if fresh:
            assert isinstance(result, Redemption)
            await repo.insert_redemption(tx, result)
    svc.committed(state)
    if not isinstance(result, Redemption):
        return result
    return _result(result, _part_holds(result, customers) if fresh else stored[result.redemption_id][1])


async def _locked_redemption(svc: WritePath, tx: Tx, merchant_id: str,
                             redemption_id: str) -> tuple[Redemption, State, dict[str, Customer]] | None:
    """The redemption and every customer it touches, locked and loaded (None: no such redemption)."""
    found = await repo.redemption(tx, merchant_id, redemption_id)
    if found is None:
        return None
    r = found[0]
    keys = sorted({(p.issuer, r.customer_id) for p in r.parts} | {(r.merchant_id, r.customer_id)})
    state = await load(tx, svc.clock(), Want(customers=tuple(keys), holds=tuple((p.issuer, p.hold_id)
                                                                               for p in r.parts)))
    return r, state, _customers(state, r.customer_id)


async def capture(svc: WritePath, cmd: Capture) -> PartnerHold | None:
    """Capture a partner redemption; None when `cmd.hold_id` is not one."""
    async with transaction(svc.db) as tx:
        loaded = await _locked_redemption(svc, tx, cmd.merchant_id, cmd.hold_id)
        if loaded is None:
            return None
        r, state, customers = loaded
        amount = cmd.amount
        settled = partner.capture(r, customers, amount.currency if amount else None, amount.minor if amount else None)
        await write(tx, state)
        await repo.insert_settlements(tx, settled)
    svc.committed(state)
    return _result(r, _part_holds(r, customers))


async def void(svc: WritePath, cmd: Void) -> PartnerHold | None:
    """Void a partner redemption (every part released); None when `cmd.hold_id` is not one."""
    async with transaction(svc.db) as tx:
        loaded = await _locked_redemption(svc, tx, cmd.merchant_id, cmd.hold_id)
        if loaded is None:
            return None
        r, state, customers = loaded
        partner.void(r, customers)
        await write(tx, state)
    svc.committed(state)
    return _result(r, _part_holds(r, customers))


async def refund(svc: WritePath, cmd: RefundOrder, reversal: Reversed, customer_id: str) -> RefundRecord:
    """RefundOrder of an order partner credit paid for: the redeemer's own part as
    any refund (orders.refund), and each partner part in the same proportion."""
    award_key = (cmd.merchant_id, "order", cmd.order_id)
    async with transaction(svc.db) as tx:
        redemptions = [r for r in await repo.redemptions_of_order(tx, cmd.merchant_id, cmd.order_id)
                       if r.customer_id == customer_id]
        keys: set[Key] = {(cmd.merchant_id, customer_id)} | {(p.issuer, r.customer_id) for r in redemptions
                                                             for p in r.parts}
        parts = tuple((p.issuer, p.hold_id) for r in redemptions for p in r.parts)
        now = svc.clock()
        # All customers locked at once, in key order; then the redeemer's order as any refund loads it
        # (its row is already ours, so the second load waits for nothing).
        partners = await load(tx, now, Want(customers=tuple(sorted(keys)), holds=parts))
        state = await load(tx, now, Want(order=(cmd.merchant_id, cmd.order_id), refund=(cmd.merchant_id, cmd.refund_id),
                                         awards=(award_key,)))
        state.customers.update({k: c for k, c in partners.customers.items() if k not in state.customers})
        customers = _customers(state, customer_id)
        prior = state.refunds.get((cmd.merchant_id, cmd.refund_id))
        if prior is not None:  # a concurrent twin committed it while we asked rules
            return prior
        order = state.awards[award_key]
        updated, record = orders.refund(customers[cmd.merchant_id], order, cmd.refund_id, cmd.fingerprint,
                                        cmd.amount.minor, reversal.currency, reversal.total)
        given, settled = partner.refund(redemptions, customers, order, cmd.refund_id, cmd.amount.minor)
        state.changed_awards.append(replace(updated, credit_returned=updated.credit_returned + given))
        record = replace(record, credit_returned=record.credit_returned + given)
        state.new_refunds.append(record)
        await write(tx, state)
        await repo.insert_settlements(tx, settled)
    svc.committed(state)
    return record
