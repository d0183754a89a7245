"""TransferCredit on the service layer over a real database (the auditor,
which checks that every transfer clears the in-flight account, runs after
each test)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import text

from cashback_kit.errors import AlreadyExists, FailedPrecondition, InsufficientCredit, InvalidArgument
from cashback_kit.money import Money
from cashback_services.wallet.service_layer.handlers import WalletService
from cashback_services.wallet.service_layer.transfers import TransferCredit
from tests.wallet.conftest import Clock
from tests.wallet.helpers import M, balance, credit, hold, key, pending_lot


def cmd(amount: int, frm: str = "alice", to: str = "bob", *, idem: str | None = None, currency: str = "SAR",
        note: str = "") -> TransferCredit:
    idem = idem or key()
    return TransferCredit(M, frm, to, Money(currency, amount), idem, note, f"fp-{idem}-{frm}-{to}-{amount}")


async def lots_of(wallet: WalletService, customer: str) -> list[tuple[int, object, str]]:
    async with wallet.db.read() as conn:
        rows = await conn.execute(text(
            "SELECT remaining, expires_at, source FROM wallet_lots WHERE merchant_id = :m AND customer_id = :c "
            "AND remaining > 0 ORDER BY expires_at NULLS LAST"), {"m": M, "c": customer})
        return [tuple(r) for r in rows.all()]


async def test_a_transfer_of_part_of_three_lots_keeps_their_expiry_dates(wallet: WalletService,
                                                                         clock: Clock) -> None:
    await credit(wallet, 300, customer="alice", expires_in=timedelta(days=10))
    await credit(wallet, 200, customer="alice", expires_in=timedelta(days=20))
    await credit(wallet, 500, customer="alice", expires_in=timedelta(days=30))
    t = await wallet.transfer_credit(cmd(700, note="for the birthday"))
    now = clock()
    expected = [(300, now + timedelta(days=10)), (200, now + timedelta(days=20)), (200, now + timedelta(days=30))]
    assert [(p.amount, p.expires_at) for p in t.parts] == expected
    assert [(r, e, s) for r, e, s in await lots_of(wallet, "bob")] == [(a, e, "transfer") for a, e in expected]
    assert await lots_of(wallet, "alice") == [(300, now + timedelta(days=30), "adjustment")]
    assert ((await balance(wallet, "alice")).available, (await balance(wallet, "bob")).available) == (300, 700)
    clock.advance(days=15)  # the received credit expires when it would have expired at the sender's
    assert (await balance(wallet, "bob")).available == 400


async def test_pending_and_held_credit_never_move(wallet: WalletService) -> None:
    await credit(wallet, 100, customer="alice")
    await hold(wallet, 60, customer="alice")
    await pending_lot(wallet, "alice", 500, available_in=timedelta(days=3))
    with pytest.raises(InsufficientCredit):
        await wallet.transfer_credit(cmd(41))
    t = await wallet.transfer_credit(cmd(40))
    assert t.amount == 40
    a = await balance(wallet, "alice")
    assert (a.available, a.held, a.pending) == (0, 60, 500)
    assert (await balance(wallet, "bob")).available == 40


async def test_both_customers_get_an_event_and_a_transaction_of_their_own(wallet: WalletService) -> None:
    await credit(wallet, 100, customer="alice")
    t = await wallet.transfer_credit(cmd(70, note="private text"))
    async with wallet.db.read() as conn:
        events = (await conn.execute(text(
            "SELECT customer_id, type, amount, transaction_id FROM wallet_events "
            "WHERE type LIKE 'transferred%' ORDER BY customer_id"))).all()
        txs = (await conn.execute(text(
            "SELECT customer_id, type, amount, reason FROM wallet_transactions WHERE type LIKE 'transfer%' "
            "ORDER BY customer_id"))).all()
    assert [tuple(e) for e in events] == [("alice", "transferred_out", 70, t.debit_transaction_id),
                                          ("bob", "transferred_in", 70, t.credit_transaction_id)]
    ref = f"transfer {t.transfer_id}"
    assert [tuple(x) for x in txs] == [("alice", "transfer_out", -70, ref), ("bob", "transfer_in", 70, ref)]


async def test_a_replay_returns_the_same_transfer_and_moves_nothing_more(wallet: WalletService) -> None:
    await credit(wallet, 100, customer="alice")
    c = cmd(30)
    first = await wallet.transfer_credit(c)
    again = await wallet.transfer_credit(c)
    assert again == first
    assert ((await balance(wallet, "alice")).available, (await balance(wallet, "bob")).available) == (70, 30)


async def test_a_key_reused_for_another_transfer_is_refused(wallet: WalletService) -> None:
    await credit(wallet, 100, customer="alice")
    await wallet.transfer_credit(cmd(30, idem="k1"))
    with pytest.raises(AlreadyExists):
        await wallet.transfer_credit(cmd(31, idem="k1"))
    assert (await balance(wallet, "bob")).available == 30


async def test_a_refusal_for_want_of_credit_is_replayed_even_after_credit_arrives(wallet: WalletService) -> None:
    await credit(wallet, 10, customer="alice")
    c = cmd(50)
    with pytest.raises(InsufficientCredit):
        await wallet.transfer_credit(c)
    await credit(wallet, 100, customer="alice")
    with pytest.raises(FailedPrecondition):
        await wallet.transfer_credit(c)
    assert ((await balance(wallet, "alice")).available, (await balance(wallet, "bob")).available) == (110, 0)


async def test_a_transfer_to_oneself_is_refused_and_changes_nothing(wallet: WalletService) -> None:
    await credit(wallet, 100, customer="alice")
    with pytest.raises(InvalidArgument) as err:
        await wallet.transfer_credit(cmd(10, "alice", "alice"))
    assert err.value.reason == "SELF_TRANSFER"
    assert [v.field for v in err.value.violations] == ["to_customer_id"]
    assert (await balance(wallet, "alice")).available == 100


async def test_a_transfer_in_another_currency_is_refused(wallet: WalletService) -> None:
    await credit(wallet, 100, customer="alice")
    await credit(wallet, 100, customer="bob", currency="AED")
    with pytest.raises(FailedPrecondition) as err:
        await wallet.transfer_credit(cmd(10, currency="AED"))
    assert (err.value.reason, err.value.metadata["field"]) == ("CURRENCY_MISMATCH", "from_customer_id")
    with pytest.raises(FailedPrecondition) as err:
        await wallet.transfer_credit(cmd(10))
    assert (err.value.reason, err.value.metadata["field"]) == ("CURRENCY_MISMATCH", "to_customer_id")
    assert ((await balance(wallet, "alice")).available, (await balance(wallet, "bob", "AED")).available) == (100, 100)


async def test_concurrent_transfers_both_ways_conserve_the_total_and_never_go_negative(
        wallet: WalletService) -> None:
    await credit(wallet, 1000, customer="alice", expires_in=timedelta(days=40))
    await credit(wallet, 1000, customer="bob", expires_in=timedelta(days=50))
    rng = random.Random(17)
    legs = [("alice", "bob") if i % 2 else ("bob", "alice") for i in range(100)]
    results = await asyncio.gather(*(wallet.transfer_credit(cmd(rng.randint(1, 120), a, b)) for a, b in legs),
                                   return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, InsufficientCredit) for r in refused), refused
    a, b = await balance(wallet, "alice"), await balance(wallet, "bob")
    assert a.available + b.available == 2000
    net = sum(t.amount if t.to_customer_id == "alice" else -t.amount for t in done)
    assert a.available == 1000 + net
    assert len(done) >= 50
