"""Every SQL statement the wallet runs on the checkout hot path, listed, and checked
to touch one customer only: the property that lets the wallet be distributed by
customer (Citus) with no cross-shard transaction. See docs/scaling.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.duration_pb2 import Duration

from tests.support.servers import auth, running_service
from tests.support.sql import recorded
from tests.wallet.stack import Stack, order, sar

pytestmark = pytest.mark.postgres
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)|FOR UPDATE", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"\b(wallet_\w+)\b")


async def test_the_checkout_hot_path_never_writes_or_locks_another_customers_rows(pg_url, capsys):
    async with running_service("rules", database_url=pg_url) as rules, running_service(
        "wallet", database_url=pg_url,
        env={"RULES_TARGET": rules.target, "WALLET_SWEEP_INTERVAL_SECONDS": "0"},
    ) as wallet:
        stack = Stack(rules, wallet)
        await stack.campaign(bps=1000)
        # Another customer with history, so a statement that strays would show.
        await stack.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order("o-other", 90000, customer="cust-b")),
                                 metadata=auth("checkout"))
        a = "cust-a"
        calls: dict[str, list[tuple[str, list[str]]]] = {}
        w = stack.w
        md = auth("checkout")
        with recorded(wallet.db) as seen:
            await w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order("o-a1", 100000, customer=a,
                               placed_at=datetime(2026, 1, 1, tzinfo=UTC))), metadata=md)
        calls["AwardOrder"] = list(seen)
        with recorded(wallet.db) as seen:
            await w.GetBalance(wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id=a, currency_code="SAR"),
                               metadata=md)
        calls["GetBalance"] = list(seen)
        with recorded(wallet.db) as seen:
            hold = (await w.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
                merchant_id="m1", customer_id=a, order_id="o-a2", amount=sar(5000), hold_ttl=Duration(seconds=60),
                idempotency_key="auth-a2"), metadata=md)).hold
        calls["AuthorizeRedemption"] = list(seen)
        with recorded(wallet.db) as seen:
            await w.CaptureRedemption(wallet_pb2.CaptureRedemptionRequest(
                merchant_id="m1", hold_id=hold.hold_id, amount=sar(3000)), metadata=md)
        calls["CaptureRedemption"] = list(seen)
        with recorded(wallet.db) as seen:
            await w.RefundOrder(wallet_pb2.RefundOrderRequest(
                merchant_id="m1", order_id="o-a1", refund_id="r-a1", refunded_amount=sar(50000)), metadata=md)
        calls["RefundOrder"] = list(seen)

    with capsys.disabled():
        print("\nwallet hot path, every statement:")
        for rpc, statements in calls.items():
            print(f"  {rpc}:")
            for sql, _ in statements:
                print(f"    {sql[:160]}")
    for rpc, statements in calls.items():
        assert statements, f"{rpc} ran no SQL? the recorder is broken"
        for sql, params in statements:
            if "cust-b" in params:
                pytest.fail(f"{rpc} touched another customer's rows: {sql}")
            if _WRITE.search(sql) and _TABLE.search(sql) and "wallet_events" not in sql:
                assert a in params, f"{rpc} writes or locks wallet rows without naming the customer: {sql}"
