"""A stateful hypothesis test: random sequences of adjustments, holds,
captures, voids, time travel and sweeps against the real service layer on a
real database, compared after every step with a simple in-memory model."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from cashback_kit.db import Database
from cashback_kit.errors import DomainError, HoldExpired, HoldNotActive, InsufficientCredit, InvalidArgument
from cashback_kit.money import Money
from cashback_services.wallet.auditor import audit
from cashback_services.wallet.main import MIGRATIONS
from cashback_services.wallet.service_layer.commands import Adjust, Authorize, Capture, Void
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.conftest import Clock
from tests.wallet.helpers import pending_lot

M = "m1"


@dataclass
class MLot:
    seq: int
    remaining: int
    expires_at: datetime | None
    created_at: datetime
    available_at: datetime | None = None  # None: available at once


@dataclass
class MHold:
    amount: int
    expires_at: datetime
    allocs: list[tuple[MLot, int]]
    status: str = "active"
    captured: int = 0


@dataclass
class Model:
    """What the wallet should do, as plainly as possible."""

    now: datetime
    lots: list[MLot] = field(default_factory=list)
    holds: list[MHold] = field(default_factory=list)

    def expire_due(self) -> None:
        for lot in self.lots:
            if lot.expires_at is not None and lot.expires_at <= self.now:
                lot.remaining = 0

    def settle(self) -> None:
        for h in self.holds:
            if h.status == "active" and h.expires_at <= self.now:
                self.close(h, 0, "expired")
        self.expire_due()

    def close(self, h: MHold, captured: int, status: str) -> None:
        left = captured
        for lot, amount in h.allocs:
            cap = min(amount, left)
            left -= cap
            lot.remaining += amount - cap
        h.status, h.captured = status, captured
        self.expire_due()  # credit back to a lot past expiry expires at once

    def spendable(self, lot: MLot) -> bool:
        return lot.available_at is None or lot.available_at <= self.now

    @property
    def available(self) -> int:
        return sum(lot.remaining for lot in self.lots if self.spendable(lot))

    @property
    def pending(self) -> int:
        return sum(lot.remaining for lot in self.lots if not self.spendable(lot))

    @property
    def held(self) -> int:
        return sum(h.amount for h in self.holds if h.status == "active")

    def take(self, amount: int) -> list[tuple[MLot, int]]:
        order = sorted((lot for lot in self.lots if lot.remaining > 0 and self.spendable(lot)), key=lambda lot: (
            lot.expires_at is None, lot.expires_at or lot.created_at, lot.created_at, lot.seq))
        out, left = [], amount
        for lot in order:
            part = min(lot.remaining, left)
            if part:
                lot.remaining -= part
                out.append((lot, part))
                left -= part
        assert left == 0
        return out


def run_machine(db: Database, loop: asyncio.AbstractEventLoop) -> None:
    class WalletMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = Clock()
            self.svc = WalletService(db, None, clock=self.clock)
            self.model = Model(self.clock.now)
            self.customer = uuid.uuid4().hex[:12]  # a fresh wallet per run, on a shared database
            self.hold_ids: list[str] = []
            self.seq = 0

        def run(self, coro: Any) -> Any:
            return loop.run_until_complete(coro)

        def expect(self, error: type[DomainError] | None, coro: Any) -> Any:
            if error is None:
                return self.run(coro)
            with pytest.raises(error):
                self.run(coro)
            return None

        @rule(amount=st.integers(1, 1000), expires_in=st.one_of(st.none(), st.integers(1, 3000)))
        def credit(self, amount: int, expires_in: int | None) -> None:
            expires_at = self.clock.now + timedelta(minutes=expires_in) if expires_in else None
            self.model.settle()
            self.seq += 1
            self.model.lots.append(MLot(self.seq, amount, expires_at, self.clock.now))
            self.run(self.svc.adjust(Adjust(M, self.customer, Money("SAR", amount), "credit", uuid.uuid4().hex,
                                            uuid.uuid4().hex, expires_at)))

        @rule(amount=st.integers(1, 1000), pending=st.integers(1, 3000),
              expires_after=st.one_of(st.none(), st.integers(1, 3000)))
        def award(self, amount: int, pending: int, expires_after: int | None) -> None:
            """Cashback as AwardOrder credits it (the ledger operation; rules is not needed here)."""
            available_at = self.clock.now + timedelta(minutes=pending)
            expires_at = available_at + timedelta(minutes=expires_after) if expires_after else None
            self.model.settle()
            self.seq += 1
            self.model.lots.append(MLot(self.seq, amount, expires_at, self.clock.now, available_at))
            self.run(pending_lot(self.svc, self.customer, amount, available_at - self.clock.now,
                                 expires_at - self.clock.now if expires_at else None, order_id=uuid.uuid4().hex))

        @rule(amount=st.integers(1, 1000))
        def debit(self, amount: int) -> None:
            self.model.settle()
            fits = amount <= self.model.available
            if fits:
                self.model.take(amount)
            self.expect(None if fits else InsufficientCredit, self.svc.adjust(Adjust(
                M, self.customer, Money("SAR", -amount), "debit", uuid.uuid4().hex, uuid.uuid4().hex)))

        @rule(amount=st.integers(1, 1000), ttl=st.integers(1, 120))
        def authorize(self, amount: int, ttl: int) -> None:
            self.model.settle()
            fits = amount <= self.model.available
            key = uuid.uuid4().hex
            cmd = Authorize(M, self.customer, "o1", Money("SAR", amount), timedelta(minutes=ttl), key, key)
            hold = self.expect(None if fits else InsufficientCredit, self.svc.authorize(cmd))
            if fits:
                self.model.holds.append(MHold(amount, self.clock.now + timedelta(minutes=ttl), self.model.take(amount)))
                self.hold_ids.append(hold.hold.hold_id)

        @rule(pick=st.integers(0, 10_000), how=st.sampled_from(["all", "part", "over", "same"]))
        def capture(self, pick: int, how: str) -> None:
            if not self.hold_ids:
                return
            i = pick % len(self.hold_ids)
            self.model.settle()
            h = self.model.holds[i]
            want = {"all": h.amount, "part": max(1, h.amount // 3), "over": h.amount + 1,
                    "same": h.captured or h.amount}[how]
            if h.status == "captured":
                error: type[DomainError] | None = None if want == h.captured else HoldNotActive
            elif h.status == "voided":
                error = HoldNotActive
            elif h.status == "expired":
                error = HoldExpired
            elif want > h.amount:
                error = InvalidArgument
            else:
                error = None
                self.model.close(h, want, "captured")
            self.expect(error, self.svc.capture(Capture(M, self.hold_ids[i], Money("SAR", want))))

        @rule(pick=st.integers(0, 10_000))
        def void(self, pick: int) -> None:
            if not self.hold_ids:
                return
            i = pick % len(self.hold_ids)
            self.model.settle()
            h = self.model.holds[i]
            error = HoldNotActive if h.status == "captured" else None
            if h.status == "active":
                self.model.close(h, 0, "voided")
            self.expect(error, self.svc.void(Void(M, self.hold_ids[i])))

        @rule(minutes=st.integers(1, 3000))
        def time_passes(self, minutes: int) -> None:
            self.clock.advance(minutes=minutes)
            self.model.now = self.clock.now

        @rule()
        def sweep(self) -> None:
            self.run(self.svc.sweep_once())
            self.model.settle()

        @invariant()
        def balances_match_the_model(self) -> None:
            b = self.run(self.svc.get_balance(M, self.customer, "SAR"))
            self.model.settle()
            assert (b.available, b.pending, b.held) == (
                self.model.available, self.model.pending, self.model.held)

        def teardown(self) -> None:
            async def check() -> list[Any]:
                async with db.read() as conn:
                    return await audit(conn)

            assert self.run(check()) == []

    run_state_machine_as_test(WalletMachine, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_random_operation_sequences_match_the_model(pg_url: str) -> None:
    loop = asyncio.new_event_loop()
    db = Database(pg_url)
    try:
        loop.run_until_complete(db.migrate(MIGRATIONS, "wallet_alembic_version"))
        run_machine(db, loop)
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()
