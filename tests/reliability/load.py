"""A checkout load for fault tests: per customer, award an order, authorize part
of the credit, capture or void, refund part of the order. Every call carries its
natural key, and a call that fails in a way that is safe to retry (UNAVAILABLE,
ABORTED, DEADLINE_EXCEEDED) is retried with the same key until it is answered.
What was acknowledged is recorded, so the test can check the ledger afterwards."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from google.protobuf.duration_pb2 import Duration

from cashback_kit.client import bearer
from tests.support.keys import TEST_KEYS

RETRY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.DEADLINE_EXCEEDED,
         grpc.StatusCode.CANCELLED}


def sar(minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="SAR", amount_minor=minor)


@dataclass
class Outcome:
    awarded: dict[str, int] = field(default_factory=dict)  # order_id -> credited
    holds: dict[str, str] = field(default_factory=dict)  # idempotency key -> hold_id
    captured: set[str] = field(default_factory=set)
    voided: set[str] = field(default_factory=set)
    refunds: set[str] = field(default_factory=set)
    codes: Counter[str] = field(default_factory=Counter)
    operations: int = 0
    retries: int = 0


class CheckoutLoad:
    def __init__(self, wallet_target: str | list[str], customers: int, *, seed: int = 7,
                 deadline_s: float = 5.0) -> None:
        # Several targets: customers (and each retry) spread over them, like clients behind a balancer.
        self.targets = [wallet_target] if isinstance(wallet_target, str) else list(wallet_target)
        self.customers, self.rng, self.deadline = customers, random.Random(seed), deadline_s
        self.out = Outcome()
        self.md = bearer(TEST_KEYS["checkout"])

    async def _call(self, stub_fn_name: str, request: object, give_up_at: float) -> object:
        """Retry with the same request (same key) until answered; a fresh channel each
        time, so a restarted server on the same address is found again."""
        while True:
            self.out.operations += 1
            async with grpc.aio.insecure_channel(self.rng.choice(self.targets)) as ch:
                fn = getattr(wallet_pb2_grpc.WalletServiceStub(ch), stub_fn_name)
                try:
                    resp = await fn(request, metadata=self.md, timeout=self.deadline)
                    self.out.codes["OK"] += 1
                    return resp
                except grpc.aio.AioRpcError as exc:
                    self.out.codes[exc.code().name] += 1
                    if exc.code() not in RETRY or time.monotonic() > give_up_at:
                        raise
            self.out.retries += 1
            await asyncio.sleep(0.2)

    async def customer(self, i: int, give_up_at: float) -> None:
        cid, oid = f"load-c{i}", f"load-o{i}"
        order = rules_pb2.Order(merchant_id="m1", order_id=oid, customer_id=cid, currency_code="SAR",
                                channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                                lines=[rules_pb2.OrderLine(sku="s", unit_price=sar(10_000 + 100 * (i % 50)),
                                                           quantity=1)])
        order.placed_at.FromDatetime(datetime.now(UTC))
        award = await self._call("AwardOrder", wallet_pb2.AwardOrderRequest(order=order), give_up_at)
        self.out.awarded[oid] = award.credited.amount_minor
        if award.credited.amount_minor <= 0:
            return
        key = f"load-auth{i}"
        try:
            hold = (await self._call("AuthorizeRedemption", wallet_pb2.AuthorizeRedemptionRequest(
                merchant_id="m1", customer_id=cid, order_id=f"{oid}-next", amount=sar(award.credited.amount_minor // 2),
                hold_ttl=Duration(seconds=30), idempotency_key=key), give_up_at)).hold
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.FAILED_PRECONDITION:  # still pending: nothing to spend yet
                return
            raise
        self.out.holds[key] = hold.hold_id
        if i % 3:
            await self._call("CaptureRedemption", wallet_pb2.CaptureRedemptionRequest(
                merchant_id="m1", hold_id=hold.hold_id), give_up_at)
            self.out.captured.add(hold.hold_id)
        else:
            await self._call("VoidRedemption", wallet_pb2.VoidRedemptionRequest(
                merchant_id="m1", hold_id=hold.hold_id), give_up_at)
            self.out.voided.add(hold.hold_id)
        if i % 4 == 0:
            await self._call("RefundOrder", wallet_pb2.RefundOrderRequest(
                merchant_id="m1", order_id=oid, refund_id=f"load-r{i}", refunded_amount=sar(5_000)), give_up_at)
            self.out.refunds.add(f"load-r{i}")

    async def run(self, concurrency: int = 16, budget_s: float = 120.0) -> Outcome:
        give_up_at = time.monotonic() + budget_s
        queue = list(range(self.customers))
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await self.customer(i, give_up_at)

        await asyncio.gather(*(one(i) for i in queue))
        return self.out
