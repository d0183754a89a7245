"""Refunds whose cashback matured and expired long ago: the service layer with
a hand-moved clock, talking to the REAL rules service over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from sqlalchemy import func, select

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.rules.bootstrap import bootstrap
from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.adapters.rules_client import GrpcRules
from cashback_services.wallet.entrypoints.servicer import order_command
from cashback_services.wallet.service_layer import awards as orders
from cashback_services.wallet.service_layer.commands import RefundOrder
from cashback_services.wallet.service_layer.handlers import WalletService
from tests.support.keys import TEST_KEYS
from tests.support.servers import running_service
from tests.wallet.conftest import Clock
from tests.wallet.stack import Stack, order


@pytest.fixture
async def wired(pg_url: str, wallet_db: Database, clock: Clock) -> AsyncIterator[tuple[Stack, WalletService]]:
    async with running_service("rules", database_url=pg_url, bootstrap=partial(bootstrap, now=clock)) as rules:
        settings = Settings.from_env("wallet", {"RULES_TARGET": rules.target,
                                                "CASHBACK_SERVICE_KEY": TEST_KEYS["service"]})
        client = GrpcRules(settings)
        yield Stack(rules, rules), WalletService(wallet_db, client, clock=clock)
        await client.close()


async def _breakage(db: Database) -> int:
    async with db.read() as conn:
        q = select(func.coalesce(func.sum(t.entries.c.amount), 0)).where(t.entries.c.account == "merchant:breakage")
        return int((await conn.execute(q)).scalar())


async def test_cashback_that_expired_is_taken_back_from_breakage_not_turned_into_debt(
    wired: tuple[Stack, WalletService], clock: Clock
) -> None:
    stack, wallet = wired
    await stack.campaign(bps=1000, expires_after_days=30)
    o = order("o1", 1000, placed_at=clock.now)
    award = await orders.award_order(wallet, order_command(pb.AwardOrderRequest(order=o), clock.now))
    assert award.credited.minor == 100
    assert (await wallet.get_balance("m1", "c1", "SAR")).available == 100
    clock.advance(days=31)
    await wallet.sweep_once()
    assert await _breakage(wallet.db) == 100
    refund = await orders.refund_order(wallet, RefundOrder("m1", "o1", "r1", Money("SAR", 1000), "fp"))
    assert (refund.cashback_reversed.minor, refund.debt.minor) == (100, 0)
    assert await _breakage(wallet.db) == 0
    b = await wallet.get_balance("m1", "c1", "SAR")
    assert (b.available, b.debt) == (0, 0)


async def test_a_refund_after_maturing_takes_back_available_cashback(
    wired: tuple[Stack, WalletService], clock: Clock
) -> None:
    stack, wallet = wired
    await stack.campaign(bps=1000, pending_days=14)
    o = order("o1", 1000, placed_at=clock.now)
    await orders.award_order(wallet, order_command(pb.AwardOrderRequest(order=o), clock.now))
    assert (await wallet.get_balance("m1", "c1", "SAR")).pending == 100
    clock.advance(days=15)
    assert (await wallet.get_balance("m1", "c1", "SAR")).available == 100
    refund = await orders.refund_order(wallet, RefundOrder("m1", "o1", "r1", Money("SAR", 300), "fp"))
    assert (refund.cashback_reversed.minor, refund.debt.minor) == (30, 0)
    assert (await wallet.get_balance("m1", "c1", "SAR")).available == 70
