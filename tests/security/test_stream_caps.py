"""Issue 15, point 6: an open port cannot lock everyone out. Real grpc.aio server on
127.0.0.1 with the kit's interceptor; real clients holding real streams."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cashback_kit.server import MAX_CONCURRENT_RPCS
from tests.security.conftest import rich_details, wallet_stub
from tests.support.servers import auth

BALANCE = wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="c1", currency_code="EUR")
WATCHES = 2000


async def _first_read(call: grpc.aio.UnaryStreamCall) -> grpc.StatusCode | None:
    """None while the stream is open after its first message, else its final code."""
    try:
        await call.read()
        return None
    except grpc.aio.AioRpcError as exc:
        return exc.code()


async def _hold_watches(target: str, n: int) -> tuple[list[grpc.aio.Channel], list, list]:
    """n health Watch streams over 8 connections, opened in batches as clients arrive."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(8)]
    stubs = [health_pb2_grpc.HealthStub(c) for c in channels]
    calls: list = []
    outcomes: list[grpc.StatusCode | None] = []
    for start in range(0, n, 250):
        batch = [stubs[i % 8].Watch(health_pb2.HealthCheckRequest()) for i in range(start, min(n, start + 250))]
        calls += batch
        outcomes += await asyncio.gather(*(_first_read(c) for c in batch))
    return channels, calls, outcomes


async def _close(channels: list[grpc.aio.Channel], calls: list) -> None:
    for call in calls:
        call.cancel()
    for channel in channels:
        await channel.close()


async def test_without_a_cap_two_thousand_health_watches_lock_out_authenticated_calls(server_at):
    """The threat as found: the control for the test below (cap set beyond the server's limit)."""
    assert WATCHES >= MAX_CONCURRENT_RPCS
    async with server_at(max_public_streams=10 * MAX_CONCURRENT_RPCS) as (_, target):
        channels, calls, outcomes = await _hold_watches(target, WATCHES)
        assert outcomes.count(None) == MAX_CONCURRENT_RPCS
        _, wallet = wallet_stub(target)
        with pytest.raises(grpc.aio.AioRpcError) as locked_out:
            await wallet.GetBalance(BALANCE, metadata=auth("checkout"))
        assert locked_out.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        await _close(channels, calls)


async def test_two_thousand_health_watches_leave_room_for_authenticated_calls(server_at):
    async with server_at(max_public_streams=64) as (_, target):
        channels, calls, outcomes = await _hold_watches(target, WATCHES)
        assert outcomes.count(None) == 64
        assert outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == WATCHES - 64

        channel, wallet = wallet_stub(target)
        results = await asyncio.gather(*(wallet.GetBalance(BALANCE, metadata=auth("checkout")) for _ in range(200)))
        assert all(r.balance.available.amount_minor == 100 for r in results)
        # A probe still gets its answer: Check is unary and never capped.
        check = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        await _close([*channels, channel], calls)


async def test_a_key_holds_at_most_its_cap_of_open_event_streams(server_at):
    async with server_at(max_streams_per_key=8) as (_, target):
        channel, wallet = wallet_stub(target)

        def follow(role: str) -> grpc.aio.UnaryStreamCall:
            return wallet.StreamEvents(wallet_pb2.StreamEventsRequest(), metadata=auth(role))

        held = [follow("ops_all") for _ in range(8)]
        assert await asyncio.gather(*(_first_read(c) for c in held)) == [None] * 8

        ninth = follow("ops_all")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ninth.read()
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "8 open streams" in refused.value.details()
        assert rich_details(refused.value)[0].reason == "TOO_MANY_STREAMS_PER_KEY"

        # Another key is not affected, and unary calls of the capped key still work.
        other = follow("service")
        assert await _first_read(other) is None
        assert (await wallet.GetBalance(BALANCE, metadata=auth("ops_all"))).balance.available.amount_minor == 100

        # Closing a stream gives its place back (the server sees the cancel shortly after).
        held[0].cancel()
        for _ in range(100):
            again = follow("ops_all")
            if await _first_read(again) is None:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("a cancelled stream never gave its place back")
        await _close([channel], [*held, other, again])
