"""The wallet's service layer: one handler per use case, commands in, domain
objects out. Every write has the same shape (repository.locked), alone or in a
write group (batch.py): BEGIN; one statement locks the customer and loads what
the use case needs; the domain decides; one statement writes every change;
COMMIT. Holds past their TTL are released first, in the same transaction, so
nothing is ever spent from an expired hold; lots mature in the load statement
and expire in the write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cashback_kit import audit
from cashback_kit.db import Database
from cashback_kit.errors import DomainError, InvalidArgument, NotFound
from cashback_kit.money import Money
from cashback_kit.pb import utcnow
from cashback_services.wallet.adapters import customer_reads as reads
from cashback_services.wallet.adapters import outbox, sweep, tables, timeline
from cashback_services.wallet.adapters import reads as reports
from cashback_services.wallet.adapters.repository import AuditRow, State, Want, locked
from cashback_services.wallet.domain.coalitions import Coalition, SettlementLine
from cashback_services.wallet.domain.customer import Customer
from cashback_services.wallet.domain.model import Hold, Transaction
from cashback_services.wallet.domain.partner import is_part
from cashback_services.wallet.metrics import ledger_committed
from cashback_services.wallet.service_layer import awards, coalitions, points, rewards, transfers
from cashback_services.wallet.service_layer.batch import Batcher, Call
from cashback_services.wallet.service_layer.commands import (
    Actor,
    Adjust,
    Authorize,
    AwardEvent,
    AwardOrder,
    AwardResult,
    Capture,
    RefundOrder,
    RefundResult,
    RulesPort,
    Void,
)
from cashback_services.wallet.service_layer.keyed_writes import keyed

Clock = Callable[[], datetime]
MAX_TIMELINE_DAYS = timeline.MAX_DAYS


@dataclass(frozen=True)
class WalletConfig:
    hold_ttl_default: timedelta = timedelta(minutes=15)
    hold_ttl_max: timedelta = timedelta(hours=24)
    sweep_interval: float = 30.0
    sweep_batch: int = 500
    # Most writes grouped into one database transaction; 0 or 1 = every write alone.
    write_batch: int = 256


@dataclass(frozen=True)
class HoldResult:
    merchant_id: str
    customer_id: str
    hold: Hold


@dataclass(frozen=True)
class Posted:
    merchant_id: str
    customer_id: str
    transaction: Transaction


class WalletService:
    def __init__(self, db: Database, rules: RulesPort | None = None, *, clock: Clock = utcnow,
                 config: WalletConfig | None = None) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self.config = config or WalletConfig()
        self._changed: asyncio.Event | None = None
        # The grouped write path; None runs every write alone.
        self.batcher: Batcher | None = (
            Batcher(db, clock, self.committed, self.config.write_batch) if self.config.write_batch > 1 else None)

    # -- plumbing ----------------------------------------------------------------------

    @asynccontextmanager
    async def locked(self, want: Want, now: datetime | None = None) -> AsyncIterator[State]:
        """One write on the aggregate path (see the module docstring)."""
        async with locked(self.db, now or self.clock(), want) as state:
            for customer in state.customers.values():
                customer.release_due_holds()
            yield state
        self.committed(state)

    def committed(self, state: State) -> None:
        ledger_committed([tx.type for c in state.customers.values() for tx in c.transactions])
        self.notify_changed()

    def notify_changed(self) -> None:
        """Wake the event streams of this process (others poll)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_change(self, seconds: float) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            pass

    async def write(self, call: Call) -> Any:
        """Run a write on the grouped path when it is on, else alone: the same
        aggregate path either way. A DomainError the call returns (a refusal
        that keeps its idempotency record) is raised after the commit."""
        if self.batcher is not None:
            return await self.batcher.submit(call)
        async with self.locked(call.want) as state:
            value = call.run(state)
        if isinstance(value, DomainError):
            raise value
        return value

    # -- holds -------------------------------------------------------------------------

    async def authorize(self, cmd: Authorize) -> HoldResult:
        if cmd.ttl > self.config.hold_ttl_max:
            raise InvalidArgument("hold_ttl is longer than 24 hours", field="hold_ttl")
        key = (cmd.merchant_id, "authorize", cmd.idempotency_key)

        def run(state: State) -> HoldResult | DomainError:
            customer = state.customers[(cmd.merchant_id, cmd.customer_id)]
            hold = keyed(state, key, customer, cmd.fingerprint, cmd.idempotency_key,
                         lambda: customer.authorize(cmd.order_id, cmd.amount.currency, cmd.amount.minor, cmd.ttl),
                         lambda h: h.hold_id, lambda hold_id: customer.holds[hold_id])
            return hold if isinstance(hold, DomainError) else HoldResult(cmd.merchant_id, cmd.customer_id, hold)

        want = Want(customers=((cmd.merchant_id, cmd.customer_id),), idem=(key,),
                    spend_upto=((cmd.merchant_id, cmd.customer_id, cmd.amount.currency, cmd.amount.minor),))
        result: HoldResult = await self.write(Call(want, run))
        return result

    async def authorize_partner(self, cmd: Authorize) -> coalitions.PartnerHold:
        """AuthorizeRedemption with use_partner_credit (service_layer/coalitions.py)."""
        if cmd.ttl > self.config.hold_ttl_max:
            raise InvalidArgument("hold_ttl is longer than 24 hours", field="hold_ttl")
        return await coalitions.authorize(self, cmd)

    async def capture(self, cmd: Capture) -> HoldResult | coalitions.PartnerHold:
        try:
            return await self._capture(cmd)
        except NotFound as exc:  # not a hold: a partner redemption's id, or nothing at all
            if exc.reason != "HOLD_NOT_FOUND" or (found := await coalitions.capture(self, cmd)) is None:
                raise
            return found

    async def void(self, cmd: Void) -> HoldResult | coalitions.PartnerHold:
        try:
            return await self._void(cmd)
        except NotFound as exc:
            if exc.reason != "HOLD_NOT_FOUND" or (found := await coalitions.void(self, cmd)) is None:
                raise
            return found

    async def _capture(self, cmd: Capture) -> HoldResult:
        amount = cmd.amount

        def run(state: State) -> HoldResult:
            customer = _owner(state, cmd.merchant_id, cmd.hold_id)
            hold = customer.capture(cmd.hold_id, amount.currency if amount else None, amount.minor if amount else None)
            return HoldResult(customer.merchant_id, customer.customer_id, hold)

        result: HoldResult = await self.write(Call(Want(holds=((cmd.merchant_id, cmd.hold_id),)), run))
        return result

    async def _void(self, cmd: Void) -> HoldResult:
        def run(state: State) -> HoldResult:
            customer = _owner(state, cmd.merchant_id, cmd.hold_id)
            return HoldResult(customer.merchant_id, customer.customer_id, customer.void(cmd.hold_id))

        result: HoldResult = await self.write(Call(Want(holds=((cmd.merchant_id, cmd.hold_id),)), run))
        return result

    # -- adjustments -------------------------------------------------------------------

    async def adjust(self, cmd: Adjust) -> Posted:
        key = (cmd.merchant_id, "adjust", cmd.idempotency_key)

        def run(state: State) -> Posted | DomainError:
            customer = state.customers[(cmd.merchant_id, cmd.customer_id)]
            fresh = key not in state.outcomes  # not a replay: the change is made now
            tx = keyed(state, key, customer, cmd.fingerprint, cmd.idempotency_key,
                       lambda: customer.adjust(cmd.amount.currency, cmd.amount.minor, cmd.reason, cmd.expires_at),
                       lambda t: t.transaction_id, lambda tx_id: state.transactions[tx_id], remember=state.transactions)
            if isinstance(tx, DomainError):
                return tx
            if fresh:
                state.audit.append(adjustment_audit(cmd, tx, state.now))
            return Posted(cmd.merchant_id, cmd.customer_id, tx)

        me = (cmd.merchant_id, cmd.customer_id)
        debit = ((*me, cmd.amount.currency, -cmd.amount.minor),) if cmd.amount.minor < 0 else ()
        want = Want(customers=(me,), spend_upto=debit, idem=(key,))
        result: Posted = await self.write(Call(want, run))
        return result

    # -- orders and events (they call rules first: awards.py) ---------------------------

    async def award_order(self, cmd: AwardOrder) -> AwardResult:
        return await awards.award_order(self, cmd)

    async def award_event(self, cmd: AwardEvent) -> AwardResult:
        return await awards.award_event(self, cmd)

    async def refund_order(self, cmd: RefundOrder) -> RefundResult:
        return await awards.refund_order(self, cmd)

    async def transfer_credit(self, cmd: transfers.TransferCredit) -> transfers.Transfer:
        return await transfers.transfer_credit(self, cmd)

    async def set_points_rate(self, merchant_id: str, rate: points.Rate) -> datetime:
        return await points.set_rate(self, merchant_id, rate)

    async def convert_credit(self, cmd: points.ConvertCredit) -> points.Conversion:
        return await points.convert_credit(self, cmd)

    async def set_transfer_policy(self, merchant_id: str, require_known_receiver: bool) -> datetime:
        return await transfers.set_policy(self, merchant_id, require_known_receiver)

    async def upsert_reward(self, reward: rewards.Reward) -> rewards.Reward:
        return await rewards.upsert_reward(self, reward)

    async def list_rewards(self, merchant_id: str, active_only: bool, size: int,
                           token: str) -> tuple[list[rewards.Reward], str]:
        return await rewards.list_rewards(self, merchant_id, active_only, size, token)

    async def redeem_reward(self, cmd: rewards.RedeemReward) -> rewards.Redemption:
        return await rewards.redeem_reward(self, cmd)
    # -- coalitions (service_layer/coalitions.py) -----------------------------------------

    async def create_coalition(self, proposer: str, coalition_id: str, name: str, member_ids: list[str],
                               currency: str) -> Coalition:
        return await coalitions.create(self, proposer, coalition_id, name, member_ids, currency)

    async def join_coalition(self, coalition_id: str, merchant_id: str) -> Coalition:
        return await coalitions.join(self, coalition_id, merchant_id)

    async def get_coalition(self, coalition_id: str, merchant_id: str) -> Coalition:
        return await coalitions.get(self, coalition_id, merchant_id)

    async def get_settlement(self, coalition_id: str, merchant_id: str, start: datetime,
                             end: datetime) -> tuple[Coalition, list[SettlementLine]]:
        return await coalitions.settlement(self, coalition_id, merchant_id, start, end)

    # -- reads -------------------------------------------------------------------------

    async def get_balance(self, merchant_id: str, customer_id: str, currency: str) -> reads.BalanceView:
        """Maintained row + the next expiry, in one read. If something fell due and
        the sweeper has not come by yet, settle it first and read again, so the
        answer is never stale."""
        now = self.clock()
        due, out = await reads.balance(self.db, merchant_id, customer_id, currency, now)
        if due:
            await self.settle(merchant_id, customer_id, now)
            _, out = await reads.balance(self.db, merchant_id, customer_id, currency, now)
        return out

    async def list_transactions(self, merchant_id: str, customer_id: str, page_size: int,
                                page_token: str) -> tuple[list[Transaction], str]:
        return await reads.transactions(self.db, merchant_id, customer_id, page_size, page_token)

    def events(self, after_cursor: int, merchant_id: str) -> AsyncIterator[dict[str, Any]]:
        """The outbox in commit order after the cursor, then new events as they commit."""
        return outbox.follow(self, after_cursor, merchant_id)

    async def list_expiring(self, merchant_id: str, before: datetime, after: datetime | None, page_size: int,
                            token: str) -> tuple[list[dict[str, Any]], str]:
        return await reports.list_expiring(self.db, merchant_id, self.clock(), before, after, page_size, token)

    async def list_balances(self, merchant_id: str, min_available: Money | None, inactive_since: datetime | None,
                            page_size: int, token: str) -> tuple[list[dict[str, Any]], str]:
        return await reports.list_balances(self.db, merchant_id, min_available, inactive_since, page_size, token)

    async def list_audit(self, merchant_id: str, page_size: int, token: str,
                         action: str) -> tuple[list[dict[str, Any]], str]:
        return await audit.list_page(self.db, tables.audit, merchant_id, page_size, token, action)

    async def program_stats(self, merchant_id: str, currency: str | None, start: datetime,
                            end: datetime) -> tuple[str, dict[str, Any]]:
        cur = currency or await reports.default_currency(self.db, merchant_id)
        return cur, await reports.program_stats(self.db, merchant_id, cur, start, end)

    async def program_timeline(self, merchant_id: str, currency: str | None, start: datetime, end: datetime,
                               zone: ZoneInfo) -> tuple[str, list[dict[str, Any]], list[tuple[int, int, int]]]:
        cur = currency or await reports.default_currency(self.db, merchant_id)
        days, delays = await timeline.program_timeline(self.db, merchant_id, cur, start, end, zone)
        return cur, days, delays

    # -- time-driven changes -------------------------------------------------------------

    async def settle(self, merchant_id: str, customer_id: str, now: datetime, *, skip_locked: bool = False) -> bool:
        """Bring one customer up to `now` (due holds released, lots matured and
        expired). False if skip_locked and someone else holds the customer."""
        async with self.locked(Want(customers=((merchant_id, customer_id),), skip_locked=skip_locked),
                               now) as state:
            for customer in state.customers.values():
                customer.settle_after = True
        return bool(state.customers)

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Settle every customer with something due at `now`, safely beside other
        sweepers (a customer locked elsewhere is skipped: whoever holds it settles
        it anyway, or the next pass does). Customers with an expired hold go
        through the aggregate path; lots mature and expire set-based, in bulk.
        Returns how many customers were settled."""
        now = now or self.clock()
        settled: set[tuple[str, str]] = set()
        for merchant_id, customer_id in await reads.customers_with_due_holds(self.db, now, self.config.sweep_batch):
            if await self.settle(merchant_id, customer_id, now, skip_locked=True):
                settled.add((merchant_id, customer_id))
        settled |= (await sweep.expire_due(self.db, now, batch_customers=max(self.config.sweep_batch, 1000),
                                           mature=True)).customers
        if settled:
            self.notify_changed()
        return len(settled)


T = TypeVar("T")


def adjustment_audit(cmd: Adjust, tx: Transaction, now: datetime) -> AuditRow:
    """The audit row of an adjustment made now (outside an authenticated call, key "-")."""
    actor = cmd.actor or Actor("-")
    return AuditRow(now, actor.key_id, actor.key_name[:64], actor.role, cmd.merchant_id, "AdjustBalance",
                    cmd.customer_id, {"amount": str(cmd.amount), "amount_minor": cmd.amount.minor,
                                      "currency": cmd.amount.currency, "reason": cmd.reason,
                                      "transaction_id": tx.transaction_id, "idempotency_key": cmd.idempotency_key,
                                      "expires_at": cmd.expires_at.isoformat() if cmd.expires_at else None})


def _owner(state: State, merchant_id: str, hold_id: str) -> Customer:
    customer = state.owner(hold_id)
    if customer is None or customer.merchant_id != merchant_id or is_part(customer.holds[hold_id]):
        raise NotFound(f"hold {hold_id!r} not found", reason="HOLD_NOT_FOUND")
    return customer
