"""Partner redemptions: a checkout at one coalition member (the redeemer) spends
credit the same customer id holds at other members (the issuers).

Every ledger transaction still touches one customer of one merchant. A
partner redemption is one ordinary hold per issuer whose credit it took (the
redeemer's own first, then partners' by earliest expiry), each on its own
customer's sub-ledger and lots, linked under one redemption id, which is the
hold id the client sees. A capture spends the parts in that order; each
partner part's capture moves held credit into the issuer's
`settlement:payable` account, and a balanced twin on the redeemer's
sub-ledger moves `settlement:receivable` into `merchant:redeemed`: a
settlement row records the pair. A refund at the redeemer gives partner
credit back to the issuer's lots in the refund's proportion and reverses the
settlement the same way.

A partner part's hold carries the order reference "partner:<redemption id>",
never the redeemer's order id, so a refund of the issuer's own order with the
same id never touches it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cashback_kit.errors import InsufficientCredit
from cashback_kit.money import Money
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.ledger import (
    Account,
    EventType,
    HoldStatus,
    TxType,
    proportional_return,
    split_by_weights,
    take_from_lots,
)
from cashback_services.wallet.domain.model import Hold, new_id
from cashback_services.wallet.domain.orders import AwardRecord

PART_PREFIX = "partner:"


def part_order_ref(redemption_id: str) -> str:
    return f"{PART_PREFIX}{redemption_id}"


def is_part(hold: Hold) -> bool:
    """A partner redemption's part: captured and voided only through its redemption,
    so that what it spends is always settled."""
    return hold.order_id.startswith(PART_PREFIX)


@dataclass(frozen=True)
class Part:
    seq: int
    issuer: str  # merchant_id whose customer's credit this part holds
    hold_id: str
    amount: int


@dataclass(frozen=True)
class Redemption:
    redemption_id: str
    coalition_id: str
    merchant_id: str  # the redeemer
    customer_id: str
    order_id: str
    currency: str
    amount: int
    expires_at: datetime
    created_at: datetime
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class PartView:
    issuer: str
    amount: int
    captured: int


@dataclass(frozen=True)
class Settlement:
    """What `issuer` owes `redeemer` because of one capture (> 0) or refund (< 0)."""

    settlement_id: str
    coalition_id: str
    redemption_id: str
    issuer: str
    redeemer: str
    customer_id: str
    currency: str
    amount: int
    refund_id: str | None
    payable_transaction_id: str
    receivable_transaction_id: str
    created_at: datetime


Customers = dict[str, Customer]  # merchant_id -> the customer's aggregate at that merchant


def authorize(redeemer: Customer, partners: list[Customer], coalition_id: str, order_id: str, currency: str,
              amount: int, ttl: timedelta) -> Redemption:
    """Hold `amount`: the redeemer's own credit first, then partners' earliest
    expiry first. Refuses (changing nothing) when all of it is not enough."""
    own = sum(lot.remaining for lot in redeemer.spendable(currency))
    partner_lots = {lot.lot_id: p for p in partners for lot in p.spendable(currency)}
    pool = [lot for p in partners for lot in p.spendable(currency)]
    have = own + sum(lot.remaining for lot in pool)
    if have < amount:
        raise InsufficientCredit(f"not enough available credit here and at partners: {Money(currency, have)} "
                                 f"available, {Money(currency, amount)} asked")
    redemption_id = new_id("hold")
    parts: list[Part] = []
    if own:
        hold = redeemer.authorize(order_id, currency, min(own, amount), ttl)
        parts.append(Part(0, redeemer.merchant_id, hold.hold_id, hold.amount))
    if amount > own:
        # The lots taken from one partner are a prefix of its own spend order, so its
        # ordinary authorize takes exactly them; parts follow the first lot each took.
        per_partner: dict[str, int] = {}
        for lot_id, part in take_from_lots(pool, amount - own):
            issuer = partner_lots[lot_id].merchant_id
            per_partner[issuer] = per_partner.get(issuer, 0) + part
        by_merchant = {p.merchant_id: p for p in partners}
        for issuer, part_amount in per_partner.items():
            hold = by_merchant[issuer].authorize(part_order_ref(redemption_id), currency, part_amount, ttl)
            parts.append(Part(len(parts), issuer, hold.hold_id, part_amount))
    now = redeemer.now
    return Redemption(redemption_id, coalition_id, redeemer.merchant_id, redeemer.customer_id, order_id, currency,
                      amount, now + ttl, now, tuple(parts))


def _holds(r: Redemption, customers: Customers) -> list[tuple[Part, Hold]]:
    return [(p, customers[p.issuer].holds[p.hold_id]) for p in sorted(r.parts, key=lambda p: p.seq)]


def view(r: Redemption, customers: Customers) -> tuple[Hold, tuple[PartView, ...]]:
    """The redemption as one hold (its parts move together) and what each part holds."""
    return view_of(r, [h for _, h in _holds(r, customers)])


def view_of(r: Redemption, part_holds: list[Hold]) -> tuple[Hold, tuple[PartView, ...]]:
    """`view` from the parts' holds, in part order (a replay reads them without loading lots)."""
    holds = list(zip(sorted(r.parts, key=lambda p: p.seq), part_holds, strict=True))
    statuses = {h.status for _, h in holds}
    if statuses == {HoldStatus.ACTIVE.value}:
        status = HoldStatus.ACTIVE.value
    elif HoldStatus.CAPTURED.value in statuses:
        status = HoldStatus.CAPTURED.value
    else:
        status = holds[0][1].status
    closed = [h.closed_at for _, h in holds if h.closed_at is not None]
    hold = Hold(r.redemption_id, r.order_id, r.currency, r.amount, r.expires_at, r.created_at, status,
                sum(h.captured for _, h in holds), max(closed) if closed else None)
    return hold, tuple(PartView(p.issuer, p.amount, h.captured) for p, h in holds)


def capture(r: Redemption, customers: Customers, currency: str | None, minor: int | None) -> list[Settlement]:
    """Capture up to the redemption's amount, part by part in order (the rest is
    released), recording what each issuer now owes the redeemer."""
    whole, _ = view(r, customers)
    want = whole.capture_amount(currency, minor)
    if want is None:
        return []  # a replay of the capture
    redeemer = customers[r.merchant_id]
    out = []
    left = want
    for part, hold in _holds(r, customers):
        cap = min(part.amount, left)
        left -= cap
        if part.issuer == r.merchant_id:
            redeemer.capture(part.hold_id, None, cap)
            continue
        issuer = customers[part.issuer]
        for alloc, taken in hold.close(cap, HoldStatus.CAPTURED, issuer.now):
            lot = issuer.lots[alloc.lot_id]
            lot.settle_hold(alloc.amount, taken)
            issuer.lot_changed(lot)
        issuer.hold_changed(hold)
        refs = {"order_id": hold.order_id, "hold_id": hold.hold_id}
        released = hold.amount - cap
        tx = issuer.post(TxType.CAPTURE if cap else TxType.RELEASE, r.currency,
                         {Account.HELD: -hold.amount, Account.PAYABLE: cap, Account.AVAILABLE: released}, **refs)
        if released:
            issuer.emit(EventType.RELEASED, r.currency, released, transaction_id=tx, **refs)
        if cap:
            issuer.emit(EventType.PARTNER_REDEEMED, r.currency, cap, transaction_id=tx, **refs)
            out.append(_settle(r, issuer, redeemer, cap, tx, None))
    return out


def void(r: Redemption, customers: Customers) -> None:
    whole, _ = view(r, customers)
    if whole.voidable():
        for part in r.parts:
            customers[part.issuer].void(part.hold_id)


def refund(redemptions: list[Redemption], customers: Customers, order: AwardRecord, refund_id: str,
           minor: int) -> tuple[int, list[Settlement]]:
    """Give partner credit back for a refund of `minor` of the redeemer's order:
    per partner part, its captured credit in the refund's proportion (on the
    cumulative refunded amount, like the redeemer's own credit), to the lots it
    came from; the settlement reverses by as much. Returns (given back, settlements)."""
    given, out = 0, []
    after = order.refunded + minor
    for r in redemptions:
        if r.currency != order.currency:
            continue  # a coalition's credit refunds only orders in its currency
        redeemer = customers[r.merchant_id]
        for part in sorted(r.parts, key=lambda p: p.seq):
            if part.issuer == r.merchant_id:
                continue  # the redeemer's own credit: orders.refund gives it back like any
            issuer = customers[part.issuer]
            hold = issuer.holds[part.hold_id]
            if hold.status != HoldStatus.CAPTURED.value:
                continue
            allocs = [a for a in sorted(hold.allocations, key=lambda a: a.seq) if a.captured > a.returned]
            weights = [a.captured - a.returned for a in allocs]
            give = min(proportional_return(hold.captured, order.refunded, after, order.base), sum(weights))
            if give <= 0:
                continue
            for alloc, share in zip(allocs, split_by_weights(give, weights), strict=True):
                if share:
                    alloc.returned += share
                    lot = issuer.lots[alloc.lot_id]
                    lot.give_back(share)
                    issuer.lot_changed(lot)
            issuer.hold_changed(hold)
            tx = issuer.post(TxType.REFUND, r.currency, {Account.PAYABLE: -give, Account.AVAILABLE: give},
                             order_id=hold.order_id, refund_id=refund_id)
            issuer.emit(EventType.PARTNER_REFUNDED, r.currency, give, transaction_id=tx, order_id=hold.order_id,
                        hold_id=hold.hold_id)
            out.append(_settle(r, issuer, redeemer, -give, tx, refund_id))
            given += give
    return given, out


def _settle(r: Redemption, issuer: Customer, redeemer: Customer, amount: int, payable_tx: str,
            refund_id: str | None) -> Settlement:
    """The redeemer's twin of the issuer's transaction: receivable against redeemed credit."""
    tx_type = TxType.REFUND if amount < 0 else TxType.CAPTURE
    tx = redeemer.post(tx_type, r.currency, {Account.RECEIVABLE: -amount, Account.REDEEMED: amount},
                       order_id=r.order_id, hold_id=r.redemption_id, refund_id=refund_id)
    redeemer.emit(EventType.SETTLEMENT, r.currency, amount, transaction_id=tx, order_id=r.order_id,
                  hold_id=r.redemption_id)
    return Settlement(new_id("st"), r.coalition_id, r.redemption_id, issuer.merchant_id, redeemer.merchant_id,
                      r.customer_id, r.currency, amount, refund_id, payable_tx, tx, redeemer.now)
