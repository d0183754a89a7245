"""Coalitions over real gRPC: the real rules service and the real wallet on
PostgreSQL, with merchant-scoped ops and checkout keys (the auditor runs after
each test). m2 issues the credit, m1 is the partner where it is spent."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2 as pb
from cashback.wallet.v1 import wallet_pb2_grpc

from cashback_kit.client import bearer
from tests.security.conftest import rich_details
from tests.support.servers import ServiceHandle, running_service
from tests.support.sql import recorded
from tests.wallet.grpc_helpers import money
from tests.wallet.stack import ts

KEYS = {f"ops_{m}": f"test-coalition-ops-{m}-0000000" for m in ("m1", "m2", "m3", "m4")} | {
    f"checkout_{m}": f"test-coalition-checkout-{m}-00" for m in ("m1", "m2")}
OPS1, OPS2, OPS3, OPS4 = (bearer(KEYS[f"ops_m{i}"]) for i in range(1, 5))
CO1, CO2 = bearer(KEYS["checkout_m1"]), bearer(KEYS["checkout_m2"])
C = "shopper-7"


@pytest.fixture
async def server(pg_url: str, tmp_path: Path) -> AsyncIterator[ServiceHandle]:
    entries = [{"key": k, "role": name.split("_")[0], "merchants": [name.split("_")[1]]} for name, k in KEYS.items()]
    entries.append({"key": "test-coalition-wallet-svc-000", "role": "wallet-service", "merchants": ["*"]})
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": entries}))
    async with running_service("rules", database_url=pg_url, keys_file=keys) as rules:
        env = {"RULES_TARGET": rules.target, "CASHBACK_SERVICE_KEY": "test-coalition-wallet-svc-000"}
        async with running_service("wallet", database_url=pg_url, keys_file=keys, env=env) as w:
            yield w


@pytest.fixture
def wallet(server: ServiceHandle) -> wallet_pb2_grpc.WalletServiceStub:
    return wallet_pb2_grpc.WalletServiceStub(server.channel)


async def partners(w: wallet_pb2_grpc.WalletServiceStub) -> None:
    """m2 proposes {m2, m1}; m1 joins."""
    await w.CreateCoalition(pb.CreateCoalitionRequest(
        merchant_id="m2", coalition_id="mall", name="Mall partners", member_merchant_ids=["m2", "m1"],
        currency_code="SAR"), metadata=OPS2)
    await w.JoinCoalition(pb.JoinCoalitionRequest(merchant_id="m1", coalition_id="mall"), metadata=OPS1)


async def credit(w: wallet_pb2_grpc.WalletServiceStub, merchant: str, minor: int, ops: object) -> None:
    await w.AdjustBalance(pb.AdjustBalanceRequest(merchant_id=merchant, customer_id=C, amount=money(minor),
                                                  reason="welcome credit", idempotency_key=uuid.uuid4().hex),
                          metadata=ops)


async def available(w: wallet_pb2_grpc.WalletServiceStub, merchant: str, ops: object) -> int:
    resp = await w.GetBalance(pb.GetBalanceRequest(merchant_id=merchant, customer_id=C, currency_code="SAR"),
                              metadata=ops)
    return resp.balance.available.amount_minor


async def owed(w: wallet_pb2_grpc.WalletServiceStub, ops: object, merchant: str) -> list[tuple[str, str, int]]:
    resp = await w.GetSettlement(pb.GetSettlementRequest(merchant_id=merchant, coalition_id="mall"), metadata=ops)
    return [(line.debtor_merchant_id, line.creditor_merchant_id, line.amount.amount_minor) for line in resp.lines]


def order(order_id: str, merchandise: int) -> rules_pb2.Order:
    o = rules_pb2.Order(merchant_id="m1", order_id=order_id, customer_id=C, currency_code="SAR",
                        channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                        lines=[rules_pb2.OrderLine(sku="sku-1", unit_price=money(merchandise), quantity=1)])
    o.placed_at.CopyFrom(ts(datetime.now(UTC)))
    return o


async def stream_until(w: wallet_pb2_grpc.WalletServiceStub, merchant: str, ops: object, kind: int,
                       count: int) -> list[tuple[str, int]]:
    """The merchant's partner events from the start of its stream, until `count` of `kind` arrived."""
    out: list[tuple[str, int]] = []
    stream = w.StreamEvents(pb.StreamEventsRequest(merchant_id=merchant, after_cursor=0), metadata=ops)

    async def read() -> None:
        async for item in stream:
            name = pb.WalletEventType.Name(item.event.type).removeprefix("WALLET_EVENT_TYPE_").lower()
            if name.startswith("partner_") or name == "settlement":
                out.append((name, item.event.amount.amount_minor))
            if sum(1 for n, _ in out if n == pb.WalletEventType.Name(kind)[18:].lower()) == count:
                return

    try:
        await asyncio.wait_for(read(), timeout=30)
    finally:
        stream.cancel()
    return out


async def refund(w: wallet_pb2_grpc.WalletServiceStub, refund_id: str, minor: int) -> pb.RefundOrderResponse:
    return await w.RefundOrder(pb.RefundOrderRequest(merchant_id="m1", order_id="o-77", refund_id=refund_id,
                                                     refunded_amount=money(minor)), metadata=CO1)


async def test_credit_of_m2_spent_at_partner_m1_is_owed_by_m2_and_a_refund_at_m1_reverses_it(
        wallet: wallet_pb2_grpc.WalletServiceStub) -> None:
    w = wallet
    await partners(w)
    await credit(w, "m2", 5000, OPS2)
    await w.AwardOrder(pb.AwardOrderRequest(order=order("o-77", 10_000)), metadata=CO1)
    held = (await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id=C, order_id="o-77", amount=money(3000), idempotency_key="pay-77",
        use_partner_credit=True), metadata=CO1)).hold
    assert [(p.issuer_merchant_id, p.amount.amount_minor) for p in held.parts] == [("m2", 3000)]
    captured = (await w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=held.hold_id),
                                          metadata=CO1)).hold
    assert (captured.status, captured.captured.amount_minor) == (pb.HOLD_STATUS_CAPTURED, 3000)
    assert await available(w, "m2", OPS2) == 2000
    # m2 owes m1 exactly what its credit bought at m1, whichever member asks.
    assert await owed(w, OPS1, "m1") == await owed(w, OPS2, "m2") == [("m2", "m1", 3000)]

    first = await refund(w, "r-1", 2500)  # a quarter of the order: a quarter of the partner credit back
    assert first.credit_returned.amount_minor == 750
    assert await available(w, "m2", OPS2) == 2750
    assert await owed(w, OPS1, "m1") == [("m2", "m1", 2250)]
    assert await refund(w, "r-1", 2500) == first  # a replay changes nothing
    await refund(w, "r-2", 7500)  # the rest of the order: all of it back, nothing owed
    assert await available(w, "m2", OPS2) == 5000
    assert await owed(w, OPS1, "m1") == []

    # Each merchant's stream tells its side: the issuer's customer spent credit at a partner
    # and got it back; the redeemer is owed, then owed less.
    assert await stream_until(w, "m2", OPS2, pb.WALLET_EVENT_TYPE_PARTNER_REFUNDED, 2) == [
        ("partner_redeemed", 3000), ("partner_refunded", 750), ("partner_refunded", 2250)]
    assert await stream_until(w, "m1", OPS1, pb.WALLET_EVENT_TYPE_SETTLEMENT, 3) == [
        ("settlement", 3000), ("settlement", -750), ("settlement", -2250)]


async def test_a_refund_gives_own_and_partner_credit_back_in_the_same_proportion(
        wallet: wallet_pb2_grpc.WalletServiceStub, server: ServiceHandle) -> None:
    w = wallet
    await partners(w)
    await credit(w, "m1", 1000, OPS1)
    await credit(w, "m2", 5000, OPS2)
    await w.AwardOrder(pb.AwardOrderRequest(order=order("o-77", 10_000)), metadata=CO1)
    # A first try for the order, voided: it takes part in nothing the refund gives back.
    first = (await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id=C, order_id="o-77", amount=money(1500), idempotency_key="pay-87",
        use_partner_credit=True), metadata=CO1)).hold
    await w.VoidRedemption(pb.VoidRedemptionRequest(merchant_id="m1", hold_id=first.hold_id), metadata=CO1)
    held = (await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
        merchant_id="m1", customer_id=C, order_id="o-77", amount=money(3000), idempotency_key="pay-88",
        use_partner_credit=True), metadata=CO1)).hold
    assert [(p.issuer_merchant_id, p.amount.amount_minor) for p in held.parts] == [("m1", 1000), ("m2", 2000)]
    with recorded(server.db) as seen:
        await w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m1", hold_id=held.hold_id), metadata=CO1)
    # The usual capture finds no hold by that id (nothing written), then the partner path.
    expected = ["BEGIN", "SELECT wallet_load", "COMMIT", "BEGIN", "SELECT to_jsonb(r)", "SELECT wallet_load",
                "SELECT wallet_write", "INSERT INTO wallet_settlements", "COMMIT"]
    assert len(seen) == len(expected)
    assert all(sql.startswith(prefix) for (sql, _), prefix in zip(seen, expected, strict=True)), seen
    with recorded(server.db) as seen:
        half = await refund(w, "r-half", 5000)
    assert half.credit_returned.amount_minor == 1500  # 500 of m1's own, 1000 of m2's
    assert (await available(w, "m1", OPS1), await available(w, "m2", OPS2)) == (500, 4000)
    assert await owed(w, OPS2, "m2") == [("m2", "m1", 1000)]
    # The refund's read says partner credit paid for the order: the partner path, which locks the
    # issuers' customers too, writes it (not the optimistic write of the redeemer alone).
    assert seen[0][0].startswith("SELECT wallet_load_order("), seen
    expected = ["BEGIN", "SELECT to_jsonb(r)", "SELECT wallet_load", "SELECT wallet_load", "SELECT wallet_write",
                "INSERT INTO wallet_settlements", "COMMIT"]
    assert len(seen) == 1 + len(expected)
    assert all(sql.startswith(prefix) for (sql, _), prefix in zip(seen[1:], expected, strict=True)), seen
    with recorded(server.db) as seen:  # a replay: the read answers it
        assert await refund(w, "r-half", 5000) == half
    assert len(seen) == 1
    assert (await available(w, "m1", OPS1), await available(w, "m2", OPS2)) == (500, 4000)


async def test_an_ops_key_acts_only_for_its_own_merchant(wallet: wallet_pb2_grpc.WalletServiceStub) -> None:
    w = wallet
    await w.CreateCoalition(pb.CreateCoalitionRequest(
        merchant_id="m1", coalition_id="trio", name="Three shops", member_merchant_ids=["m1", "m2", "m3"],
        currency_code="SAR"), metadata=OPS1)
    # m2's ops cannot join for m3, nor propose for m1.
    for call, req in ((w.JoinCoalition, pb.JoinCoalitionRequest(merchant_id="m3", coalition_id="trio")),
                      (w.CreateCoalition, pb.CreateCoalitionRequest(
                          merchant_id="m1", coalition_id="other", name="x", member_merchant_ids=["m1", "m2"],
                          currency_code="SAR"))):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(req, metadata=OPS2)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await w.JoinCoalition(pb.JoinCoalitionRequest(merchant_id="m2", coalition_id="trio"), metadata=OPS2)
    seen = (await w.GetCoalition(pb.GetCoalitionRequest(merchant_id="m3", coalition_id="trio"), metadata=OPS3))
    assert [(m.merchant_id, m.joined) for m in seen.coalition.members] == [("m1", True), ("m2", True), ("m3", False)]
    assert not seen.coalition.active and not seen.coalition.HasField("activated_at")
    with pytest.raises(grpc.aio.AioRpcError) as err:  # not a member: as if it did not exist
        await w.GetCoalition(pb.GetCoalitionRequest(merchant_id="m4", coalition_id="trio"), metadata=OPS4)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    joined = await w.JoinCoalition(pb.JoinCoalitionRequest(merchant_id="m3", coalition_id="trio"), metadata=OPS3)
    assert joined.coalition.active and joined.coalition.HasField("activated_at")
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a checkout key runs checkouts, not coalitions
        await w.GetCoalition(pb.GetCoalitionRequest(merchant_id="m1", coalition_id="trio"), metadata=CO1)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_bad_requests_name_their_fields_and_change_nothing(wallet: wallet_pb2_grpc.WalletServiceStub) -> None:
    w = wallet
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await w.CreateCoalition(pb.CreateCoalitionRequest(
            merchant_id="m1", coalition_id="c 1", name="", member_merchant_ids=["m1", ""], currency_code="SARR"),
            metadata=OPS1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, fields = rich_details(err.value)
    assert set(fields) >= {"coalition_id", "name", "member_merchant_ids[1]", "currency_code"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await w.GetCoalition(pb.GetCoalitionRequest(merchant_id="m1", coalition_id="c1"), metadata=OPS1)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # nothing was created
    await partners(w)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await w.GetSettlement(pb.GetSettlementRequest(
            merchant_id="m1", coalition_id="mall", to=ts(datetime(2026, 1, 1, tzinfo=UTC)),
            **{"from": ts(datetime(2026, 2, 1, tzinfo=UTC))}), metadata=OPS1)
    assert (err.value.code(), rich_details(err.value)[1]) == (grpc.StatusCode.INVALID_ARGUMENT, ["to"])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id=C, order_id="o-1", amount=common_pb2.Money(currency_code="AED",
                                                                                      amount_minor=100),
            idempotency_key="k-aed", use_partner_credit=True), metadata=CO1)
    info, fields = rich_details(err.value)
    assert (err.value.code(), info.reason, fields) == (grpc.StatusCode.INVALID_ARGUMENT, "CURRENCY_MISMATCH",
                                                       ["amount.currency_code"])


async def test_the_default_checkout_path_is_untouched_by_coalitions(wallet: wallet_pb2_grpc.WalletServiceStub,
                                                                    server: ServiceHandle) -> None:
    """Without use_partner_credit a member's checkout spends its own credit only, in
    the same four statements as any merchant's; a partner checkout locks every
    customer it touches with one wallet_load and takes seven."""
    w = wallet
    await partners(w)
    await credit(w, "m2", 500, OPS2)
    await credit(w, "m1", 100, OPS1)
    with recorded(server.db) as seen, pytest.raises(grpc.aio.AioRpcError) as err:
        await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id=C, order_id="o-1", amount=money(200), idempotency_key="own-only"),
            metadata=CO1)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [sql for sql, _ in seen] == ["BEGIN", "SELECT wallet_load($1::jsonb)::text",
                                        "SELECT wallet_write($1::jsonb)", "COMMIT"]
    with recorded(server.db) as seen:
        held = (await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id=C, order_id="o-1", amount=money(200), idempotency_key="with-partner",
            use_partner_credit=True), metadata=CO1)).hold
    loads = [args for sql, args in seen if sql.startswith("SELECT wallet_load")]
    assert len(seen) == 6 and len(loads) == 1
    assert json.loads(loads[0][0])["customers"] == [["m1", C], ["m2", C]]
    assert [(p.issuer_merchant_id, p.amount.amount_minor) for p in held.parts] == [("m1", 100), ("m2", 100)]
    voided = (await w.VoidRedemption(pb.VoidRedemptionRequest(merchant_id="m1", hold_id=held.hold_id),
                                     metadata=CO1)).hold
    assert voided.status == pb.HOLD_STATUS_VOIDED
    assert (await available(w, "m1", OPS1), await available(w, "m2", OPS2)) == (100, 500)
    with pytest.raises(grpc.aio.AioRpcError) as err:  # m2's checkout cannot touch m1's redemption
        await w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id="m2", hold_id=held.hold_id), metadata=CO2)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_partner_checkouts_at_both_members_at_once_never_overspend_nor_deadlock(
        wallet: wallet_pb2_grpc.WalletServiceStub) -> None:
    """Each checkout at m1 may take m2's credit and each at m2 m1's, for one customer:
    both lock the same two rows in the same order, so they queue instead of deadlocking."""
    w = wallet
    await partners(w)
    await credit(w, "m1", 2000, OPS1)
    await credit(w, "m2", 2000, OPS2)

    async def shopper(merchant: str, checkout: object, n: int) -> int:
        spent = 0
        for i in range(n):
            try:
                held = (await w.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
                    merchant_id=merchant, customer_id=C, order_id=f"{merchant}-o{i}", amount=money(170 + 13 * i),
                    idempotency_key=uuid.uuid4().hex, use_partner_credit=True), metadata=checkout)).hold
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err  # only "not enough credit"
                continue
            done = await w.CaptureRedemption(pb.CaptureRedemptionRequest(merchant_id=merchant, hold_id=held.hold_id),
                                             metadata=checkout)
            spent += done.hold.captured.amount_minor
        return spent

    runs = [shopper("m1", CO1, 12), shopper("m2", CO2, 12), shopper("m1", CO1, 12), shopper("m2", CO2, 12)]
    spent = sum(await asyncio.wait_for(asyncio.gather(*runs), timeout=120))  # a deadlock fails, never hangs
    left = await available(w, "m1", OPS1) + await available(w, "m2", OPS2)
    assert left >= 0 and spent + left == 4000  # every captured minor unit came out of a wallet once
    assert spent > 2000  # more than one member's credit: partner credit was spent
    net = await owed(w, OPS1, "m1")
    assert len(net) <= 1 and all(amount <= 2000 for _, _, amount in net)
