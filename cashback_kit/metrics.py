"""Prometheus metrics for every service, served on a separate HTTP port
(`<SERVICE>_METRICS_PORT` or `CASHBACK_METRICS_PORT`; 0 = off).

RPC counts and latency histograms by method and code come from the interceptor;
services add their own (ledger writes, deliveries by status, stream lag) with
the helpers below so names stay consistent."""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

RPC_TOTAL = Counter("cashback_rpc_total", "RPCs handled", ["method", "code"])
RPC_SECONDS = Histogram(
    "cashback_rpc_seconds",
    "RPC latency",
    ["method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_rpc(method: str, code: str, seconds: float) -> None:
    short = method.rsplit("/", 1)[-1] if method else method
    RPC_TOTAL.labels(short, code).inc()
    RPC_SECONDS.labels(short, code).observe(seconds)


def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
    return Counter(name, doc, list(labels))


def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, doc, list(labels))


def start_metrics_server(port: int, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY) -> int:
    """Serve /metrics; returns the bound port (0 asks for a free one). Off when port < 0."""
    if port < 0:
        return -1
    server, _thread = start_http_server(port, addr=host, registry=registry)
    bound = int(server.server_address[1])
    log.info("metrics served", extra={"port": bound})
    return bound
