"""Issue 15, point 2 (rules): a big SimulateCampaign never blocks the hot path.
The real rules service on PostgreSQL over real gRPC; one merchant's recorded
orders are many, another merchant quotes while the simulation runs."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from sqlalchemy import text

from cashback_services.rules.bootstrap import bootstrap
from cashback_services.rules.limits import RulesLimits
from tests.rules.builders import campaign, line, order, ts
from tests.security.conftest import rich_details
from tests.support.servers import ServiceHandle, auth, running_service

OPS, CHECKOUT_M2 = auth("ops"), auth("checkout_m2")
BIG = 60_000  # recorded orders of merchant m1: a replay of a few seconds on this machine
NOW = datetime.now(UTC)


async def _record_orders(svc: ServiceHandle, merchant_id: str, n: int) -> None:
    """n recorded orders in the last 10 days, as ScoreOrder stores them (one statement)."""
    body = order("x", line("a", 10_000), merchant_id=merchant_id).SerializeToString()
    async with svc.db.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO rules_orders (merchant_id, order_id, customer_id, placed_at, currency, merchandise_minor,"
            " refunded_minor, fully_refunded, fingerprint, order_body, created_at)"
            " SELECT :m, 'o' || i, 'c' || (i % 5000), now() - (i * interval '10 seconds'), 'SAR', 10000, 0, false,"
            " 'f', :body, now() FROM generate_series(1, :n) AS i"), {"m": merchant_id, "body": body, "n": n})


def _simulation(merchant_id: str, days: int = 11) -> rules_pb2.SimulateCampaignRequest:
    req = rules_pb2.SimulateCampaignRequest(campaign=campaign("draft", merchant_id=merchant_id, percent_bps=500,
                                                              budget=10**9), to=ts(NOW + timedelta(hours=1)))
    getattr(req, "from").CopyFrom(ts(NOW - timedelta(days=days)))
    return req


@pytest.fixture
async def rules(pg_url: str):
    limits = RulesLimits(simulation_max_orders=BIG, simulation_seconds=600)
    async with running_service("rules", database_url=pg_url, bootstrap=partial(bootstrap, limits=limits)) as svc:
        yield svc


async def test_another_merchant_is_answered_promptly_while_a_big_simulation_runs(rules) -> None:
    stub = rules_pb2_grpc.RulesServiceStub(rules.channel)
    await _record_orders(rules, "m1", BIG)
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", merchant_id="m2",
                                                                                percent_bps=1000)), metadata=OPS)
    quote = rules_pb2.QuoteOrderRequest(order=order("q", line("a", 10_000), merchant_id="m2"))
    quote.order.placed_at.CopyFrom(ts(datetime.now(UTC)))
    await stub.QuoteOrder(quote, metadata=CHECKOUT_M2)  # warm: the merchant's index is built
    started = time.monotonic()
    sim = asyncio.ensure_future(stub.SimulateCampaign(_simulation("m1"), metadata=OPS))
    waits: list[float] = []
    while not sim.done():
        t = time.monotonic()
        got = await stub.QuoteOrder(quote, metadata=CHECKOUT_M2)
        assert got.score.total.amount_minor == 1000
        waits.append(time.monotonic() - t)
    took = time.monotonic() - started
    result = (await sim).simulation
    assert result.orders_considered == BIG and result.orders_matched == BIG
    # Answered all along, each quote a small fraction of the simulation (blocked, one
    # quote would wait for the whole replay and only a couple would be answered).
    assert len(waits) >= 10, (len(waits), took)
    assert max(waits) < took / 5, (max(waits), took)


async def test_a_merchant_runs_one_simulation_at_a_time_and_too_wide_a_window_is_refused(pg_url: str) -> None:
    limits = RulesLimits(simulation_max_orders=20_000, simulation_seconds=600)
    async with running_service("rules", database_url=pg_url, bootstrap=partial(bootstrap, limits=limits)) as svc:
        stub = rules_pb2_grpc.RulesServiceStub(svc.channel)
        await _record_orders(svc, "m1", 30_000)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.SimulateCampaign(_simulation("m1"), metadata=OPS)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert rich_details(err.value)[0].reason == "SIMULATION_TOO_LARGE"
        first = asyncio.ensure_future(stub.SimulateCampaign(_simulation("m1", days=2), metadata=OPS))
        await asyncio.sleep(0.05)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.SimulateCampaign(_simulation("m1", days=2), metadata=OPS)
        assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert rich_details(err.value)[0].reason == "HEAVY_WORK_BUSY"
        assert 17_000 < (await first).simulation.orders_considered < 18_000  # one every 10 s for 2 days
