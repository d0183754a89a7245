"""Issue 15, point 7, against the real rules and wallet services on PostgreSQL: notify's
key cannot release budget through rules.ReverseOrder any more, the wallet's key cannot
read the wallet's stream, and the deprecated shared key still does both."""

from __future__ import annotations

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from tests.support.servers import auth, running_service

REVERSE = rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id="o-1", refund_id="r-1",
                                        refunded_amount=common_pb2.Money(currency_code="EUR", amount_minor=100))
BALANCE = wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="c1", currency_code="EUR")


async def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        await call
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as exc:
        return exc.code()


async def test_notify_s_key_cannot_reverse_an_order_in_rules_but_the_wallet_s_can(pg_url):
    async with running_service("rules", database_url=pg_url) as rules:
        stub = rules_pb2_grpc.RulesServiceStub(rules.channel)
        assert await _code(stub.ReverseOrder(REVERSE, metadata=auth("notify_service"))) \
            is grpc.StatusCode.PERMISSION_DENIED
        assert await _code(stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=rules_pb2.Order(merchant_id="m1")),
                                           metadata=auth("notify_service"))) is grpc.StatusCode.PERMISSION_DENIED
        # Past authorisation: rules answers about the order itself (it has never seen it).
        for role in ("wallet_service", "service"):
            assert await _code(stub.ReverseOrder(REVERSE, metadata=auth(role))) is grpc.StatusCode.NOT_FOUND


async def test_the_wallet_s_key_cannot_read_the_wallet_and_notify_s_key_can(pg_url):
    async with running_service("wallet", database_url=pg_url) as wallet:
        stub = wallet_pb2_grpc.WalletServiceStub(wallet.channel)
        assert await _code(stub.GetBalance(BALANCE, metadata=auth("wallet_service"))) \
            is grpc.StatusCode.PERMISSION_DENIED
        assert await _code(stub.GetBalance(BALANCE, metadata=auth("notify_service"))) is grpc.StatusCode.OK
        adjust = wallet_pb2.AdjustBalanceRequest(merchant_id="m1", customer_id="c1", reason="x", idempotency_key="k",
                                                 amount=common_pb2.Money(currency_code="EUR", amount_minor=5))
        assert await _code(stub.AdjustBalance(adjust, metadata=auth("notify_service"))) \
            is grpc.StatusCode.PERMISSION_DENIED
        # An empty wallet's stream stays open: past authorisation, the call ends at its deadline.
        for role, expected in (("notify_service", grpc.StatusCode.DEADLINE_EXCEEDED),
                               ("wallet_service", grpc.StatusCode.PERMISSION_DENIED)):
            follow = stub.StreamEvents(wallet_pb2.StreamEventsRequest(), metadata=auth(role), timeout=1)
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await follow.read()
            assert ended.value.code() is expected
