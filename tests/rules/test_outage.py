"""Scoring runs on its own connection pool: while PostgreSQL is down it answers
UNAVAILABLE (retry later), never INTERNAL, and it recovers by itself."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from sqlalchemy import text

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


async def test_a_connection_lost_in_the_middle_of_scoring_is_unavailable_and_the_next_call_succeeds(
        rules, stub) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", percent_bps=1000)),
                              metadata=OPS)
    assert await _score_code(stub, "before") is grpc.StatusCode.OK  # customer c1 exists now
    async with rules.db.engine.connect() as holder:
        # Hold the customer's row: the next ScoreOrder waits for it inside its transaction.
        await holder.execute(text("SELECT 1 FROM rules_customers WHERE customer_id = 'c1' FOR UPDATE"))
        scoring = asyncio.create_task(_score_code(stub, "cut"))
        async with rules.db.engine.connect() as admin:
            await admin.execution_options(isolation_level="AUTOCOMMIT")
            for _ in range(100):
                killed = (await admin.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE '%rules_score_load%'"))).all()
                if killed:
                    break
                await asyncio.sleep(0.05)
        await holder.rollback()
    assert killed, "the scoring call never waited for the customer lock"
    assert await scoring is grpc.StatusCode.UNAVAILABLE
    assert await _score_code(stub, "after") is grpc.StatusCode.OK
