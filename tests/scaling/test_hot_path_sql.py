"""Every SQL statement the wallet runs on the checkout hot path, listed and counted.

Each write is the customer aggregate's four statements -- BEGIN, one that locks
the customer and loads what the use case needs, one that writes every change,
COMMIT -- whatever it touches. RefundOrder is two statements in autocommit: the
decision's load (before rules is asked to reverse, so that it never reverses
what the wallet would refuse) and a write made only if that load is unchanged
(tests/wallet/test_refund_optimistic.py covers the path where it changed). And
each statement touches one customer only: the property that lets the wallet be
distributed by customer (Citus) with no cross-shard transaction. See
docs/wallet.md and docs/scaling.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.duration_pb2 import Duration

from cashback_services.wallet.adapters import repository
from tests.support.servers import auth, running_service
from tests.support.sql import recorded
from tests.wallet.stack import Stack, order, sar, ts

pytestmark = pytest.mark.postgres
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)|FOR UPDATE|wallet_write", re.IGNORECASE | re.DOTALL)
_TABLE = re.compile(r"\b(wallet_\w+)\b")
_AGGREGATE = ["BEGIN", "SELECT wallet_load($1::jsonb)::text", "SELECT wallet_write($1::jsonb)", "COMMIT"]
# An ops adjustment writes its audit row in the same statement as the ledger change (a CTE).
_AUDITED = ["BEGIN", "SELECT wallet_load($1::jsonb)::text", "WITH", "COMMIT"]
# RefundOrder (migration 0013): load with the version of what it read, lock held for that statement
# only; after rules answers, write if under the lock the version is still that one.
_REFUND = [" ".join(sql.split()) for sql in (repository._PEEK, repository._WRITE_IF)]

# Statements per RPC, BEGIN and COMMIT included (issue 13: at most 4 per write).
EXPECTED = {
    "AwardOrder": _AGGREGATE,
    "AwardEvent": _AGGREGATE,
    "GetBalance": ["SELECT"],
    "AuthorizeRedemption": _AGGREGATE,
    "CaptureRedemption": _AGGREGATE,
    "VoidRedemption": _AGGREGATE,
    "AdjustBalance (credit)": _AUDITED,
    "AdjustBalance (debit)": _AUDITED,
    "RefundOrder": _REFUND,
}


async def test_every_checkout_write_is_four_statements_on_one_customer(pg_url, capsys):
    async with running_service("rules", database_url=pg_url) as rules, running_service(
        "wallet", database_url=pg_url,
        env={"RULES_TARGET": rules.target, "WALLET_SWEEP_INTERVAL_SECONDS": "0"},
    ) as wallet:
        stack = Stack(rules, wallet)
        await stack.campaign(bps=1000)
        await stack.campaign(event_type="product_review", fixed=300)
        # Another customer with history, so a statement that strays would show.
        await stack.w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order("o-other", 90000, customer="cust-b")),
                                 metadata=auth("checkout"))
        a = "cust-a"
        calls: dict[str, list[tuple[str, list[str]]]] = {}
        w = stack.w
        md = auth("checkout")

        async def call(name: str, rpc, request):
            with recorded(wallet.db) as seen:
                response = await rpc(request, metadata=md if "Adjust" not in name else auth("ops"))
            calls[name] = list(seen)
            return response

        await call("AwardOrder", w.AwardOrder, wallet_pb2.AwardOrderRequest(order=order(
            "o-a1", 100000, customer=a)))
        await call("AwardEvent", w.AwardEvent, wallet_pb2.AwardEventRequest(
            merchant_id="m1", customer_id=a, event_type="product_review", event_id="e-a1",
            occurred_at=ts(datetime.now(UTC))))
        await call("GetBalance", w.GetBalance, wallet_pb2.GetBalanceRequest(
            merchant_id="m1", customer_id=a, currency_code="SAR"))
        hold = (await call("AuthorizeRedemption", w.AuthorizeRedemption, wallet_pb2.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id=a, order_id="o-a2", amount=sar(5000), hold_ttl=Duration(seconds=60),
            idempotency_key="auth-a2"))).hold
        await call("CaptureRedemption", w.CaptureRedemption, wallet_pb2.CaptureRedemptionRequest(
            merchant_id="m1", hold_id=hold.hold_id, amount=sar(3000)))
        other = (await w.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id=a, order_id="o-a3", amount=sar(1000), idempotency_key="auth-a3"),
            metadata=md)).hold
        await call("VoidRedemption", w.VoidRedemption, wallet_pb2.VoidRedemptionRequest(
            merchant_id="m1", hold_id=other.hold_id))
        for name, minor in (("AdjustBalance (credit)", 700), ("AdjustBalance (debit)", -200)):
            await call(name, w.AdjustBalance, wallet_pb2.AdjustBalanceRequest(
                merchant_id="m1", customer_id=a, amount=sar(minor), reason="goodwill", idempotency_key=name))
        await call("RefundOrder", w.RefundOrder, wallet_pb2.RefundOrderRequest(
            merchant_id="m1", order_id="o-a1", refund_id="r-a1", refunded_amount=sar(50000)))

    with capsys.disabled():
        print("\nwallet hot path, every statement:")
        for rpc, statements in calls.items():
            print(f"  {rpc}: {len(statements)}")
            for sql, _ in statements:
                print(f"    {sql[:160]}")
    for rpc, statements in calls.items():
        shapes = [sql if sql in _AGGREGATE + _REFUND else sql.split()[0].upper() for sql, _ in statements]
        assert shapes == EXPECTED[rpc], f"{rpc} ran {shapes}"
        for sql, params in statements:
            if any("cust-b" in p for p in params):
                pytest.fail(f"{rpc} touched another customer's rows: {sql}")
            if _WRITE.search(sql) and _TABLE.search(sql) and "wallet_events" not in sql:
                named = any(a in p for p in params)
                assert named, f"{rpc} writes or locks wallet rows without naming the customer: {sql}"
