"""AwardOrder, AwardEvent and RefundOrder against the REAL rules service over
gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2 as pb

from tests.support.pgcluster import free_port
from tests.support.servers import auth, running_service
from tests.wallet.grpc_helpers import balance
from tests.wallet.stack import Stack, order, running_stack, sar, ts

CO = auth("checkout")


@pytest.fixture
async def stack(pg_url: str) -> AsyncIterator[Stack]:
    async with running_stack(pg_url) as s:
        yield s


async def _spend(s: Stack, minor: int, order_id: str) -> pb.Hold:
    hold = (await s.w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id="c1", order_id=order_id, amount=sar(minor), idempotency_key=f"h-{order_id}"),
        metadata=CO)).hold
    return (await s.w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id),
                                        metadata=CO)).hold


async def _refund(s: Stack, order_id: str, refund_id: str, minor: int) -> pb.RefundOrderResponse:
    return await s.w.RefundOrder(pb.RefundOrderRequest(
        merchant_id="m1", order_id=order_id, refund_id=refund_id, refunded_amount=sar(minor)), metadata=CO)


async def test_award_order_credits_one_pending_lot_per_award(stack: Stack) -> None:
    await stack.campaign(bps=1000, pending_days=14, expires_after_days=90)
    await stack.campaign(bps=200, pending_days=14)
    resp = await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 10_000)), metadata=CO)
    assert [a.amount.amount_minor for a in resp.score.awards] == [1000, 200]
    assert resp.credited.amount_minor == 1200
    b = await balance(stack.w)
    assert (b.pending.amount_minor, b.available.amount_minor) == (1200, 0)


async def test_award_order_is_idempotent_by_order_id_end_to_end(stack: Stack) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    o = order("o1", 5000)
    first = await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
    again = await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
    assert again == first
    assert (await balance(stack.w)).pending.amount_minor == 500
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 9999)), metadata=CO)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await balance(stack.w)).pending.amount_minor == 500


async def test_a_retry_after_rules_scored_but_the_wallet_did_not_credit_credits_once(stack: Stack) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    o = order("o1", 5000)
    # As if the wallet crashed right after rules committed the score.
    await stack.r.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=auth("service"))
    resp = await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
    assert resp.credited.amount_minor == 500
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
    assert (await balance(stack.w)).pending.amount_minor == 500


async def test_rules_down_gives_unavailable_and_writes_nothing(stack: Stack, pg_url: str) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    o = order("o1", 5000)
    dead = f"127.0.0.1:{free_port()}"
    async with running_service("wallet", database_url=pg_url, env={"RULES_TARGET": dead}) as lonely:
        from cashback.wallet.v1 import wallet_pb2_grpc

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await wallet_pb2_grpc.WalletServiceStub(lonely.channel).AwardOrder(
                pb.AwardOrderRequest(order=o), metadata=CO)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    b = await balance(stack.w)
    assert (b.pending.amount_minor, b.available.amount_minor) == (0, 0)
    # The checkout retries once rules is back (here: through the wallet that can reach it).
    resp = await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
    assert resp.credited.amount_minor == 500


async def test_a_retry_of_an_award_already_made_is_answered_while_rules_is_down(stack: Stack, pg_url: str) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    await stack.campaign(event_type="product_review", fixed=300)
    o = order("o1", 5000)
    first = await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
    review = pb.AwardEventRequest(merchant_id="m1", customer_id="c1", event_type="product_review", event_id="e1",
                                  occurred_at=ts(datetime.now(UTC)))
    first_event = await stack.w.AwardEvent(review, metadata=CO)
    dead = f"127.0.0.1:{free_port()}"
    async with running_service("wallet", database_url=pg_url, env={"RULES_TARGET": dead}) as lonely:
        from cashback.wallet.v1 import wallet_pb2_grpc

        cut_off = wallet_pb2_grpc.WalletServiceStub(lonely.channel)
        again = await cut_off.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
        assert (again.credited, again.score.awards) == (first.credited, first.score.awards)
        assert (await cut_off.AwardEvent(review, metadata=CO)).credited == first_event.credited
        # The same order id with other contents is still refused, and a new order still needs rules.
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await cut_off.AwardOrder(pb.AwardOrderRequest(order=order("o1", 9999)), metadata=CO)
        assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.aio.AioRpcError) as down:
            await cut_off.AwardOrder(pb.AwardOrderRequest(order=order("o2", 5000)), metadata=CO)
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    b = await balance(stack.w)
    assert (b.pending.amount_minor, b.available.amount_minor) == (500, 300)


async def test_award_event_credits_through_score_event_once(stack: Stack) -> None:
    await stack.campaign(event_type="product_review", fixed=300)
    req = pb.AwardEventRequest(merchant_id="m1", customer_id="c1", event_type="product_review", event_id="e1",
                               occurred_at=ts(datetime.now(UTC)))
    first = await stack.w.AwardEvent(req, metadata=CO)
    again = await stack.w.AwardEvent(req, metadata=CO)
    assert first.credited.amount_minor == again.credited.amount_minor == 300
    assert (await balance(stack.w)).available.amount_minor == 300


async def test_refund_gives_back_redeemed_credit_in_proportion_and_takes_back_pending_cashback(
    stack: Stack,
) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    await stack.w.AdjustBalance(pb.AdjustBalanceRequest(
        merchant_id="m1", customer_id="c1", amount=sar(200), reason="promo", idempotency_key="a1"),
        metadata=auth("ops"))
    await _spend(stack, 200, "o1")
    # 1000 of goods, 200 paid with credit: cashback on 800 = 80, pending.
    award = await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 1000, wallet_paid=200)), metadata=CO)
    assert award.credited.amount_minor == 80
    half = await _refund(stack, "o1", "r1", 500)
    assert (half.credit_returned.amount_minor, half.cashback_reversed.amount_minor, half.debt.amount_minor) == (
        100, 40, 0)
    b = await balance(stack.w)
    assert (b.available.amount_minor, b.pending.amount_minor) == (100, 40)
    replay = await _refund(stack, "o1", "r1", 500)
    assert replay == half
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _refund(stack, "o1", "r1", 400)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    rest = await _refund(stack, "o1", "r2", 500)
    assert (rest.credit_returned.amount_minor, rest.cashback_reversed.amount_minor) == (100, 40)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _refund(stack, "o1", "r3", 1)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    b = await balance(stack.w)
    assert (b.available.amount_minor, b.pending.amount_minor, b.debt.amount_minor) == (200, 0, 0)


async def test_spent_cashback_taken_back_becomes_debt_paid_by_the_next_cashback(stack: Stack) -> None:
    await stack.campaign(bps=1000)  # available at once
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 1000)), metadata=CO)
    await _spend(stack, 100, "o2")
    refund = await _refund(stack, "o1", "r1", 1000)
    assert (refund.cashback_reversed.amount_minor, refund.debt.amount_minor) == (0, 100)
    assert (await balance(stack.w)).debt.amount_minor == 100
    small = await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o3", 500)), metadata=CO)
    assert (small.credited.amount_minor, small.debt_repaid.amount_minor) == (0, 50)
    big = await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o4", 1000)), metadata=CO)
    assert (big.credited.amount_minor, big.debt_repaid.amount_minor) == (50, 50)
    b = await balance(stack.w)
    assert (b.available.amount_minor, b.debt.amount_minor) == (50, 0)
    call = stack.w.StreamEvents(pb.StreamEventsRequest(merchant_id="m1"), metadata=auth("service"))
    events = []
    while len(events) < 12:
        ev = (await asyncio.wait_for(call.read(), 5)).event
        events.append((pb.WalletEventType.Name(ev.type), ev.amount.amount_minor))
        if events[-1] == ("WALLET_EVENT_TYPE_CREDITED", 50):
            break
    call.cancel()
    assert ("WALLET_EVENT_TYPE_REVERSED", 100) in events
    assert events.count(("WALLET_EVENT_TYPE_DEBT_REPAID", 50)) == 2


async def test_refund_of_credit_from_an_expired_lot_expires_again_at_once(stack: Stack) -> None:
    await stack.w.AdjustBalance(pb.AdjustBalanceRequest(
        merchant_id="m1", customer_id="c1", amount=sar(300), reason="promo", idempotency_key="a1",
        expires_at=ts(datetime.now(UTC) + timedelta(seconds=1))), metadata=auth("ops"))
    await _spend(stack, 300, "o1")
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 1000, wallet_paid=300)), metadata=CO)
    await asyncio.sleep(1.2)
    refund = await _refund(stack, "o1", "r1", 1000)
    assert refund.credit_returned.amount_minor == 300
    assert (await balance(stack.w)).available.amount_minor == 0


@pytest.mark.parametrize(
    ("order_id", "amount", "code"),
    [
        ("unknown", sar(100), grpc.StatusCode.NOT_FOUND),
        ("o1", sar(1001), grpc.StatusCode.FAILED_PRECONDITION),
        ("o1", sar(0), grpc.StatusCode.INVALID_ARGUMENT),
        ("o1", rules_pb2.Order().wallet_paid.__class__(currency_code="USD", amount_minor=5),
         grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_bad_refunds_give_clear_codes_and_change_nothing(
    stack: Stack, order_id: str, amount: object, code: grpc.StatusCode
) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 1000)), metadata=CO)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stack.w.RefundOrder(pb.RefundOrderRequest(
            merchant_id="m1", order_id=order_id, refund_id="r1", refunded_amount=amount), metadata=CO)
    assert err.value.code() == code
    assert (await balance(stack.w)).pending.amount_minor == 100


async def test_concurrent_retries_of_one_award_credit_once(stack: Stack) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    o = order("o1", 5000)

    async def award() -> pb.AwardOrderResponse | str:
        try:
            return await stack.w.AwardOrder(pb.AwardOrderRequest(order=o), metadata=CO)
        except grpc.aio.AioRpcError as err:  # a unique-key race is ABORTED: safe to retry
            return err.code().name

    results = await asyncio.gather(*(award() for _ in range(8)))
    answers = [r for r in results if not isinstance(r, str)]
    assert answers and all(r == answers[0] for r in answers)
    assert {r for r in results if isinstance(r, str)} <= {"ABORTED"}
    assert (await balance(stack.w)).pending.amount_minor == 500


async def test_concurrent_refunds_never_exceed_the_order(stack: Stack) -> None:
    await stack.campaign(bps=1000, pending_days=14)
    await stack.w.AwardOrder(pb.AwardOrderRequest(order=order("o1", 1000)), metadata=CO)

    async def refund(i: int) -> str:
        try:
            await _refund(stack, "o1", f"r{i}", 300)
            return "OK"
        except grpc.aio.AioRpcError as err:
            return err.code().name

    outcomes = sorted(await asyncio.gather(*(refund(i) for i in range(5))))
    assert outcomes == ["FAILED_PRECONDITION", "FAILED_PRECONDITION", "OK", "OK", "OK"]
    assert (await balance(stack.w)).pending.amount_minor == 100 - 3 * 30
