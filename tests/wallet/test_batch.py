"""The grouped write path (cashback_services/wallet/service_layer/batch.py): concurrent writes share
one database transaction, and each call keeps exactly its single-call answer.
The auditor runs after every test here (conftest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from cashback.wallet.v1 import wallet_pb2 as gpb
from prometheus_client import REGISTRY

from cashback_kit.db import Database
from cashback_kit.errors import AlreadyExists, FailedPrecondition, InsufficientCredit
from cashback_kit.money import Money
from cashback_services.wallet.main import MIGRATIONS
from cashback_services.wallet.service_layer.commands import Adjust, Authorize
from cashback_services.wallet.service_layer.handlers import HoldResult, Posted, WalletConfig, WalletService
from tests.support.servers import auth
from tests.wallet.conftest import Clock
from tests.wallet.grpc_helpers import balance as grpc_balance
from tests.wallet.helpers import M, balance, credit, hold, key
from tests.wallet.stack import order, running_stack, ts

CO = auth("checkout")


def grouped(path: str = "group") -> float:
    return REGISTRY.get_sample_value("cashback_wallet_grouped_calls_total", {"path": path}) or 0.0


def groups(path: str = "group") -> float:
    return REGISTRY.get_sample_value("cashback_wallet_write_groups_total", {"path": path}) or 0.0


async def test_concurrent_credits_share_transactions_and_each_gets_its_own_result(wallet: WalletService) -> None:
    calls0, groups0 = grouped(), groups()
    customers = [f"c{i}" for i in range(8)]
    results = await asyncio.gather(*(credit(wallet, 100 + i, customer=customers[i % 8]) for i in range(64)))
    txs = [r.transaction for r in results]
    assert len({tx.transaction_id for tx in txs}) == 64
    assert sorted(tx.amount for tx in txs) == [100 + i for i in range(64)]
    assert all(tx.type == "adjustment" and len(tx.entries) == 2 for tx in txs)
    for n, c in enumerate(customers):
        assert (await balance(wallet, c)).available == sum(100 + i for i in range(n, 64, 8))
    assert grouped() - calls0 == 64
    assert groups() - groups0 < 64  # several calls per transaction, not one each
    # What a call returned is what a reader of the ledger sees afterwards.
    page, _ = await wallet.list_transactions(M, "c0", 50, "")
    stored = {tx.transaction_id: tx for tx in page}
    for r in results:
        if r.customer_id == "c0":
            assert stored[r.transaction.transaction_id] == r.transaction


async def test_a_key_used_twice_in_one_group_is_answered_from_the_first_use(wallet: WalletService) -> None:
    k = key()
    same = Adjust(M, "c1", Money("SAR", 500), "promo", k, "fp-a")
    other = Adjust(M, "c1", Money("SAR", 700), "promo", k, "fp-b")
    results = await asyncio.gather(*(wallet.adjust(same) for _ in range(5)), wallet.adjust(other),
                                   return_exceptions=True)
    assert len({r.transaction.transaction_id for r in results[:5]}) == 1
    assert isinstance(results[5], AlreadyExists)
    assert (await balance(wallet)).available == 500
    # And again later, in a group of its own, from the stored record.
    assert (await wallet.adjust(same)).transaction == results[0].transaction
    with pytest.raises(AlreadyExists):
        await wallet.adjust(other)


async def test_a_refused_call_fails_alone_and_the_rest_of_its_group_commits(wallet: WalletService) -> None:
    past = wallet.clock() - timedelta(days=1)
    bad = Adjust(M, "c1", Money("SAR", 300), "promo", key(), key(), past)
    results = await asyncio.gather(*(credit(wallet, 100) for _ in range(5)), wallet.adjust(bad),
                                   return_exceptions=True)
    assert all(isinstance(r, Posted) for r in results[:5])
    assert "expires_at" in str(results[5])
    assert (await balance(wallet)).available == 500


async def test_grouped_and_alone_give_the_same_ledger(wallet_db: Database, clock: Clock) -> None:
    """The same story on two customers, one through groups and one alone: due
    holds and lots settled first, credits, expiry -- same balances and history."""
    together = WalletService(wallet_db, None, clock=clock)
    alone = WalletService(wallet_db, None, clock=clock, config=WalletConfig(write_batch=0))
    assert together.batcher is not None and alone.batcher is None

    async def story(svc: WalletService, c: str) -> None:
        await credit(svc, 1_000, customer=c, expires_in=timedelta(days=1))
        await hold(svc, 400, customer=c, ttl=timedelta(minutes=5))
        clock.advance(days=2)  # the hold expires, the lot expires
        await asyncio.gather(*(credit(svc, 10 * i, customer=c) for i in range(1, 6)))

    await story(together, "g1")
    clock.now -= timedelta(days=2)
    await story(alone, "a1")
    assert await balance(together, "g1") == await balance(alone, "a1")
    g, _ = await together.list_transactions(M, "g1", 50, "")
    a, _ = await alone.list_transactions(M, "a1", 50, "")
    assert sorted((tx.type, tx.amount) for tx in g) == sorted((tx.type, tx.amount) for tx in a)


async def test_a_group_that_fails_as_a_whole_runs_its_calls_alone(pg_url: str) -> None:
    """Two wallet processes' worth of services on one PostgreSQL database, each
    crediting a different customer under the same idempotency keys at the same
    moment: one group loses the race on the unique key, rolls back, and its calls
    run alone -- each key is used exactly once, the others are refused."""
    dbs = [Database(pg_url), Database(pg_url)]
    await dbs[0].migrate(MIGRATIONS, "wallet_alembic_version")
    svcs = [WalletService(db, None) for db in dbs]
    try:
        alone0 = grouped("alone")
        for attempt in range(5):
            keys = [f"race-{attempt}-{i}" for i in range(40)]
            calls = [svcs[s].adjust(Adjust(M, f"race-{attempt}-{s}-{i}", Money("SAR", 100), "promo", k,
                                            f"fp-{s}-{k}"))
                     for i, k in enumerate(keys) for s in (0, 1)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            for i in range(len(keys)):
                pair = results[2 * i: 2 * i + 2]
                assert sum(isinstance(r, Posted) for r in pair) == 1, pair
                assert sum(isinstance(r, AlreadyExists) for r in pair) == 1, pair
            credited = [(await balance(svcs[0], f"race-{attempt}-{s}-{i}")).available
                        for s in (0, 1) for i in range(40)]
            assert sum(credited) == 100 * 40
            if grouped("alone") > alone0:
                break
        assert grouped("alone") > alone0, "no group ever failed; the fallback was not exercised"
    finally:
        for db in dbs:
            await db.dispose()


async def test_concurrent_awards_through_real_rules_credit_each_order_and_event_once(pg_url: str) -> None:
    """AwardOrder and AwardEvent over real gRPC to the wallet and rules services:
    retried calls in the same groups credit once, orders that pay at once
    (pending_days 0) mature inside the group, and debt-free customers get it all."""
    async with running_stack(pg_url) as s:
        await s.campaign(bps=1000)
        await s.campaign(event_type="product_review", fixed=300)
        now = ts(datetime.now(UTC))
        events = [gpb.AwardEventRequest(merchant_id="m1", customer_id=f"c{i % 3}", event_type="product_review",
                                        event_id=f"e{i}", occurred_at=now) for i in range(12)]
        orders = [gpb.AwardOrderRequest(order=order(f"o{i}", 1_000, customer=f"c{i % 3}")) for i in range(12)]
        calls = [s.w.AwardEvent(r, metadata=CO) for r in events * 2] + [
            s.w.AwardOrder(r, metadata=CO) for r in orders * 2]
        results = await asyncio.gather(*calls)
        assert all(r.credited.amount_minor == 300 for r in results[:24])
        assert all(r.credited.amount_minor == 100 for r in results[24:])
        for c in ("c0", "c1", "c2"):
            b = await grpc_balance(s.w, c)
            assert (b.available.amount_minor, b.pending.amount_minor) == (4 * 300 + 4 * 100, 0)


async def test_holds_in_one_group_never_spend_the_same_credit_twice_and_refusals_replay(
    wallet: WalletService,
) -> None:
    await credit(wallet, 1000)
    calls0, groups0 = grouped(), groups()
    cmds = [Authorize(M, "c1", f"o{i}", Money("SAR", 300), timedelta(minutes=15), f"k{i}", f"fp{i}")
            for i in range(5)]
    results = await asyncio.gather(*(wallet.authorize(c) for c in cmds), return_exceptions=True)
    held = [r for r in results if isinstance(r, HoldResult)]
    refused = [cmd for cmd, r in zip(cmds, results, strict=True) if isinstance(r, InsufficientCredit)]
    assert (len(held), len(refused)) == (3, 2)
    assert grouped() - calls0 == 5 and groups() - groups0 < 5
    b = await balance(wallet)
    assert (b.available, b.held) == (100, 900)
    await credit(wallet, 5000)
    for cmd in refused:  # a refusal stored in a group replays as one stored alone does
        with pytest.raises(FailedPrecondition, match="not enough available credit"):
            await wallet.authorize(cmd)
    assert (await balance(wallet)).held == 900
