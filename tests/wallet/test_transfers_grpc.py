"""TransferCredit over real gRPC on a real wallet server and PostgreSQL (the
auditor runs after each test)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from tests.security.conftest import rich_details
from tests.support.servers import ServiceHandle, auth, running_service
from tests.support.sql import recorded
from tests.wallet.grpc_helpers import OPS, adjust, balance, money, stub

CHECKOUT = auth("checkout")


@pytest.fixture
async def wallet_server(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("wallet", database_url=pg_url) as svc:
        yield svc


def request(minor: int, frm: str = "alice", to: str = "bob", *, idem: str | None = None, currency: str = "SAR",
            note: str = "") -> pb.TransferCreditRequest:
    return pb.TransferCreditRequest(merchant_id="m1", from_customer_id=frm, to_customer_id=to,
                                    amount=money(minor, currency), idempotency_key=idem or uuid.uuid4().hex,
                                    note=note)


async def credit_expiring(s, customer: str, minor: int, days: int) -> datetime:
    expires = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    ts = Timestamp()
    ts.FromDatetime(expires)
    await s.AdjustBalance(pb.AdjustBalanceRequest(merchant_id="m1", customer_id=customer, amount=money(minor),
                                                  reason="goodwill", idempotency_key=uuid.uuid4().hex,
                                                  expires_at=ts), metadata=OPS)
    return expires


async def refusal(call) -> tuple[grpc.StatusCode, str, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    info, fields = rich_details(err.value)
    return err.value.code(), info.reason, fields


async def test_checkout_transfers_part_of_three_lots_and_the_parts_keep_their_expiry(
        wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    e1 = await credit_expiring(s, "alice", 300, 10)
    e2 = await credit_expiring(s, "alice", 200, 20)
    e3 = await credit_expiring(s, "alice", 500, 30)
    t = (await s.TransferCredit(request(700, note="happy birthday"), metadata=CHECKOUT)).transfer
    assert [(p.amount.amount_minor, p.expires_at.ToDatetime(UTC)) for p in t.parts] == [
        (300, e1), (200, e2), (200, e3)]
    assert (t.from_customer_id, t.to_customer_id, t.amount.amount_minor, t.note) == ("alice", "bob", 700,
                                                                                     "happy birthday")
    bob = await balance(s, "bob")
    assert (bob.available.amount_minor, bob.next_expiry_amount.amount_minor) == (700, 300)
    assert bob.next_expiry_at.ToDatetime(UTC) == e1
    assert (await balance(s, "alice")).available.amount_minor == 300
    history = (await s.ListTransactions(pb.ListTransactionsRequest(merchant_id="m1", customer_id="bob"),
                                        metadata=OPS)).transactions
    assert [(x.type, x.transaction_id) for x in history] == [(pb.TRANSACTION_TYPE_TRANSFER_IN,
                                                              t.credit_transaction_id)]
    assert {e.account: e.amount.amount_minor for e in history[0].entries} == {
        "transfer:in_flight": -700, "customer:available": 700}


async def test_both_customers_see_an_event_in_the_stream(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 100, customer="alice")
    await s.TransferCredit(request(40), metadata=CHECKOUT)
    seen = []
    async for item in s.StreamEvents(pb.StreamEventsRequest(merchant_id="m1"), metadata=OPS):
        seen.append((item.event.customer_id, item.event.type, item.event.amount.amount_minor))
        if len(seen) == 3:
            break
    assert seen[1:] == [("alice", pb.WALLET_EVENT_TYPE_TRANSFERRED_OUT, 40),
                        ("bob", pb.WALLET_EVENT_TYPE_TRANSFERRED_IN, 40)]


async def test_a_replay_over_grpc_returns_the_same_transfer(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 100, customer="alice")
    req = request(60)
    first = await s.TransferCredit(req, metadata=CHECKOUT)
    again = await s.TransferCredit(req, metadata=OPS)
    assert again == first
    assert (await balance(s, "bob")).available.amount_minor == 60
    req.amount.amount_minor = 61
    code, _, _ = await refusal(s.TransferCredit(req, metadata=CHECKOUT))
    assert code == grpc.StatusCode.ALREADY_EXISTS


async def test_refusals_carry_a_reason_and_change_nothing(wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 100, customer="alice")
    await adjust(s, 100, customer="carol", currency="AED")
    assert await refusal(s.TransferCredit(request(10, "alice", "alice"), metadata=CHECKOUT)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "SELF_TRANSFER", ["to_customer_id"])
    assert (await refusal(s.TransferCredit(request(101), metadata=CHECKOUT)))[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_CREDIT")
    assert (await refusal(s.TransferCredit(request(10, "alice", "carol"), metadata=CHECKOUT)))[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION, "CURRENCY_MISMATCH")
    assert (await refusal(s.TransferCredit(request(10, currency="AED"), metadata=CHECKOUT)))[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION, "CURRENCY_MISMATCH")
    assert (await refusal(s.TransferCredit(request(0), metadata=CHECKOUT)))[0::2] == (
        grpc.StatusCode.INVALID_ARGUMENT, ["amount.amount_minor"])
    assert (await refusal(s.TransferCredit(request(10, to=""), metadata=CHECKOUT)))[0::2] == (
        grpc.StatusCode.INVALID_ARGUMENT, ["to_customer_id"])
    assert (await refusal(s.TransferCredit(request(10, note="x" * 501), metadata=CHECKOUT)))[0::2] == (
        grpc.StatusCode.INVALID_ARGUMENT, ["note"])
    assert (await refusal(s.TransferCredit(request(10), metadata=auth("app"))))[0] == (
        grpc.StatusCode.PERMISSION_DENIED)
    assert [(await balance(s, c, currency=cur)).available.amount_minor
            for c, cur in (("alice", "SAR"), ("bob", "SAR"), ("carol", "AED"))] == [100, 0, 100]


async def test_100_concurrent_transfers_both_ways_conserve_the_total_and_never_go_negative(
        wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 1000, customer="alice")
    await adjust(s, 1000, customer="bob")
    rng = random.Random(7)
    reqs = [request(rng.randint(1, 150), *(("alice", "bob") if i % 2 else ("bob", "alice"))) for i in range(100)]
    lowest = {"alice": 1000, "bob": 1000}

    async def watch() -> None:
        while True:
            for c in lowest:
                lowest[c] = min(lowest[c], (await balance(s, c)).available.amount_minor)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(s.TransferCredit(r, metadata=CHECKOUT) for r in reqs), return_exceptions=True)
    watcher.cancel()
    done = [r.transfer for r in results if isinstance(r, pb.TransferCreditResponse)]
    refused = [r for r in results if not isinstance(r, pb.TransferCreditResponse)]
    assert all(isinstance(r, grpc.aio.AioRpcError) and r.code() == grpc.StatusCode.FAILED_PRECONDITION
               for r in refused), refused
    alice, bob = (await balance(s, "alice")).available.amount_minor, (await balance(s, "bob")).available.amount_minor
    assert alice + bob == 2000
    assert alice == 1000 + sum(t.amount.amount_minor * (1 if t.to_customer_id == "alice" else -1) for t in done)
    assert min(lowest.values()) >= 0
    assert len(done) >= 50


async def test_a_transfer_is_six_statements_that_name_only_its_two_customers(
        wallet_server: ServiceHandle) -> None:
    s = stub(wallet_server.channel)
    await adjust(s, 100, customer="alice")
    await adjust(s, 100, customer="dave")  # another customer with history: no statement may touch it
    with recorded(wallet_server.db) as seen:
        await s.TransferCredit(request(30), metadata=CHECKOUT)
    shapes = [sql.split("(")[0] if sql.startswith("INSERT") else sql for sql, _ in seen]
    assert shapes == ["BEGIN", "SELECT wallet_load($1::jsonb)::text",
                      "SELECT require_known_receiver FROM wallet_transfer_policies WHERE merchant_id = $1",
                      "SELECT wallet_write($1::jsonb)", "INSERT INTO wallet_transfers ", "COMMIT"]
    assert not any("dave" in p for _, params in seen for p in params)
