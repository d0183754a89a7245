"""Set-based expiry (wallet_settle_lots, run in bulk by adapters/sweep.py): a batch
of customers must end up exactly as settling each customer alone on the
aggregate path leaves it, under the same customer locks. The auditor runs
after each test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from cashback_kit.db import Database
from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.adapters.sweep import expire_due, expire_due_lots
from cashback_services.wallet.auditor import audit
from cashback_services.wallet.service_layer.commands import Void
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.support.pgcluster import PgCluster
from tests.wallet.conftest import Clock
from tests.wallet.helpers import M, balance, credit, hold, lock_customer, pending_lot


async def _scenario(wallet: WalletService, clock: Clock) -> datetime:
    """Customers with every kind of due lot; returns a time at which they are due
    (and no hold is)."""
    day = timedelta(days=1)
    await credit(wallet, 300, customer="c1", expires_in=day)
    clock.advance(minutes=1)
    await credit(wallet, 200, customer="c1")  # never expires
    clock.advance(minutes=1)
    await credit(wallet, 150, customer="c1", expires_in=day)
    await credit(wallet, 500, customer="c2", expires_in=day)
    await credit(wallet, 80, customer="c2", expires_in=day * 3)  # not due yet
    await credit(wallet, 100, customer="c3", expires_in=day)
    await credit(wallet, -100, customer="c3")  # its lot: nothing left, still available until due
    await credit(wallet, 70, customer="c4", currency="USD", expires_in=day)
    await credit(wallet, 90, customer="c4", currency="SAR", expires_in=day)
    await pending_lot(wallet, "c5", 250, timedelta(hours=1), day, order_id="order-c5")
    await credit(wallet, 40, customer="c6")  # nothing due
    clock.advance(hours=2)
    await wallet.settle(M, "c5", clock.now)  # matures c5's award: an available lot with an order_id
    clock.advance(hours=10)
    await hold(wallet, 120, customer="c2", ttl=timedelta(hours=24))  # held from the 500 lot, which expires first
    return clock.now + timedelta(hours=13)


async def _per_customer(db: Database, now: datetime) -> None:
    """Each due customer settled alone on the aggregate path, under its lock."""
    L = t.lots.c
    async with db.read() as conn:
        due = sorted(set((await conn.execute(select(L.merchant_id, L.customer_id).where(
            L.status == "available", L.expires_at <= now))).all()))
    svc = WalletService(db, None, clock=lambda: now)
    for merchant_id, customer_id in due:
        assert await svc.settle(merchant_id, customer_id, now)


async def _dump(db: Database) -> dict[str, Any]:
    """Everything expiry writes, with the random ids (transaction, event) replaced
    by their rank, and rows in id order."""
    async with db.read() as conn:
        txs = [dict(r) for r in (await conn.execute(select(t.transactions).order_by(t.transactions.c.id))).mappings()]
        rank = {tx["transaction_id"]: i for i, tx in enumerate(txs)}
        entries = [dict(r) for r in (await conn.execute(select(t.entries).order_by(t.entries.c.id))).mappings()]
        events = [dict(r) for r in (await conn.execute(select(t.events).order_by(t.events.c.id))).mappings()]
        lots = [dict(r) for r in (await conn.execute(select(t.lots).order_by(t.lots.c.lot_id))).mappings()]
        balances = [dict(r) for r in (await conn.execute(select(t.balances).order_by(
            t.balances.c.merchant_id, t.balances.c.customer_id, t.balances.c.currency))).mappings()]
    for tx in txs:
        tx.pop("id")
        tx["transaction_id"] = rank[tx["transaction_id"]]
    for e in entries:
        e.pop("id")
        e["transaction_id"] = rank[e["transaction_id"]]
    for ev in events:
        for k in ("id", "event_id", "position"):
            ev.pop(k)
        ev["transaction_id"] = rank.get(ev["transaction_id"])
    return {"transactions": txs, "entries": entries, "events": events, "lots": lots, "balances": balances}


async def test_bulk_expiry_writes_what_the_per_customer_path_writes(
    wallet: WalletService, clock: Clock, pg_url: str, pg_cluster: PgCluster
) -> None:
    due_at = await _scenario(wallet, clock)
    await wallet.db.dispose()  # CREATE DATABASE ... TEMPLATE needs the source idle
    src = pg_url.rsplit("/", 1)[1]
    twin = f"twin_{uuid.uuid4().hex[:12]}"
    pg_cluster.psql(f'CREATE DATABASE "{twin}" TEMPLATE "{src}"')
    other = Database(pg_cluster.url(twin))
    try:
        result = await expire_due(wallet.db, due_at)
        await _per_customer(other, due_at)
        bulk, reference = await _dump(wallet.db), await _dump(other)
        async with other.read() as conn:
            assert [str(v) for v in await audit(conn)] == []
    finally:
        await other.dispose()
    # Lots: c1 2, c2 1 (held part stays), c3 1 (empty), c4 2 currencies, c5 1. One expiry per
    # customer and currency with credit: c1 (both lots), c2, c4 twice, c5; c3's lot had nothing.
    assert (result.lots, result.posted, result.skipped) == (7, 5, 0)
    assert result.customers == {(M, c) for c in ("c1", "c2", "c3", "c4", "c5")}
    for table in ("lots", "balances", "transactions", "entries", "events"):
        assert bulk[table] == reference[table], table
    expiries = [tx for tx in bulk["transactions"] if tx["type"] == "expiry"]
    assert sorted(-tx["amount"] for tx in expiries) == [70, 90, 250, 380, 450]
    assert [tx["order_id"] for tx in expiries if tx["customer_id"] == "c5"] == ["order-c5"]
    expired = {(ev["customer_id"], ev["currency"]): ev["lot_count"] for ev in bulk["events"] if ev["type"] == "expired"}
    assert expired == {("c1", "SAR"): 2, ("c2", "SAR"): 1, ("c4", "SAR"): 1, ("c4", "USD"): 1, ("c5", "SAR"): 1}


async def test_held_credit_stays_on_the_expired_lot_and_expires_when_released(
    wallet: WalletService, clock: Clock
) -> None:
    due_at = await _scenario(wallet, clock)
    assert await expire_due_lots(wallet.db, due_at) == 7
    clock.now = due_at
    b = await balance(wallet, "c2")
    assert (b.available, b.held) == (80, 120)
    async with wallet.db.read() as conn:
        lot = (await conn.execute(select(t.lots).where(
            t.lots.c.customer_id == "c2", t.lots.c.amount == 500))).mappings().one()
        assert (lot["status"], lot["remaining"], lot["held"], lot["expired"]) == ("expired", 0, 120, 380)
        hold_id = (await conn.execute(select(t.holds.c.hold_id).where(t.holds.c.customer_id == "c2"))).scalar_one()
    await wallet.void(Void(M, hold_id))  # the released 120 goes back to an expired lot: it expires at once
    b = await balance(wallet, "c2")
    assert (b.available, b.held) == (80, 0)
    assert await expire_due_lots(wallet.db, due_at) == 0


async def test_a_locked_customer_is_skipped_and_expired_next_pass(wallet: WalletService, clock: Clock) -> None:
    await credit(wallet, 100, customer="c1", expires_in=timedelta(days=1))
    await credit(wallet, 200, customer="c2", expires_in=timedelta(days=1))
    later = clock.now + timedelta(days=2)
    db = wallet.db
    async with db.write() as conn:
        await lock_customer(conn, "c1")  # c1 busy elsewhere
        first = await expire_due(db, later, batch_customers=1)
    assert (first.lots, first.skipped, first.customers) == (1, 1, {(M, "c2")})
    second = await expire_due(db, later)
    assert (second.lots, second.skipped, second.customers) == (1, 0, {(M, "c1")})
    async with db.read() as conn:
        n = (await conn.execute(select(func.count()).select_from(t.transactions).where(
            t.transactions.c.type == "expiry"))).scalar()
    assert n == 2


async def test_sweep_once_releases_then_expires_once(wallet: WalletService, clock: Clock) -> None:
    """A hold expired on a lot past expiry: released by the per-customer pass,
    whose write expires the whole lot in one EXPIRY, before the bulk pass."""
    await credit(wallet, 300, customer="c1", expires_in=timedelta(hours=1))
    await hold(wallet, 100, customer="c1", ttl=timedelta(minutes=15))
    await credit(wallet, 50, customer="c2", expires_in=timedelta(hours=1))
    assert await wallet.sweep_once(clock.now + timedelta(hours=2)) == 2
    async with wallet.db.read() as conn:
        amounts = sorted((await conn.execute(select(t.transactions.c.amount).where(
            t.transactions.c.type == "expiry"))).scalars().all())
    assert amounts == [-300, -50]
    assert await wallet.sweep_once(clock.now + timedelta(hours=2)) == 0


async def test_the_bench_seed_is_consistent_and_sweeps_clean(pg_url: str) -> None:
    from bench.sweep_bench import seed

    now = datetime.now(UTC)
    await seed(pg_url, 40, 5, now)
    db = Database(pg_url)
    try:
        async with db.read() as conn:
            assert [str(v) for v in await audit(conn)] == []
        assert await expire_due_lots(db, now, batch_customers=15) == 200
        assert await expire_due_lots(db, now) == 0
    finally:
        await db.dispose()


# The deferred balance check (0002) sums each entry's transaction at commit. A
# cheaper check that remembers sums already done would have to refuse all of
# these too: the ways a remembered sum could go stale (docs/perf-sweep.md).

async def _tx(conn: Any, tx_id: str, *amounts: tuple[str, int], now: datetime) -> None:
    await conn.execute(insert(t.transactions).values(
        transaction_id=tx_id, merchant_id=M, customer_id="c1", type="adjustment", currency="SAR", amount=0,
        created_at=now))
    await _entries(conn, tx_id, *amounts)


async def _entries(conn: Any, tx_id: str, *amounts: tuple[str, int], **ids: int) -> None:
    for i, (currency, amount) in enumerate(amounts):
        row: dict[str, Any] = dict(transaction_id=tx_id, merchant_id=M, customer_id="c1",
                                   account=f"acct:{i}", currency=currency, amount=amount)
        if f"id{i}" in ids:
            row["id"] = ids[f"id{i}"]
        await conn.execute(insert(t.entries).values(**row))


async def test_balance_check_refuses_an_entry_added_after_the_transaction_was_found_balanced(
    wallet: WalletService, clock: Clock
) -> None:
    db = wallet.db
    await credit(wallet, 100, customer="c1")
    for immediate_again in (True, False):
        with pytest.raises(DBAPIError, match="unbalanced"):
            async with db.write() as conn:
                await _tx(conn, "tx_late", ("SAR", 5), ("SAR", -5), now=clock.now)
                await conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # summed (balanced) and remembered
                if not immediate_again:
                    await conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))
                await _entries(conn, "tx_late", ("SAR", 1))


async def test_balance_check_refuses_after_truncate_reuses_a_remembered_entry_id(
    wallet: WalletService, clock: Clock
) -> None:
    db = wallet.db
    await credit(wallet, 100, customer="c1")
    with pytest.raises(DBAPIError, match="unbalanced"):
        async with db.write() as conn:
            await _tx(conn, "tx_trunc", ("SAR", 5), ("SAR", -5), now=clock.now)
            await conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            ids = (await conn.execute(select(t.entries.c.id).where(
                t.entries.c.transaction_id == "tx_trunc").order_by(t.entries.c.id))).scalars().all()
            await conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))
            await conn.execute(text("TRUNCATE wallet_entries"))
            await _entries(conn, "tx_trunc", ("SAR", 5), id0=ids[0])  # same id, its partner gone


class _Checked(Exception):
    pass


async def test_balance_check_per_currency(wallet: WalletService, clock: Clock) -> None:
    db = wallet.db
    await credit(wallet, 100, customer="c1")
    with pytest.raises(_Checked):  # balanced in each currency: accepted (then rolled back for the auditor)
        async with db.write() as conn:
            await _tx(conn, "tx_two", ("SAR", 5), ("USD", 7), ("SAR", -5), ("USD", -7), now=clock.now)
            await conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            raise _Checked
    with pytest.raises(DBAPIError, match="unbalanced"):  # sums to zero, but not per currency
        async with db.write() as conn:
            await _tx(conn, "tx_mixed", ("SAR", 5), ("USD", -5), now=clock.now)
    with pytest.raises(DBAPIError, match="unbalanced"):  # many balanced transactions, one bad among them
        async with db.write() as conn:
            for i in range(5):
                await _tx(conn, f"tx_ok{i}", ("SAR", i + 1), ("SAR", -i - 1), now=clock.now)
            await _tx(conn, "tx_off", ("SAR", 3), ("SAR", -2), now=clock.now)
            await _tx(conn, "tx_ok9", ("SAR", 1), ("SAR", -1), now=clock.now)
