"""The rewards catalogue and the transfer policy over real gRPC: ops keeps the
catalogue, checkout and the app list and redeem, refusals carry their reason
(the auditor runs after each test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb

from tests.security.conftest import rich_details
from tests.support.servers import ServiceHandle, auth, running_service
from tests.wallet.grpc_helpers import OPS, adjust, balance, money, stub

CHECKOUT, APP = auth("checkout"), auth("app")


@pytest.fixture
async def wallet_server(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("wallet", database_url=pg_url) as svc:
        yield svc


def mug(**kw: object) -> pb.Reward:
    fields: dict[str, object] = {
        "merchant_id": "m1",
        "reward_id": "mug",
        "points_cost": 120,
        "active": True,
        "names": {"fa": "ماگ قهوه", "ar": "كوب قهوة", "en": "Coffee mug"},
        **kw,
    }
    return pb.Reward(**fields)  # type: ignore[arg-type]


def redeem(reward_id: str = "mug", customer: str = "c1") -> pb.RedeemRewardRequest:
    return pb.RedeemRewardRequest(
        merchant_id="m1", customer_id=customer, reward_id=reward_id, idempotency_key=uuid.uuid4().hex
    )


async def refusal(call: object, req: object, md: object = CHECKOUT) -> tuple[grpc.StatusCode, str, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(req, metadata=md)  # type: ignore[operator]
    info, fields = rich_details(err.value)
    return err.value.code(), info.reason, fields


async def test_the_app_redeems_a_reward_with_points_converted_from_credit(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    saved = (await s.UpsertReward(pb.UpsertRewardRequest(reward=mug(stock=2)), metadata=OPS)).reward
    assert (saved.stock, saved.redeemed_count, saved.names["fa"]) == (2, 0, "ماگ قهوه")
    await s.SetPointsRate(pb.SetPointsRateRequest(merchant_id="m1", points=1, per=money(100)), metadata=OPS)
    await adjust(s, 20_000)
    await s.ConvertCredit(
        pb.ConvertCreditRequest(
            merchant_id="m1", customer_id="c1", credit=money(15_000), idempotency_key=uuid.uuid4().hex
        ),
        metadata=CHECKOUT,
    )
    listed = (await s.ListRewards(pb.ListRewardsRequest(merchant_id="m1", active_only=True), metadata=APP)).rewards
    assert [(r.reward_id, r.points_cost, r.stock) for r in listed] == [("mug", 120, 2)]
    done = (await s.RedeemReward(redeem(), metadata=APP)).redemption
    assert (done.points, done.reward_id) == (120, "mug")
    b = await balance(s)
    assert (b.available.amount_minor, b.points) == (5_000, 30)
    history = (
        await s.ListTransactions(pb.ListTransactionsRequest(merchant_id="m1", customer_id="c1"), metadata=OPS)
    ).transactions
    assert history[0].type == pb.TRANSACTION_TYPE_REWARD
    assert history[0].transaction_id == done.transaction_id
    again = (await s.ListRewards(pb.ListRewardsRequest(merchant_id="m1"), metadata=CHECKOUT)).rewards
    assert [(r.stock, r.redeemed_count) for r in again] == [(1, 1)]


async def test_refusals_carry_their_reason_and_bad_rewards_name_the_field(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await s.UpsertReward(pb.UpsertRewardRequest(reward=mug()), metadata=OPS)
    await s.UpsertReward(pb.UpsertRewardRequest(reward=mug(reward_id="pen", points_cost=1, stock=0)), metadata=OPS)
    await s.UpsertReward(pb.UpsertRewardRequest(reward=mug(reward_id="old", points_cost=1, active=False)), metadata=OPS)
    assert (await refusal(s.RedeemReward, redeem()))[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_POINTS")
    assert (await refusal(s.RedeemReward, redeem("pen")))[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "OUT_OF_STOCK")
    assert (await refusal(s.RedeemReward, redeem("old")))[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REWARD_INACTIVE",
    )
    assert (await refusal(s.RedeemReward, redeem("none")))[0] == grpc.StatusCode.NOT_FOUND
    assert (await refusal(s.RedeemReward, pb.RedeemRewardRequest(merchant_id="m1", customer_id="c1", reward_id="mug")))[
        0::2
    ] == (grpc.StatusCode.INVALID_ARGUMENT, ["idempotency_key"])
    upsert = s.UpsertReward
    for bad, field in (
        (mug(points_cost=0), "reward.points_cost"),
        (mug(stock=-3), "reward.stock"),
        (mug(names={}), "reward.names"),
        (mug(names={"english!": "Mug"}), "reward.names[english!]"),
        (mug(reward_id=""), "reward.reward_id"),
    ):
        code, _, fields = await refusal(upsert, pb.UpsertRewardRequest(reward=bad), OPS)
        assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, [field])
    assert (await refusal(upsert, pb.UpsertRewardRequest(reward=mug()), CHECKOUT))[
        0
    ] == grpc.StatusCode.PERMISSION_DENIED
    listed = (await s.ListRewards(pb.ListRewardsRequest(merchant_id="m1"), metadata=OPS)).rewards
    assert [(r.reward_id, r.redeemed_count) for r in listed] == [("mug", 0), ("old", 0), ("pen", 0)]


async def test_rewards_come_in_pages_that_only_this_query_can_continue(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    for i in range(5):
        await s.UpsertReward(pb.UpsertRewardRequest(reward=mug(reward_id=f"r{i}", active=i % 2 == 0)), metadata=OPS)
    first = await s.ListRewards(pb.ListRewardsRequest(merchant_id="m1", active_only=True, page_size=2), metadata=OPS)
    second = await s.ListRewards(
        pb.ListRewardsRequest(merchant_id="m1", active_only=True, page_size=2, page_token=first.next_page_token),
        metadata=OPS,
    )
    assert [r.reward_id for r in first.rewards] + [r.reward_id for r in second.rewards] == ["r0", "r2", "r4"]
    assert second.next_page_token == ""
    other = pb.ListRewardsRequest(merchant_id="m1", page_size=2, page_token=first.next_page_token)
    assert (await refusal(s.ListRewards, other, OPS))[:2] == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")


async def test_a_merchant_that_takes_known_receivers_only_refuses_a_transfer_to_a_stranger(
    wallet_server: ServiceHandle,
) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 500, customer="alice")
    await adjust(s, 10, customer="bob")
    policy = (
        await s.SetTransferPolicy(
            pb.SetTransferPolicyRequest(merchant_id="m1", require_known_receiver=True), metadata=OPS
        )
    ).policy
    assert policy.require_known_receiver

    def send(to: str) -> pb.TransferCreditRequest:
        return pb.TransferCreditRequest(
            merchant_id="m1",
            from_customer_id="alice",
            to_customer_id=to,
            amount=money(100),
            idempotency_key=uuid.uuid4().hex,
        )

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.TransferCredit(send("stranger"), metadata=CHECKOUT)
    info, _ = rich_details(err.value)
    assert (err.value.code(), info.reason, info.metadata["field"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "UNKNOWN_RECEIVER",
        "to_customer_id",
    )
    assert "to_customer_id" in (err.value.details() or "")
    await s.TransferCredit(send("bob"), metadata=CHECKOUT)
    assert (await balance(s, "bob")).available.amount_minor == 110
    assert (await refusal(s.SetTransferPolicy, pb.SetTransferPolicyRequest(merchant_id="m1"), CHECKOUT))[
        0
    ] == grpc.StatusCode.PERMISSION_DENIED
