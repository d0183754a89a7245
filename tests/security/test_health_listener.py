"""Issue 15, points 6 and 8: with TLS on the service's port, kubelet's plaintext gRPC
probes get their own listener, which serves health and nothing else, with a small limit."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cashback_kit.auth import KeyRing
from cashback_kit.config import Settings
from cashback_kit.hardening import Hardening
from cashback_kit.server import HEALTH_MAX_CONCURRENT_RPCS, HEALTH_MAX_WATCHES, start_server
from tests.e2e.test_tls import pki  # noqa: F401  (the fixture: a CA and a server certificate)
from tests.security.kit_server import parts
from tests.support.servers import auth

SERVING = health_pb2.HealthCheckResponse.SERVING


async def test_a_tls_service_answers_probes_in_plaintext_on_its_health_listener_only(pki, keys_file):  # noqa: F811
    settings = Settings.from_env("wallet", {
        "WALLET_ADDR": "127.0.0.1:0", "CASHBACK_TLS_CERT": str(pki / "server.pem"),
        "CASHBACK_TLS_KEY": str(pki / "server.key")})
    hardening = Hardening.for_tests(health_addr="127.0.0.1:0")
    running = await start_server(settings, parts(), KeyRing.from_file(keys_file), hardening)
    try:
        assert running.health_port not in (0, running.port)
        probe = grpc.aio.insecure_channel(f"127.0.0.1:{running.health_port}")
        assert (await health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest())).status == SERVING
        with pytest.raises(grpc.aio.AioRpcError) as not_here:
            await wallet_pb2_grpc.WalletServiceStub(probe).GetBalance(
                wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="c1"), metadata=auth("checkout"))
        assert not_here.value.code() is grpc.StatusCode.UNIMPLEMENTED

        tls = grpc.aio.secure_channel(f"127.0.0.1:{running.port}",
                                      grpc.ssl_channel_credentials((pki / "ca.pem").read_bytes()))
        balance = await wallet_pb2_grpc.WalletServiceStub(tls).GetBalance(
            wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="c1"), metadata=auth("checkout"))
        assert balance.balance.available.amount_minor == 100
        plain = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        with pytest.raises(grpc.aio.AioRpcError):
            await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=3)
        for channel in (probe, tls, plain):
            await channel.close()
    finally:
        await running.stop(0)


async def test_watch_streams_held_on_the_health_listener_cannot_starve_the_probes(keys_file):
    settings = Settings.from_env("wallet", {"WALLET_ADDR": "127.0.0.1:0"})
    running = await start_server(settings, parts(), KeyRing.from_file(keys_file),
                                 Hardening.for_tests(health_addr="127.0.0.1:0"))
    try:
        probe = grpc.aio.insecure_channel(f"127.0.0.1:{running.health_port}")
        stub = health_pb2_grpc.HealthStub(probe)
        watches = [stub.Watch(health_pb2.HealthCheckRequest()) for _ in range(HEALTH_MAX_CONCURRENT_RPCS)]
        outcomes = []
        for call in watches:
            try:
                outcomes.append((await call.read()).status)
            except grpc.aio.AioRpcError as exc:
                outcomes.append(exc.code())
        assert outcomes.count(SERVING) == HEALTH_MAX_WATCHES
        assert outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == HEALTH_MAX_CONCURRENT_RPCS - HEALTH_MAX_WATCHES
        checks = [stub.Check(health_pb2.HealthCheckRequest(), timeout=5) for _ in range(16)]
        assert all(r.status == SERVING for r in await asyncio.gather(*checks))
        for call in watches:
            call.cancel()
        await probe.close()
    finally:
        await running.stop(0)
