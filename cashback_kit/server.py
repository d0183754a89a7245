"""gRPC server start-up shared by the three services: the interceptor, health,
reflection, message size limits, optional TLS, and graceful shutdown on
SIGTERM/SIGINT (health goes NOT_SERVING, then server.stop(grace))."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from cashback_kit import paging
from cashback_kit.auth import LEGACY_SERVICE, KeyFileError, KeyRing
from cashback_kit.config import Settings
from cashback_kit.hardening import Hardening
from cashback_kit.interceptors import RpcObserver, ServiceInterceptor
from cashback_kit.keywatch import reload_keys, watch_key_file
from cashback_kit.known_keys import example_key_reason
from cashback_kit.metrics import observe_rpc, start_metrics_server

log = logging.getLogger("cashback.server")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.so_reuseport", 0),
]
# Past this many RPCs in flight the server answers RESOURCE_EXHAUSTED; unauthenticated
# streams can hold only Hardening.max_public_streams of them.
MAX_CONCURRENT_RPCS = 2000
# The health-only listener: enough for probes and a few watchers. Watch streams are
# capped well below the RPC limit, so holding them open cannot starve kubelet's Checks.
HEALTH_MAX_CONCURRENT_RPCS = 32
HEALTH_MAX_WATCHES = 8


@dataclass
class ServiceParts:
    """What a service's bootstrap hands to the server."""

    service_name: str  # full proto name, e.g. "cashback.rules.v1.RulesService"
    servicer: Any
    register: Callable[[Any, grpc.aio.Server], None]
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    observers: list[RpcObserver] = field(default_factory=list)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if not settings.tls_cert:
        return None
    cert = Path(settings.tls_cert).read_bytes()
    key = Path(settings.tls_key).read_bytes()
    client_ca = Path(settings.tls_client_ca).read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


class RunningServer:
    def __init__(self, server: grpc.aio.Server, health: HealthServicer, port: int, parts: ServiceParts):
        self.server, self.health, self.port, self.parts = server, health, port, parts
        self.tasks: list[asyncio.Task[None]] = []
        self.health_server: grpc.aio.Server | None = None
        self.health_port = 0

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(0)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for hook in self.parts.on_stop:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")


async def start_server(
    settings: Settings, parts: ServiceParts, keys: KeyRing, hardening: Hardening | None = None
) -> RunningServer:
    h = hardening or settings.hardening
    interceptor = ServiceInterceptor(
        keys,
        [observe_rpc, *parts.observers],
        max_streams_per_key=h.max_streams_per_key,
        max_public_streams=h.max_public_streams,
    )
    server = grpc.aio.server(
        interceptors=[interceptor], options=SERVER_OPTIONS, maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS
    )
    parts.register(parts.servicer, server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (parts.service_name, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    creds = server_credentials(settings)
    port = (
        server.add_secure_port(settings.addr, creds) if creds else server.add_insecure_port(settings.addr)
    )
    if port == 0:
        raise RuntimeError(f"could not bind {settings.addr}")
    await server.start()
    running = RunningServer(server, health, port, parts)
    if h.health_addr:
        running.health_server, running.health_port = await _start_health_server(h.health_addr, health, keys)
    for job in parts.background:
        running.tasks.append(asyncio.create_task(_supervise(job), name=getattr(job, "__name__", "job")))
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(parts.service_name, health_pb2.HealthCheckResponse.SERVING)
    return running


async def _start_health_server(addr: str, health: HealthServicer, keys: KeyRing) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(keys, max_public_streams=HEALTH_MAX_WATCHES)],
        options=SERVER_OPTIONS,
        maximum_concurrent_rpcs=HEALTH_MAX_CONCURRENT_RPCS,
    )
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(addr)
    if port == 0:
        raise RuntimeError(f"could not bind the health listener {addr}")
    await server.start()
    return server, port


async def _supervise(job: Callable[[], Awaitable[None]]) -> None:
    """Background loops must not die silently: restart after a pause."""
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job failed; restarting in 1s", extra={"job": getattr(job, "__name__", "")})
            await asyncio.sleep(1)


def load_keys_or_refuse(settings: Settings) -> KeyRing:
    """Start-up refuses a keys file with problems, and a published example service key."""
    try:
        keys = KeyRing.from_file(settings.api_keys_file)
    except KeyFileError as exc:
        log.critical("refusing to start: the API keys file is unusable", extra={"error": str(exc)})
        raise SystemExit(f"{settings.service}: {exc}") from None
    why = example_key_reason(settings.service_key) if settings.service_key else None
    if why is not None:
        log.critical("refusing to start: CASHBACK_SERVICE_KEY is an example key")
        raise SystemExit(f"{settings.service}: CASHBACK_SERVICE_KEY: {why}")
    if LEGACY_SERVICE in keys.roles:
        log.warning("the keys file has a key of the deprecated 'service' role: give wallet and notify "
                    "their own keys (roles wallet-service, notify-service)")
    return keys


async def serve_forever(settings: Settings, parts: ServiceParts) -> None:
    keys = load_keys_or_refuse(settings)
    hardening = settings.hardening
    paging.use_secret(hardening.token_secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP re-reads the keys (it used to kill the process with no drain).
    loop.add_signal_handler(signal.SIGHUP, reload_keys, keys, "SIGHUP")
    running = await start_server(settings, parts, keys, hardening)
    if hardening.keys_poll_seconds > 0:
        poll = hardening.keys_poll_seconds
        running.tasks.append(asyncio.create_task(_supervise(lambda: watch_key_file(keys, poll)), name="keys"))
    host = settings.addr.rsplit(":", 1)[0]
    if settings.metrics_port >= 0:
        metrics_port = start_metrics_server(settings.metrics_port, host)
        print(f"{settings.service} metrics on http://{host}:{metrics_port}/metrics", flush=True)
    log.info("serving", extra={"addr": f"{host}:{running.port}", "grpc_service": parts.service_name,
                               "tls": bool(settings.tls_cert), "health_port": running.health_port or None})
    # A line tests and `make run` wait for; signal handlers are in place before it.
    print(f"{settings.service} listening on {host}:{running.port}", flush=True)
    await stop.wait()
    log.info("shutting down", extra={"grace_s": settings.shutdown_grace})
    await running.stop(settings.shutdown_grace)
    log.info("stopped")
