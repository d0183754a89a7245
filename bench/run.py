"""`make bench`: baselines and targets in one table. See docs/performance.md.

Baselines are measured first in the same run: a no-op gRPC call (health Check,
same server stack, 32 in flight) and pgbench (TPC-B-like, 8 clients, scale 10)
on the same throw-away PostgreSQL cluster the services use."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.harness import Load, Row, closed_loop, pgbench_tps, print_table
from cashback_kit.procs import ServiceProcess, start_process
from tests.support.keys import TEST_KEYS, write_keys_file
from tests.support.pgcluster import PgCluster, remove_cluster, start_cluster

CONCURRENCY = 32


class Stack:
    """The services as real processes on the bench's PostgreSQL cluster."""

    def __init__(self, cluster: PgCluster, root: Path) -> None:
        self.cluster, self.root = cluster, root
        self.keys = write_keys_file(root / "keys.json")
        self.procs: dict[str, ServiceProcess] = {}
        self.urls: dict[str, str] = {}

    def env(self, service: str) -> dict[str, str]:
        env = {
            "CASHBACK_API_KEYS_FILE": str(self.keys),
            "CASHBACK_SERVICE_KEY": TEST_KEYS["service"],
            "CASHBACK_VAR_DIR": str(self.root),
            "CASHBACK_LOG_LEVEL": "WARNING",
            f"{service.upper()}_DATABASE_URL": self.url(service),
        }
        if "rules" in self.procs:
            env["RULES_TARGET"] = self.procs["rules"].target
        if "wallet" in self.procs:
            env["WALLET_TARGET"] = self.procs["wallet"].target
        return env

    def url(self, service: str) -> str:
        """One database per service, made on first use."""
        if service not in self.urls:
            self.urls[service] = self.cluster.url(self.cluster.create_database(service))
        return self.urls[service]

    def start(self, service: str) -> ServiceProcess:
        self.procs[service] = start_process(service, self.env(service))
        return self.procs[service]

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.terminate()


async def noop_rpc(target: str, seconds: float) -> Load:
    async with grpc.aio.insecure_channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        req = health_pb2.HealthCheckRequest()
        return await closed_loop(lambda _i: stub.Check(req, timeout=5), concurrency=CONCURRENCY, seconds=seconds)


def ratio_row(name: str, base: Load, got: Load, target: float) -> Row:
    r = got.rate / base.rate if base.rate else 0.0
    return Row(name, f"{base.rate:,.0f}/s", f"{got.rate:,.0f}/s p50 {got.p50_ms:.1f} ms p99 {got.p99_ms:.1f} ms",
               r, f">= {target:.1f}x no-op", r >= target)


async def measure(stack: Stack, seconds: float, rows: list[Row]) -> None:
    from bench import targets as tg

    rules = stack.procs["rules"].target
    wallet = stack.procs["wallet"].target
    noop = await noop_rpc(rules, seconds)
    rows.append(Row("baseline: no-op RPC (health, 32 in flight)", "-",
                    f"{noop.rate:,.0f}/s p50 {noop.p50_ms:.2f} ms p99 {noop.p99_ms:.2f} ms", None, "-", None))
    await tg.seed_campaigns(rules, "m1", 10)
    await tg.seed_campaigns(rules, "m2", 1000)
    q10 = await tg.quote_load(rules, "m1", seconds)
    q1000 = await tg.quote_load(rules, "m2", seconds)
    rows.append(ratio_row("1. QuoteOrder, 1,000 campaigns, 10 lines", noop, q1000, 0.7))
    spread = abs(q10.rate - q1000.rate) / max(q10.rate, q1000.rate) if q10.rate else 1.0
    rows.append(Row("1b. QuoteOrder 10 vs 1,000 campaigns", f"{q10.rate:,.0f}/s", f"{q1000.rate:,.0f}/s",
                    spread, "differ <= 20%", spread <= 0.20))
    await tg.seed_history(stack.url("wallet"), wallet, "hist-small", 10)
    await tg.seed_history(stack.url("wallet"), wallet, "hist-big", 100_000)
    b_small = await tg.balance_load(wallet, "hist-small", seconds)
    b_big = await tg.balance_load(wallet, "hist-big", seconds)
    rows.append(ratio_row("2. GetBalance, 100,000 history entries", noop, b_big, 0.8))
    lat = abs(b_big.mean_ms - b_small.mean_ms) / b_small.mean_ms if b_small.mean_ms else 1.0
    rows.append(Row("2b. GetBalance latency 10 vs 100,000 entries", f"{b_small.mean_ms:.2f} ms",
                    f"{b_big.mean_ms:.2f} ms", lat, "differ <= 10%", lat <= 0.10))
    mix = await tg.checkout_mix(rules, wallet, seconds)
    rows.append(Row("4. checkout mix (Authorize+Capture+AwardOrder)", "-",
                    f"{mix.rate:,.0f} orders/s p50 {mix.p50_ms:.1f} ms p99 {mix.p99_ms:.1f} ms (errors {mix.errors})",
                    None, "measure first", None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    args = parser.parse_args()
    cluster = start_cluster()
    root = Path(tempfile.mkdtemp(prefix="cashback-bench-"))
    stack = Stack(cluster, root)
    rows: list[Row] = []
    try:
        stack.start("rules")
        stack.start("wallet")
        asyncio.run(measure(stack, args.seconds, rows))
        tps = pgbench_tps(cluster, seconds=int(max(5, args.seconds)))
        rows.append(Row("baseline: pgbench tpcb-like (8 clients, scale 10)", "-", f"{tps:,.0f} tps", None, "-", None))
        for name, why in (
            ("3. wallet credit writes vs pgbench", "not measured yet: needs the batched write path (issue #7)"),
            ("5. expiry sweep of 1,000,000 lots vs UPDATE", "not measured yet (issue #7)"),
            ("6. notify 10,000 SMS vs bare twilio loop", "not measured yet (issue #7)"),
        ):
            rows.append(Row(name, "-", "-", None, "see issue #7", None, why))
    finally:
        stack.stop()
        remove_cluster(cluster)
    print_table(rows)


if __name__ == "__main__":
    main()
