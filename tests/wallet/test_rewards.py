"""The rewards catalogue and the known-receiver rule on the service layer over
a real database (the auditor, which checks every redemption's entries and
each reward's count against its records, runs after each test)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from cashback_kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cashback_kit.money import Money
from cashback_services.wallet.domain.points import POINTS, Rate
from cashback_services.wallet.domain.rewards import Reward
from cashback_services.wallet.service_layer.handlers import WalletService
from cashback_services.wallet.service_layer.points import ConvertCredit
from cashback_services.wallet.service_layer.rewards import RedeemReward
from cashback_services.wallet.service_layer.transfers import TransferCredit
from tests.wallet.conftest import Clock
from tests.wallet.helpers import C, M, balance, credit, key


async def give_points(
    wallet: WalletService, points: int, customer: str = C, expires_in: timedelta | None = None
) -> None:
    """Points as a customer gets them today: credit converted at 1 point per minor unit."""
    await wallet.set_points_rate(M, Rate("SAR", 1, 1))
    await credit(wallet, points, customer=customer, expires_in=expires_in)
    idem = key()
    await wallet.convert_credit(ConvertCredit(M, customer, True, "SAR", points, idem, idem))


async def reward(
    wallet: WalletService, cost: int = 100, stock: int | None = None, active: bool = True, reward_id: str = "mug"
) -> Reward:
    return await wallet.upsert_reward(Reward(M, reward_id, {"en": "Coffee mug", "fa": "ماگ قهوه"}, cost, stock, active))


def redeem(reward_id: str = "mug", customer: str = C, idem: str | None = None) -> RedeemReward:
    idem = idem or key()
    return RedeemReward(M, customer, reward_id, idem, f"fp-{idem}-{customer}-{reward_id}")


async def points_of(wallet: WalletService, customer: str = C) -> int:
    return (await balance(wallet, customer)).points


async def stock_of(wallet: WalletService, reward_id: str = "mug") -> int | None:
    rows, _ = await wallet.list_rewards(M, False, 50, "")
    return next(r.stock for r in rows if r.reward_id == reward_id)


async def test_a_redemption_spends_the_earliest_expiring_points_in_one_transaction_and_takes_one_from_stock(
    wallet: WalletService, clock: Clock
) -> None:
    await give_points(wallet, 80, expires_in=timedelta(days=5))
    await give_points(wallet, 300, expires_in=timedelta(days=50))
    await reward(wallet, cost=100, stock=3)
    r = await wallet.redeem_reward(redeem())
    assert (r.points, r.reward_id, r.customer_id) == (100, "mug", C)
    assert await points_of(wallet) == 280
    assert await stock_of(wallet) == 2
    async with wallet.db.read() as conn:
        entries = (
            await conn.execute(
                text("SELECT account, currency, amount FROM wallet_entries WHERE transaction_id = :t ORDER BY id"),
                {"t": r.transaction_id},
            )
        ).all()
        tx_type = (
            await conn.execute(
                text("SELECT type FROM wallet_transactions WHERE transaction_id = :t"), {"t": r.transaction_id}
            )
        ).scalar_one()
    assert [tuple(e) for e in entries] == [("customer:available", POINTS, -100), ("rewards:redeemed", POINTS, 100)]
    assert tx_type == "reward"
    clock.advance(days=6)  # the 80 expiring first were spent: nothing of the 280 left expires now
    assert await points_of(wallet) == 280


async def test_refusals_name_their_reason_change_nothing_and_are_refused_again_on_replay(wallet: WalletService) -> None:
    await give_points(wallet, 150)
    await reward(wallet, cost=200, reward_id="lamp")
    await reward(wallet, cost=10, stock=0, reward_id="pen")
    await reward(wallet, cost=10, active=False, reward_id="old")
    for reward_id, reason in (("lamp", "INSUFFICIENT_POINTS"), ("pen", "OUT_OF_STOCK"), ("old", "REWARD_INACTIVE")):
        cmd = redeem(reward_id)
        with pytest.raises(FailedPrecondition) as err:
            await wallet.redeem_reward(cmd)
        assert (err.value.reason, err.value.metadata["reward_id"]) == (reason, reward_id)
        with pytest.raises(FailedPrecondition) as again:
            await wallet.redeem_reward(cmd)
        assert again.value.reason == reason
    with pytest.raises(NotFound):
        await wallet.redeem_reward(redeem("nothing"))
    assert await points_of(wallet) == 150
    assert [(r.reward_id, r.stock, r.redeemed_count) for r in (await wallet.list_rewards(M, False, 50, ""))[0]] == [
        ("lamp", None, 0),
        ("old", None, 0),
        ("pen", 0, 0),
    ]


async def test_a_replay_returns_the_same_redemption_and_a_reused_key_is_refused(wallet: WalletService) -> None:
    await give_points(wallet, 500)
    await reward(wallet, cost=100, stock=10)
    await reward(wallet, cost=100, reward_id="cap")
    cmd = redeem()
    first = await wallet.redeem_reward(cmd)
    assert await wallet.redeem_reward(cmd) == first
    with pytest.raises(AlreadyExists):
        await wallet.redeem_reward(RedeemReward(M, C, "cap", cmd.idempotency_key, "another payload"))
    assert (await points_of(wallet), await stock_of(wallet)) == (400, 9)


async def test_concurrent_redemptions_of_the_last_items_never_take_stock_below_zero(wallet: WalletService) -> None:
    customers = [f"c{i}" for i in range(12)]
    for c in customers:
        await give_points(wallet, 100, customer=c)
    await reward(wallet, cost=100, stock=5)
    results = await asyncio.gather(
        *(wallet.redeem_reward(redeem(customer=c)) for c in customers), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, FailedPrecondition)]
    assert (len(won), len(refused)) == (5, 7)
    assert {r.reason for r in refused} == {"OUT_OF_STOCK"}
    assert await stock_of(wallet) == 0
    assert sorted([await points_of(wallet, c) for c in customers]) == [0] * 5 + [100] * 7


async def test_a_reward_is_stored_only_with_a_positive_cost_a_name_and_stock_not_below_zero(
    wallet: WalletService,
) -> None:
    bad = [
        (Reward(M, "x", {"en": "X"}, 0, None, True), "reward.points_cost"),
        (Reward(M, "x", {"en": "X"}, 10, -1, True), "reward.stock"),
        (Reward(M, "x", {}, 10, None, True), "reward.names"),
        (Reward(M, "x", {"en": " "}, 10, None, True), "reward.names[en]"),
        (Reward(M, "x", {"en": "X" * 201}, 10, None, True), "reward.names[en]"),
    ]
    for r, field in bad:
        with pytest.raises(InvalidArgument) as err:
            await wallet.upsert_reward(r)
        assert [v.field for v in err.value.violations] == [field]
    assert (await wallet.list_rewards(M, False, 50, ""))[0] == []


async def test_an_upsert_replaces_the_reward_and_keeps_its_count(wallet: WalletService) -> None:
    await give_points(wallet, 100)
    await reward(wallet, cost=100, stock=1)
    await wallet.redeem_reward(redeem())
    again = await reward(wallet, cost=50, stock=20, active=False)
    assert (again.points_cost, again.stock, again.active, again.redeemed_count) == (50, 20, False, 1)
    assert [r.reward_id for r in (await wallet.list_rewards(M, True, 50, ""))[0]] == []


async def test_with_known_receivers_only_a_transfer_to_a_customer_without_history_is_refused(
    wallet: WalletService,
) -> None:
    await credit(wallet, 500, customer="alice")
    await credit(wallet, 1, customer="bob")

    def send(to: str) -> TransferCredit:
        idem = key()
        return TransferCredit(M, "alice", to, Money("SAR", 100), idem, "", f"fp-{idem}-{to}")

    await wallet.set_transfer_policy(M, True)
    stranger = send("stranger")
    with pytest.raises(FailedPrecondition) as err:
        await wallet.transfer_credit(stranger)
    assert (err.value.reason, err.value.metadata["field"]) == ("UNKNOWN_RECEIVER", "to_customer_id")
    with pytest.raises(FailedPrecondition):  # refused the same way on replay, and still unknown after it
        await wallet.transfer_credit(stranger)
    with pytest.raises(FailedPrecondition):
        await wallet.transfer_credit(send("stranger"))
    await wallet.transfer_credit(send("bob"))
    assert ((await balance(wallet, "alice")).available, (await balance(wallet, "bob")).available) == (400, 101)
    await wallet.set_transfer_policy(M, False)
    await wallet.transfer_credit(send("stranger"))
    assert (await balance(wallet, "stranger")).available == 100
