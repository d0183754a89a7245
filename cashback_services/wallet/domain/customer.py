"""The customer, the wallet's aggregate: every ledger write touches one
customer, decided here in plain Python on state loaded under the customer's
lock. Each operation validates before it changes anything, and records what
it changed (lots, holds, balances, transactions, events, records) for the
repository to write in one statement.

Time-driven changes of lots (maturing, expiry) are not here: they are set-based
SQL, run when the aggregate is loaded and again after the write when
`settle_after` says credit landed on a lot that is already due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cashback_kit.amounts import check_balance_room
from cashback_kit.errors import InvalidArgument
from cashback_services.wallet.domain.ledger import (
    Account,
    EventType,
    HoldStatus,
    LotStatus,
    TxType,
    take_from_lots,
)
from cashback_services.wallet.domain.model import (
    Allocation,
    Balance,
    Event,
    Hold,
    Lot,
    Transaction,
    new_id,
)


@dataclass(frozen=True)
class AwardLine:
    campaign_id: str
    currency: str
    amount: int
    available_at: datetime
    expires_at: datetime | None


@dataclass
class Customer:
    merchant_id: str
    customer_id: str
    now: datetime
    last_order_at: datetime | None = None
    first_earned_at: datetime | None = None
    first_redeemed_at: datetime | None = None
    balances: dict[str, Balance] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    # What changed, for the repository.
    new_lots: list[str] = field(default_factory=list)
    changed_lots: set[str] = field(default_factory=set)
    new_holds: list[str] = field(default_factory=list)
    changed_holds: set[str] = field(default_factory=set)
    changed_balances: set[str] = field(default_factory=set)
    transactions: list[Transaction] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    touched: bool = False  # last_order_at / first_* changed
    settle_after: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.merchant_id, self.customer_id

    def changes(self) -> int:
        """A count that grows with every change (a refused call must leave it as it was)."""
        return (len(self.new_lots) + len(self.changed_lots) + len(self.new_holds) + len(self.changed_holds)
                + len(self.transactions) + len(self.events) + int(self.touched))

    # -- postings --------------------------------------------------------------------

    def balance(self, currency: str) -> Balance:
        return self.balances.setdefault(currency, Balance(currency))

    def post(self, tx_type: TxType, currency: str, postings: dict[Account, int], **refs: str | None) -> str:
        tx = Transaction.of(tx_type, currency, postings, self.now, **refs)
        self.balance(currency).post({Account(e.account): e.amount for e in tx.entries})
        self.changed_balances.add(currency)
        self.transactions.append(tx)
        return tx.transaction_id

    def emit(self, type_: EventType, currency: str, amount: int, **refs: object) -> None:
        self.events.append(Event.of(type_, currency, amount, self.now, **refs))

    def lot_changed(self, lot: Lot) -> None:
        if lot.lot_id not in self.new_lots:
            self.changed_lots.add(lot.lot_id)
        if lot.past_expiry(self.now) and lot.remaining > 0:
            self.settle_after = True  # credit on a lot past expiry expires with this write

    def hold_changed(self, hold: Hold) -> None:
        if hold.hold_id not in self.new_holds:
            self.changed_holds.add(hold.hold_id)

    def _new_lot(self, currency: str, source: str, amount: int, status: LotStatus, available_at: datetime,
                 expires_at: datetime | None, order_id: str | None = None,
                 campaign_id: str | None = None) -> Lot:
        lot = Lot(new_id("lot"), currency, source, order_id, campaign_id, amount, status.value, available_at,
                  expires_at, self.now, remaining=amount)
        self.lots[lot.lot_id] = lot
        self.new_lots.append(lot.lot_id)
        if (status is LotStatus.PENDING and available_at <= self.now) or lot.past_expiry(self.now):
            self.settle_after = True  # due already: it matures (and expires) with this write
        return lot

    def new_available_lot(self, currency: str, source: str, amount: int, expires_at: datetime | None) -> Lot:
        """Credit (or points) that can be spent at once: a transfer's or a conversion's."""
        return self._new_lot(currency, source, amount, LotStatus.AVAILABLE, self.now, expires_at)

    def _touch(self, **values: datetime) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.touched = True

    def _room(self, currency: str, credit: int) -> None:
        """BALANCE_LIMIT before anything changes when a credit would overflow a balance column."""
        b = self.balance(currency)
        check_balance_room(max(b.available, b.pending, b.held), credit, currency)

    def spendable(self, currency: str) -> list[Lot]:
        return [lot for lot in self.lots.values() if lot.spendable(currency, self.now)]

    # -- holds -----------------------------------------------------------------------

    def release_due_holds(self) -> None:
        """Holds past their TTL release their credit before anything else happens."""
        for hold in sorted(self.holds.values(), key=lambda h: (h.created_at, h.hold_id)):
            if hold.due(self.now):
                self._close(hold, 0, HoldStatus.EXPIRED)

    def authorize(self, order_id: str, currency: str, amount: int, ttl: timedelta) -> Hold:
        taken = take_from_lots(self.spendable(currency), amount)  # InsufficientCredit: nothing changed
        hold = Hold(new_id("hold"), order_id, currency, amount, self.now + ttl, self.now)
        for seq, (lot_id, part) in enumerate(taken):
            self.lots[lot_id].hold(part)
            self.lot_changed(self.lots[lot_id])
            hold.allocations.append(Allocation(lot_id, seq, part))
        self.holds[hold.hold_id] = hold
        self.new_holds.append(hold.hold_id)
        tx = self.post(TxType.HOLD, currency, {Account.AVAILABLE: -amount, Account.HELD: amount},
                        order_id=order_id, hold_id=hold.hold_id)
        self.emit(EventType.HELD, currency, amount, transaction_id=tx, order_id=order_id, hold_id=hold.hold_id,
                    expires_at=hold.expires_at)
        return hold

    def capture(self, hold_id: str, currency: str | None, minor: int | None) -> Hold:
        hold = self.holds[hold_id]
        want = hold.capture_amount(currency, minor)
        if want is None:
            return hold  # a replay of the capture
        self._close(hold, want, HoldStatus.CAPTURED)
        self._touch(first_redeemed_at=self.first_redeemed_at or self.now,
                    last_order_at=max(self.last_order_at, self.now) if self.last_order_at else self.now)
        return hold

    def void(self, hold_id: str) -> Hold:
        hold = self.holds[hold_id]
        if hold.voidable():
            self._close(hold, 0, HoldStatus.VOIDED)
        return hold

    def _close(self, hold: Hold, captured: int, status: HoldStatus) -> None:
        for alloc, cap in hold.close(captured, status, self.now):
            lot = self.lots[alloc.lot_id]
            lot.settle_hold(alloc.amount, cap)
            self.lot_changed(lot)
        self.hold_changed(hold)
        released = hold.amount - captured
        tx = self.post(TxType.CAPTURE if captured else TxType.RELEASE, hold.currency,
                        {Account.HELD: -hold.amount, Account.REDEEMED: captured, Account.AVAILABLE: released},
                        order_id=hold.order_id, hold_id=hold.hold_id)
        refs = {"transaction_id": tx, "order_id": hold.order_id, "hold_id": hold.hold_id}
        if captured:
            self.emit(EventType.REDEEMED, hold.currency, captured, **refs)
        if released:
            self.emit(EventType.RELEASED, hold.currency, released, **refs)

    # -- adjustments -----------------------------------------------------------------

    def adjust(self, currency: str, amount: int, reason: str, expires_at: datetime | None) -> Transaction:
        if expires_at is not None and expires_at <= self.now:
            raise InvalidArgument("expires_at must be in the future", field="expires_at")
        if expires_at is not None and amount < 0:
            raise InvalidArgument("expires_at is only for credits", field="expires_at")
        self._room(currency, amount)
        lot_id = None
        if amount > 0:
            lot_id = self._new_lot(currency, "adjustment", amount, LotStatus.AVAILABLE, self.now, expires_at).lot_id
        else:
            for lid, part in take_from_lots(self.spendable(currency), -amount):
                self.lots[lid].debit(part)
                self.lot_changed(self.lots[lid])
        tx = self.post(TxType.ADJUSTMENT, currency, {Account.AVAILABLE: amount, Account.ADJUSTMENTS: -amount},
                        reason=reason)
        self.emit(EventType.ADJUSTED, currency, amount, transaction_id=tx, lot_id=lot_id, expires_at=expires_at)
        return self.transactions[-1]

    # -- awards ----------------------------------------------------------------------

    def credit_awards(self, lines: list[AwardLine], kind: str, source_id: str) -> tuple[int, int]:
        """Credit an order's (or event's) award lines of one currency, paying refund debt off
        first. Returns (credited, debt repaid).

        One AWARD transaction for them all -- the order's cashback is one business event:
        expense out, debt repaid, credit in -- and one lot per line, which keeps its campaign,
        its return window and its expiry (refunds and expiry work lot by lot). Debt takes the
        first lines first. A line still inside its return window is a pending lot, which matures
        later; a line usable at once (a campaign with no return window) is an available lot
        straight away, with the same events a lot maturing in the same write would give
        (credited, then available), without a pending lot and a MATURE transaction that would
        move it the same instant."""
        currency = lines[0].currency
        assert all(line.currency == currency for line in lines), "one currency per award transaction"
        total = sum(line.amount for line in lines)
        self._room(currency, total)
        debt = self.balance(currency).debt
        order_id = source_id if kind == "order" else None
        postings = {Account.EXPENSE: -total, Account.DEBT: 0, Account.PENDING: 0, Account.AVAILABLE: 0}
        credits: list[tuple[Lot, bool]] = []
        for line in lines:
            repaid = min(line.amount, debt)
            debt -= repaid
            postings[Account.DEBT] += repaid
            credited = line.amount - repaid
            if not credited:
                continue
            now_usable = line.available_at <= self.now
            status = LotStatus.AVAILABLE if now_usable else LotStatus.PENDING
            postings[Account.AVAILABLE if now_usable else Account.PENDING] += credited
            credits.append((self._new_lot(currency, kind, credited, status, line.available_at, line.expires_at,
                                          order_id, line.campaign_id), now_usable))
        tx = self.post(TxType.AWARD, currency, postings, order_id=order_id,
                       reason=None if kind == "order" else f"event {source_id}")
        repaid_total = postings[Account.DEBT]
        if repaid_total:  # debt is paid first, so say so first
            self.emit(EventType.DEBT_REPAID, currency, repaid_total, transaction_id=tx, order_id=order_id)
        for lot, now_usable in credits:
            refs = {"transaction_id": tx, "order_id": order_id, "lot_id": lot.lot_id,
                    "available_at": lot.available_at, "expires_at": lot.expires_at}
            self.emit(EventType.CREDITED, currency, lot.amount, **refs)
            if now_usable:
                self.emit(EventType.AVAILABLE, currency, lot.amount, **refs)
        return total - repaid_total, repaid_total

    def record_order(self, placed_at: datetime | None, earned: bool) -> None:
        values: dict[str, datetime] = {}
        if placed_at is not None:
            values["last_order_at"] = max(self.last_order_at, placed_at) if self.last_order_at else placed_at
        if earned and self.first_earned_at is None:
            values["first_earned_at"] = self.now
        if values:
            self._touch(**values)
