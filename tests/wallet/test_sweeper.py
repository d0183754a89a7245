"""The sweeper, driven directly: "sweep once at time T"."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.conftest import Clock
from tests.wallet.helpers import balance, credit, hold, lock_customer, pending_lot


async def _events(wallet: WalletService, type_: str) -> list[int]:
    async with wallet.db.read() as conn:
        q = select(t.events.c.amount).where(t.events.c.type == type_).order_by(t.events.c.id)
        return [int(a) for a in (await conn.execute(q)).scalars().all()]


async def test_sweep_matures_pending_credit_at_available_at(wallet: WalletService, clock: Clock) -> None:
    await pending_lot(wallet, "c1", 500, timedelta(days=7))
    start = clock.now
    assert await wallet.sweep_once(start + timedelta(days=6)) == 0
    assert await wallet.sweep_once(start + timedelta(days=7)) == 1
    clock.now = start + timedelta(days=7)
    b = await balance(wallet)
    assert (b.pending, b.available) == (0, 500)
    assert await _events(wallet, "available") == [500]


async def test_pending_credit_can_never_be_spent(wallet: WalletService) -> None:
    import pytest

    from cashback_kit.errors import InsufficientCredit

    await pending_lot(wallet, "c1", 500, timedelta(days=7))
    with pytest.raises(InsufficientCredit):
        await hold(wallet, 1)


async def test_sweep_expires_due_lots_to_breakage(wallet: WalletService, clock: Clock) -> None:
    await credit(wallet, 300, expires_in=timedelta(days=10))
    await credit(wallet, 200)
    assert await wallet.sweep_once(clock.now + timedelta(days=10)) == 1
    clock.advance(days=10)
    assert (await balance(wallet)).available == 200
    assert await _events(wallet, "expired") == [300]
    async with wallet.db.read() as conn:
        breakage = (await conn.execute(
            select(func.sum(t.entries.c.amount)).where(t.entries.c.account == "merchant:breakage")
        )).scalar()
    assert int(breakage) == 300


async def test_sweep_releases_stale_holds(wallet: WalletService, clock: Clock) -> None:
    await credit(wallet, 1000)
    await hold(wallet, 400, ttl=timedelta(minutes=15))
    assert await wallet.sweep_once(clock.now + timedelta(minutes=14)) == 0
    assert await wallet.sweep_once(clock.now + timedelta(minutes=15)) == 1
    assert await _events(wallet, "released") == [400]
    b = await balance(wallet)
    assert (b.available, b.held) == (1000, 0)


async def test_a_lot_that_matures_and_expires_while_nobody_looked_does_both(
    wallet: WalletService, clock: Clock
) -> None:
    await pending_lot(wallet, "c1", 500, timedelta(days=7), timedelta(days=37))
    await wallet.sweep_once(clock.now + timedelta(days=100))
    assert await _events(wallet, "available") == [500]
    assert await _events(wallet, "expired") == [500]


async def test_sweepers_running_at_once_settle_each_lot_exactly_once(wallet: WalletService, clock: Clock) -> None:
    customers = [f"c{i}" for i in range(12)]
    for c in customers:
        await credit(wallet, 100, customer=c, expires_in=timedelta(days=1))
    later = clock.now + timedelta(days=2)
    other = WalletService(wallet.db, None, clock=wallet.clock)
    await asyncio.gather(wallet.sweep_once(later), other.sweep_once(later), wallet.sweep_once(later))
    assert await _events(wallet, "expired") == [100] * len(customers)
    async with wallet.db.read() as conn:
        booked = (await conn.execute(
            select(func.count()).select_from(t.transactions).where(t.transactions.c.type == "expiry")
        )).scalar()
    assert booked == len(customers)


async def test_sweep_settles_under_the_customer_lock(wallet: WalletService, clock: Clock) -> None:
    """A customer whose row is locked elsewhere is skipped (SKIP LOCKED) and
    settled by the next sweep."""
    await credit(wallet, 100, expires_in=timedelta(days=1))
    await hold(wallet, 50, ttl=timedelta(hours=1))
    later = clock.now + timedelta(days=2)
    async with wallet.db.write() as conn:
        await lock_customer(conn, "c1")
        assert await wallet.sweep_once(later) == 0
    assert await wallet.sweep_once(later) == 1
