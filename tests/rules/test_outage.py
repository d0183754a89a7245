"""Scoring runs on its own connection pool: while PostgreSQL is down it answers
UNAVAILABLE (retry later), never INTERNAL, and it recovers by itself."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cashback.rules.v1 import rules_pb2

from tests.rules.builders import campaign, line, order
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")


async def _score_code(stub, order_id: str) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order(order_id, line("mug", 3_000))), metadata=SVC,
                              timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_scoring_answers_unavailable_while_the_database_is_down_and_recovers(pg_cluster, stub) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", percent_bps=1000)),
                              metadata=OPS)
    assert await _score_code(stub, "before") is grpc.StatusCode.OK  # the pool holds an open connection now
    await asyncio.to_thread(pg_cluster.stop, "fast")
    try:
        codes = [await _score_code(stub, f"down{i}") for i in range(3)]
    finally:
        await asyncio.to_thread(pg_cluster.start)
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 3
    for _ in range(50):
        if await _score_code(stub, "after") is grpc.StatusCode.OK:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("scoring did not recover after the database came back")
