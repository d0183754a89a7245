"""The wallet over real gRPC: balances, adjustments,
holds, history paging, and bad input that gives clear codes and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb

from tests.support.servers import ServiceHandle, auth, running_service
from tests.wallet.grpc_helpers import OPS, adjust, balance, money, stub, violations


@pytest.fixture
async def wallet_server(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("wallet", database_url=pg_url) as svc:
        yield svc


async def test_an_unknown_customer_has_a_zero_balance(wallet_server: ServiceHandle) -> None:
    b = await balance(stub(wallet_server.channel), customer="nobody")
    assert (b.available.amount_minor, b.pending.amount_minor, b.held.amount_minor) == (0, 0, 0)
    assert b.available.currency_code == "SAR"


async def test_adjustments_credit_and_debit_available_with_balanced_entries(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    tx = await adjust(s, 1500)
    assert tx.type == pb.TRANSACTION_TYPE_ADJUSTMENT and tx.amount.amount_minor == 1500
    assert sum(e.amount.amount_minor for e in tx.entries) == 0
    await adjust(s, -500)
    assert (await balance(s)).available.amount_minor == 1000


async def test_an_adjustment_replay_returns_the_original_transaction(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    req = pb.AdjustBalanceRequest(merchant_id="m1", customer_id="c1", amount=money(700), reason="r",
                                  idempotency_key="adj-1")
    first = (await s.AdjustBalance(req, metadata=OPS)).transaction
    again = (await s.AdjustBalance(req, metadata=OPS)).transaction
    assert again == first
    assert (await balance(s)).available.amount_minor == 700
    req.amount.amount_minor = 800
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.AdjustBalance(req, metadata=OPS)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS and "adj-1" in (err.value.details() or "")


@pytest.mark.parametrize(
    ("amount", "reason", "key", "field"),
    [
        (0, "r", "k", "amount.amount_minor"),
        (100, "", "k", "reason"),
        (100, "r", "", "idempotency_key"),
    ],
)
async def test_bad_adjustments_are_invalid_and_change_nothing(
    wallet_server: ServiceHandle, amount: int, reason: str, key: str, field: str
) -> None:
    s = stub(wallet_server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.AdjustBalance(pb.AdjustBalanceRequest(
            merchant_id="m1", customer_id="c1", amount=money(amount), reason=reason, idempotency_key=key),
            metadata=OPS)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(err.value)
    assert (await balance(s)).available.amount_minor == 0


async def test_a_debit_above_available_is_a_failed_precondition(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 100)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await adjust(s, -101)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await balance(s)).available.amount_minor == 100


@pytest.mark.parametrize(
    ("amount", "field"),
    [(-5, "amount.amount_minor"), (0, "amount.amount_minor"), (None, "amount")],
)
async def test_bad_authorizations_are_invalid_and_change_nothing(
    wallet_server: ServiceHandle, amount: int | None, field: str
) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 1000)
    req = pb.AuthorizeRedemptionRequest(merchant_id="m1", customer_id="c1", order_id="o1", idempotency_key="k")
    if amount is not None:
        req.amount.CopyFrom(money(amount))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.AuthorizeRedemption(req, metadata=auth("checkout"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(err.value)
    b = await balance(s)
    assert (b.available.amount_minor, b.held.amount_minor) == (1000, 0)


async def test_hold_lifecycle_over_grpc_with_clear_codes(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    co = auth("checkout")
    await adjust(s, 1000)
    hold = (await s.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id="c1", order_id="o1", amount=money(600), idempotency_key="h1"),
        metadata=co)).hold
    assert hold.status == pb.HOLD_STATUS_ACTIVE and hold.amount.amount_minor == 600
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id,
                                                              amount=money(601)), metadata=co)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id,
                                                              amount=money(100, "USD")), metadata=co)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id="hold_unknown"),
                                  metadata=co)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id="c1", order_id="o2", amount=money(401), idempotency_key="h2"),
            metadata=co)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    done = (await s.CaptureRedemption(pb.CaptureRedemptionRequest(
        merchant_id="m1", hold_id=hold.hold_id, amount=money(450)), metadata=co)).hold
    assert done.status == pb.HOLD_STATUS_CAPTURED and done.captured.amount_minor == 450
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.VoidRedemption(pb.VoidRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id), metadata=co)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    b = await balance(s)
    assert (b.available.amount_minor, b.held.amount_minor) == (550, 0)


async def test_another_merchants_key_cannot_touch_a_hold(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.VoidRedemption(pb.VoidRedemptionRequest(merchant_id="m2", hold_id="x"), metadata=auth("checkout"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_transactions_page_newest_first_with_opaque_tokens(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    for i in range(1, 6):
        await adjust(s, i * 100)
    seen: list[int] = []
    token = ""
    while True:
        resp = await s.ListTransactions(pb.ListTransactionsRequest(
            merchant_id="m1", customer_id="c1", page_size=2, page_token=token), metadata=auth("app"))
        seen += [tx.amount.amount_minor for tx in resp.transactions]
        token = resp.next_page_token
        if not token:
            break
    assert seen == [500, 400, 300, 200, 100]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.ListTransactions(pb.ListTransactionsRequest(
            merchant_id="m1", customer_id="c1", page_token="not-a-token"), metadata=auth("app"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stream_delivers_every_change_in_order_and_resumes_from_a_cursor(
    wallet_server: ServiceHandle,
) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 100)
    await adjust(s, 200, customer="c2")
    call = s.StreamEvents(pb.StreamEventsRequest(merchant_id="m1"), metadata=auth("service"))
    got = [await call.read(), await call.read()]
    await adjust(s, 300)
    got.append(await call.read())
    call.cancel()
    assert [e.event.amount.amount_minor for e in got] == [100, 200, 300]
    assert all(e.event.type == pb.WALLET_EVENT_TYPE_ADJUSTED for e in got)
    cursors = [e.event.cursor for e in got]
    assert cursors == sorted(cursors)
    call = s.StreamEvents(pb.StreamEventsRequest(merchant_id="m1", after_cursor=cursors[0]),
                          metadata=auth("service"))
    assert (await call.read()).event.amount.amount_minor == 200
    call.cancel()


async def test_an_absurd_amount_is_invalid_not_an_internal_error(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await adjust(s, 2**62)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "amount.amount_minor" in violations(err.value)


async def test_an_adjustment_is_audited_once_naming_the_key_by_id_and_ops_list_it_per_merchant(
    wallet_server: ServiceHandle,
) -> None:
    import hashlib
    import json

    from tests.support.keys import TEST_KEYS

    s = stub(wallet_server.channel)
    request = pb.AdjustBalanceRequest(merchant_id="m1", customer_id="c1", amount=money(700), reason="goodwill",
                                      idempotency_key="audited-1")
    first = await s.AdjustBalance(request, metadata=OPS)
    await s.AdjustBalance(request, metadata=OPS)  # a replay changes nothing and is not audited again
    with pytest.raises(grpc.aio.AioRpcError):  # a refusal changes nothing either
        await s.AdjustBalance(pb.AdjustBalanceRequest(merchant_id="m1", customer_id="c1", amount=money(-10_000),
                                                      reason="oops", idempotency_key="audited-2"), metadata=OPS)
    events = (await s.ListAuditEvents(pb.ListAuditEventsRequest(merchant_id="m1"), metadata=OPS)).events
    assert len(events) == 1
    (event,) = events
    key = TEST_KEYS["ops"]
    assert event.key_id == hashlib.sha256(key.encode()).hexdigest()[:8] and key not in str(event)
    assert (event.role, event.merchant_id, event.action, event.target) == ("ops", "m1", "AdjustBalance", "c1")
    change = json.loads(event.change_json)
    assert (change["amount"], change["reason"], change["transaction_id"]) == (
        "7.00 SAR", "goodwill", first.transaction.transaction_id)
    assert event.at.ToDatetime().year >= 2026
    assert list((await s.ListAuditEvents(pb.ListAuditEventsRequest(merchant_id="m2"), metadata=OPS)).events) == []
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await s.ListAuditEvents(pb.ListAuditEventsRequest(merchant_id="m1"), metadata=auth("checkout"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
