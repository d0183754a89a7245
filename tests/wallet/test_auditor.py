"""The auditor finds what is wrong, and the database refuses what must never happen."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError

from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.auditor import audit
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.wallet.helpers import credit, hold


async def test_auditor_reports_a_balance_that_disagrees_with_its_entries(wallet: WalletService) -> None:
    await credit(wallet, 500)
    await hold(wallet, 200)
    async with wallet.db.read() as conn:
        assert await audit(conn) == []
    async with wallet.db.write() as conn:
        await conn.execute(update(t.balances).values(available=t.balances.c.available + 1))
    async with wallet.db.read() as conn:
        found = [v.check for v in await audit(conn)]
    assert "balance" in found and "lots" in found
    async with wallet.db.write() as conn:  # put it back so the end-of-test audit passes
        await conn.execute(update(t.balances).values(available=t.balances.c.available - 1))


async def test_auditor_reports_held_that_no_active_hold_explains(wallet: WalletService) -> None:
    await credit(wallet, 500)
    h = await hold(wallet, 200)
    async with wallet.db.write() as conn:
        await conn.execute(update(t.holds).where(t.holds.c.hold_id == h.hold_id).values(status="voided"))
    async with wallet.db.read() as conn:
        assert "held" in [v.check for v in await audit(conn)]
    async with wallet.db.write() as conn:
        await conn.execute(update(t.holds).where(t.holds.c.hold_id == h.hold_id).values(status="active"))


async def test_the_database_refuses_a_negative_lot_remainder(wallet: WalletService) -> None:
    await credit(wallet, 500)
    with pytest.raises(DBAPIError):
        async with wallet.db.write() as conn:
            await conn.execute(update(t.lots).values(remaining=-1, debited=501))




@pytest.mark.postgres
async def test_the_database_refuses_an_unbalanced_transaction_at_commit(wallet: WalletService) -> None:
    await credit(wallet, 500)
    with pytest.raises(DBAPIError, match="unbalanced"):
        async with wallet.db.write() as conn:
            await conn.execute(insert(t.transactions).values(
                transaction_id="tx_bad", merchant_id="m1", customer_id="c1", type="adjustment", currency="SAR",
                amount=1, created_at=wallet.clock()))
            await conn.execute(insert(t.entries).values(
                transaction_id="tx_bad", merchant_id="m1", customer_id="c1", account="customer:available",
                currency="SAR", amount=1))


@pytest.mark.postgres
async def test_the_database_refuses_to_change_an_entry(wallet: WalletService) -> None:
    await credit(wallet, 500)
    with pytest.raises(DBAPIError, match="append-only"):
        async with wallet.db.write() as conn:
            await conn.execute(text("UPDATE wallet_entries SET amount = amount + 1"))
