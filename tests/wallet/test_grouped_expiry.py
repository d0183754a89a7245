"""Expiry posts one ledger transaction and one `expired` event per customer and currency
each time it runs, with the sum, while every lot records what it lost (migration 0012).
Both callers of wallet_settle_lots are covered: the sweeper's bulk pass and a single
customer's settle (the write path). The auditor runs after every test (conftest)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from sqlalchemy import select, text

from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.adapters.sweep import expire_due
from cashback_services.wallet.auditor import audit
from cashback_services.wallet.service_layer.commands import Void
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.support.servers import auth, running_service
from tests.wallet.conftest import Clock
from tests.wallet.grpc_helpers import OPS, money, stub
from tests.wallet.grpc_helpers import balance as grpc_balance
from tests.wallet.helpers import C, M, balance, credit, hold, migrate_to, pending_lot

DAY = timedelta(days=1)
Settle = Callable[[WalletService, datetime], Awaitable[Any]]


async def _bulk(wallet: WalletService, now: datetime) -> None:
    await expire_due(wallet.db, now)


async def _one_customer(wallet: WalletService, now: datetime) -> None:
    assert await wallet.settle(M, C, now)


async def _rows(wallet: WalletService) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Expiry transactions (with their entries), expired events and the customer's lots, in order."""
    async with wallet.db.read() as conn:
        txs = [
            dict(r)
            for r in (
                await conn.execute(
                    select(t.transactions).where(t.transactions.c.type == "expiry").order_by(t.transactions.c.id)
                )
            ).mappings()
        ]
        for tx in txs:
            tx["entries"] = sorted(
                (e["account"], int(e["amount"]))
                for e in (
                    await conn.execute(select(t.entries).where(t.entries.c.transaction_id == tx["transaction_id"]))
                ).mappings()
            )
        events = [
            dict(r)
            for r in (
                await conn.execute(select(t.events).where(t.events.c.type == "expired").order_by(t.events.c.id))
            ).mappings()
        ]
        lots = [
            dict(r)
            for r in (await conn.execute(select(t.lots).order_by(t.lots.c.created_at, t.lots.c.lot_id))).mappings()
        ]
    return txs, events, lots


@pytest.mark.parametrize("settle", [_bulk, _one_customer], ids=["sweeper", "one customer"])
async def test_ten_due_lots_expire_as_one_transaction_and_one_event_with_the_sum(
    wallet: WalletService, clock: Clock, settle: Settle
) -> None:
    amounts = [100 + i for i in range(10)]
    for i, amount in enumerate(amounts):
        await credit(wallet, amount, expires_in=DAY + timedelta(minutes=i))
        clock.advance(seconds=1)
    await credit(wallet, 40, currency="USD", expires_in=DAY)
    await credit(wallet, 7, expires_in=DAY * 30)  # not due: untouched
    await settle(wallet, clock.now + DAY * 2)

    txs, events, lots = await _rows(wallet)
    total = sum(amounts)
    assert [(tx["currency"], int(tx["amount"])) for tx in txs] == [("SAR", -total), ("USD", -40)]
    assert txs[0]["entries"] == [("customer:available", -total), ("merchant:breakage", total)]
    assert txs[0]["order_id"] is None  # adjustments, no order
    assert [(e["currency"], int(e["amount"]), e["lot_count"]) for e in events] == [("SAR", total, 10), ("USD", 40, 1)]
    assert [e["transaction_id"] for e in events] == [tx["transaction_id"] for tx in txs]
    assert events[0]["lot_id"] is None  # ten lots: no single lot to name
    usd_lot = next(lot for lot in lots if lot["currency"] == "USD")
    assert events[1]["lot_id"] == usd_lot["lot_id"]
    assert events[0]["expires_at"] == max(lot["expires_at"] for lot in lots if lot["amount"] in amounts)
    # Each lot records its own amount.
    sar = [lot for lot in lots if lot["currency"] == "SAR"]
    assert [(lot["status"], lot["expired"], lot["remaining"]) for lot in sar] == (
        [("expired", a, 0) for a in amounts] + [("available", 0, 7)]
    )
    assert ((await balance(wallet)).available, (await balance(wallet, currency="USD")).available) == (7, 0)
    async with wallet.db.read() as conn:
        assert [str(v) for v in await audit(conn)] == []


async def test_a_grouped_expiry_names_the_order_only_when_all_its_lots_came_from_one(
    wallet: WalletService, clock: Clock
) -> None:
    for customer, orders in (("c1", ["o1", "o1"]), ("c2", ["o2", "o3"]), ("c3", ["o4"])):
        for order_id in orders:
            await pending_lot(wallet, customer, 100, timedelta(hours=1), DAY, order_id=order_id)
    result = await expire_due(wallet.db, clock.now + DAY * 2, mature=True)
    assert (result.lots, result.posted) == (5, 3)
    txs, events, lots = await _rows(wallet)
    assert [(tx["customer_id"], tx["order_id"], int(tx["amount"])) for tx in txs] == [
        ("c1", "o1", -200),
        ("c2", None, -200),
        ("c3", "o4", -100),
    ]
    assert [(e["order_id"], e["lot_count"]) for e in events] == [("o1", 2), (None, 2), ("o4", 1)]
    c3_lot = next(lot["lot_id"] for lot in lots if lot["customer_id"] == "c3")
    assert [e["lot_id"] for e in events] == [None, None, c3_lot]


@pytest.mark.parametrize("settle", [_bulk, _one_customer], ids=["sweeper", "one customer"])
async def test_credit_returned_to_an_expired_lot_later_still_expires(
    wallet: WalletService, clock: Clock, settle: Settle
) -> None:
    await credit(wallet, 300, expires_in=timedelta(hours=1))
    clock.advance(seconds=1)  # lots in creation order below
    await credit(wallet, 200, expires_in=timedelta(hours=1, minutes=1))
    held = await hold(wallet, 250, ttl=timedelta(hours=12))  # earliest expiry first: all from the 300 lot
    clock.advance(hours=2)
    await settle(wallet, clock.now)
    b = await balance(wallet)
    assert (b.available, b.held) == (0, 250)
    await wallet.void(Void(M, held.hold_id))  # back to a lot that expired: it expires with this write
    txs, events, lots = await _rows(wallet)
    assert [int(tx["amount"]) for tx in txs] == [-250, -250]
    assert [(int(e["amount"]), e["lot_count"]) for e in events] == [(250, 2), (250, 1)]
    assert events[1]["lot_id"] == lots[0]["lot_id"]
    assert [(lot["expired"], lot["held"], lot["remaining"]) for lot in lots] == [(300, 0, 0), (200, 0, 0)]
    b = await balance(wallet)
    assert (b.available, b.held) == (0, 0)


async def test_the_event_stream_carries_one_expired_event_with_the_lot_count(pg_url: str) -> None:
    async with running_service("wallet", database_url=pg_url) as svc:
        s = stub(svc.channel)
        expires = datetime.now(UTC) + timedelta(seconds=1)
        for i in range(10):
            req = pb.AdjustBalanceRequest(
                merchant_id=M, customer_id=C, amount=money(100 + i), reason="promo", idempotency_key=uuid.uuid4().hex
            )
            req.expires_at.FromDatetime(expires)
            await s.AdjustBalance(req, metadata=OPS)
        await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
        assert (await grpc_balance(s)).available.amount_minor == 0  # past expiry: settled on read
        call = s.StreamEvents(pb.StreamEventsRequest(merchant_id=M), metadata=auth("service"))
        events = [(await asyncio.wait_for(call.read(), 5)).event for _ in range(11)]
        call.cancel()
    assert [e.type for e in events] == [pb.WALLET_EVENT_TYPE_ADJUSTED] * 10 + [pb.WALLET_EVENT_TYPE_EXPIRED]
    expired = events[-1]
    assert (expired.amount.amount_minor, expired.lot_count, expired.lot_id) == (sum(range(100, 110)), 10, "")
    assert all(e.lot_count == 0 for e in events[:10])


async def test_the_downgrade_restores_one_transaction_per_lot(wallet: WalletService, clock: Clock) -> None:
    async def lot_count_column() -> bool:
        async with wallet.db.read() as conn:
            return bool(
                (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM information_schema.columns "
                            "WHERE table_name = 'wallet_events' AND column_name = 'lot_count'"
                        )
                    )
                ).scalar()
            )

    for _ in range(3):
        await credit(wallet, 100, expires_in=DAY)
    async with wallet.db.write() as conn:
        await conn.run_sync(migrate_to("0011"))
    assert not await lot_count_column()
    async with wallet.db.write() as conn:
        posted = (
            await conn.execute(
                text("SELECT sum(posted) FROM wallet_settle_lots(ARRAY['m1'], ARRAY['c1'], :now, false, true)"),
                {"now": clock.now + DAY * 2},
            )
        ).scalar()
    assert posted == 3
    async with wallet.db.write() as conn:
        await conn.run_sync(migrate_to("head"))
    assert await lot_count_column()
