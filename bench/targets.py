"""The measured side of `make bench`: each function sets up its data through the
real services (or, for history volume, balanced SQL the auditor accepts) and
drives a closed loop at the same concurrency as the no-op baseline."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import grpc
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from sqlalchemy import text

from bench.harness import Load, closed_loop
from cashback_kit.client import bearer
from cashback_kit.db import Database
from tests.support.keys import TEST_KEYS

CONCURRENCY = 32
OPS = bearer(TEST_KEYS["ops"])
CHECKOUT = bearer(TEST_KEYS["checkout"])


def sar(minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="SAR", amount_minor=minor)


MATCHING = 8  # campaigns every bench order can earn from, the same for every merchant


def bench_campaign(merchant: str, i: int) -> rules_pb2.Campaign:
    """Campaign i of a bench merchant. The first 8 are the ones the bench orders
    can match (2 on every line, 6 on the categories the orders use); the rest are
    what a merchant with a big catalogue also runs and these orders do not touch:
    other categories and SKUs, point-of-sale or cash only, coupon or tier
    campaigns, windows that ended or have not begun. So "10 vs 1,000 campaigns"
    compares the same work per order against 992 more campaigns to skip."""
    c = rules_pb2.Campaign(merchant_id=merchant, name=f"c{i}", currency_code="SAR", timezone="Asia/Riyadh",
                           status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, percent_bps=100 + i % 500)
    if i == 1:
        c.min_order.CopyFrom(sar(5_000))
    elif 2 <= i < MATCHING:
        c.include_category_ids.append(f"cat-{i - 2}")
    elif i >= MATCHING:
        kind = i % 8
        if kind == 0:
            c.include_category_ids.append(f"other-{i}")
        elif kind == 1:
            c.include_skus.append(f"other-sku-{i}")
        elif kind == 2:
            c.channels.append(rules_pb2.CHANNEL_POS)
        elif kind == 3:
            c.payment_methods.append("cash")
        elif kind == 4:
            c.coupon_codes.append(f"code{i}")
        elif kind == 5:
            c.customer_tiers.append("gold")
        elif kind == 6:
            c.ends_at.FromDatetime(datetime(2025, 1, 1, tzinfo=UTC))
        else:
            c.starts_at.FromDatetime(datetime(2031, 1, 1, tzinfo=UTC))
    return c


async def seed_campaigns(rules_target: str, merchant: str, n: int) -> None:
    async with grpc.aio.insecure_channel(rules_target) as ch:
        stub = rules_pb2_grpc.RulesServiceStub(ch)
        for i in range(n):
            await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=bench_campaign(merchant, i)),
                                      metadata=OPS, timeout=30)


def ten_line_order(merchant: str, i: int) -> rules_pb2.Order:
    o = rules_pb2.Order(merchant_id=merchant, order_id=f"q{i}", customer_id=f"qc{i % 1000}", currency_code="SAR",
                        channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                        lines=[rules_pb2.OrderLine(sku=f"sku-{k}", category_ids=[f"cat-{(i + k) % 10}"],
                                                   unit_price=sar(1_000 + k), quantity=1) for k in range(10)])
    o.placed_at.FromDatetime(datetime.now(UTC))
    return o


async def quote_load(rules_target: str, merchant: str, seconds: float) -> Load:
    async with grpc.aio.insecure_channel(rules_target) as ch:
        stub = rules_pb2_grpc.RulesServiceStub(ch)
        orders = [ten_line_order(merchant, i) for i in range(256)]
        return await closed_loop(
            lambda i: stub.QuoteOrder(rules_pb2.QuoteOrderRequest(order=orders[i % 256]), metadata=OPS,
                                      timeout=10), concurrency=CONCURRENCY, seconds=seconds)


async def seed_history(wallet_url: str, wallet_target: str, customer: str, entries: int) -> None:
    """A customer with `entries` ledger entries: one real adjustment through the service, then
    balanced +1/-1 adjustment transactions written in bulk (each sums to zero, the balance is unchanged;
    they have no outbox events, so this is bench data, not something to audit)."""
    async with grpc.aio.insecure_channel(wallet_target) as ch:
        await wallet_pb2_grpc.WalletServiceStub(ch).AdjustBalance(wallet_pb2.AdjustBalanceRequest(
            merchant_id="m1", customer_id=customer, amount=sar(10_000), reason="bench",
            idempotency_key=f"bench-{customer}"), metadata=OPS, timeout=10)
    pairs = max(0, entries // 2 - 1)
    pairs -= pairs % 2  # +1/-1 alternate: an even count leaves the balance as it was
    db = Database(wallet_url)
    try:
        async with db.write() as conn:
            await conn.execute(text("""
                INSERT INTO wallet_transactions (transaction_id, merchant_id, customer_id, type, currency, amount,
                                                 reason, created_at)
                SELECT 'bench-' || :c || '-' || g, 'm1', :c, 'adjustment', 'SAR',
                       CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END, 'bench', now() - (g || ' seconds')::interval
                FROM generate_series(1, :n) AS g"""), {"c": customer, "n": pairs})
            await conn.execute(text("""
                INSERT INTO wallet_entries (transaction_id, merchant_id, customer_id, account, currency, amount)
                SELECT 'bench-' || :c || '-' || g, 'm1', :c, acc, 'SAR',
                       CASE WHEN acc = 'customer:available' THEN 1 ELSE -1 END
                       * CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END
                FROM generate_series(1, :n) AS g
                CROSS JOIN (VALUES ('customer:available'), ('merchant:adjustments')) AS a(acc)"""),
                {"c": customer, "n": pairs})
            await conn.execute(text("ANALYZE wallet_entries"))
    finally:
        await db.dispose()


async def balance_load(wallet_target: str, customer: str, seconds: float) -> Load:
    async with grpc.aio.insecure_channel(wallet_target) as ch:
        stub = wallet_pb2_grpc.WalletServiceStub(ch)
        req = wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id=customer, currency_code="SAR")
        return await closed_loop(lambda _i: stub.GetBalance(req, metadata=CHECKOUT, timeout=10),
                                 concurrency=CONCURRENCY, seconds=seconds)


async def balance_pair(wallet_target: str, small: str, big: str, seconds: float) -> tuple[Load, Load]:
    """GetBalance for two customers in one closed loop, calls alternating, so
    both latencies are measured under the same load at the same moments (two
    separate runs on a shared machine differ by more than what is compared)."""
    async with grpc.aio.insecure_channel(wallet_target) as ch:
        stub = wallet_pb2_grpc.WalletServiceStub(ch)
        reqs = [wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id=c, currency_code="SAR")
                for c in (small, big)]
        lat: tuple[list[float], list[float]] = ([], [])

        async def call(i: int) -> None:
            t0 = time.perf_counter()
            await stub.GetBalance(reqs[i % 2], metadata=CHECKOUT, timeout=10)
            lat[i % 2].append(time.perf_counter() - t0)

        both = await closed_loop(call, concurrency=CONCURRENCY, seconds=seconds)
    # (warm-up calls are in both lists alike)
    return Load(len(lat[0]), both.seconds, lat[0]), Load(len(lat[1]), both.seconds, lat[1])


async def checkout_mix(rules_target: str, wallet_target: str, seconds: float, *, concurrency: int = CONCURRENCY,
                       tag: str = "mix") -> Load:
    """Per order: AuthorizeRedemption, CaptureRedemption, AwardOrder (credit seeded first),
    `concurrency` orders in flight, over 256 customers."""
    async with grpc.aio.insecure_channel(wallet_target) as ch:
        w = wallet_pb2_grpc.WalletServiceStub(ch)
        for c in range(256):
            await w.AdjustBalance(wallet_pb2.AdjustBalanceRequest(
                merchant_id="m1", customer_id=f"mix{c}", amount=sar(10_000_000), reason="bench",
                idempotency_key=f"mix-seed-{c}"), metadata=OPS, timeout=10)
        stamp = f"{tag}-{int(time.time())}"

        async def order(i: int) -> None:
            cust = f"mix{i % 256}"
            hold = (await w.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
                merchant_id="m1", customer_id=cust, order_id=f"mix-{stamp}-{i}", amount=sar(100),
                idempotency_key=f"mix-{stamp}-{i}"), metadata=CHECKOUT, timeout=10)).hold
            await w.CaptureRedemption(wallet_pb2.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id),
                                      metadata=CHECKOUT, timeout=10)
            o = ten_line_order("m1", i)
            o.order_id, o.customer_id = f"mix-{stamp}-{i}", cust
            await w.AwardOrder(wallet_pb2.AwardOrderRequest(order=o), metadata=CHECKOUT, timeout=10)

        return await closed_loop(order, concurrency=concurrency, seconds=seconds)


async def noop_at(target: str, seconds: float, concurrency: int) -> Load:
    """The no-op baseline (health Check, same server stack) at a given number in flight."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        req = health_pb2.HealthCheckRequest()
        return await closed_loop(lambda _i: stub.Check(req, timeout=5), concurrency=concurrency, seconds=seconds)


WRITERS = 64
CUSTOMERS = 10_000


async def credit_writes(wallet_target: str, seconds: float, *, tag: str) -> Load:
    """AdjustBalance credits from 64 concurrent clients over 10,000 customers, each
    with its own idempotency key (so each is a balanced ledger transaction, a lot,
    an idempotency record and an event)."""
    async with grpc.aio.insecure_channel(wallet_target) as ch:
        stub = wallet_pb2_grpc.WalletServiceStub(ch)
        amount = sar(100)
        return await closed_loop(
            lambda i: stub.AdjustBalance(wallet_pb2.AdjustBalanceRequest(
                merchant_id="m1", customer_id=f"w{(i * 7919) % CUSTOMERS}", amount=amount, reason="bench",
                idempotency_key=f"{tag}-{i}"), metadata=OPS, timeout=10),
            concurrency=WRITERS, seconds=seconds)


async def seed_event_campaign(rules_target: str) -> None:
    async with grpc.aio.insecure_channel(rules_target) as ch:
        c = rules_pb2.Campaign(merchant_id="m1", name="reviews", currency_code="SAR", timezone="UTC",
                               status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, trigger=rules_pb2.TRIGGER_EVENT,
                               event_type="product_review", fixed=sar(300))
        await rules_pb2_grpc.RulesServiceStub(ch).CreateCampaign(
            rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS, timeout=30)


async def award_events(wallet_target: str, seconds: float, *, tag: str) -> Load:
    """AwardEvent (rules scores the event, the wallet credits it) from 64 clients over 10,000 customers."""
    async with grpc.aio.insecure_channel(wallet_target) as ch:
        stub = wallet_pb2_grpc.WalletServiceStub(ch)

        def call(i: int) -> Any:
            req = wallet_pb2.AwardEventRequest(merchant_id="m1", customer_id=f"w{(i * 7919) % CUSTOMERS}",
                                               event_type="product_review", event_id=f"{tag}-{i}")
            req.occurred_at.GetCurrentTime()
            return stub.AwardEvent(req, metadata=CHECKOUT, timeout=10)

        return await closed_loop(call, concurrency=WRITERS, seconds=seconds)
