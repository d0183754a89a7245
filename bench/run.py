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

    def env(self, service: str) -> dict[str, str]:
        env = {
            "CASHBACK_API_KEYS_FILE": str(self.keys),
            "CASHBACK_SERVICE_KEY": TEST_KEYS["service"],
            "CASHBACK_VAR_DIR": str(self.root),
            "CASHBACK_LOG_LEVEL": "WARNING",
            f"{service.upper()}_DATABASE_URL": self.cluster.url(self.cluster.create_database(service)),
        }
        if "rules" in self.procs:
            env["RULES_TARGET"] = self.procs["rules"].target
        if "wallet" in self.procs:
            env["WALLET_TARGET"] = self.procs["wallet"].target
        return env

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    args = parser.parse_args()
    cluster = start_cluster()
    root = Path(tempfile.mkdtemp(prefix="cashback-bench-"))
    stack = Stack(cluster, root)
    rows: list[Row] = []
    try:
        rules = stack.start("rules")
        noop = asyncio.run(noop_rpc(rules.target, args.seconds))
        tps = pgbench_tps(cluster, seconds=int(max(5, args.seconds)))
        rows.append(Row("baseline: no-op RPC (health, 32 in flight)", "-", f"{noop.rate:,.0f}/s "
                        f"p50 {noop.p50_ms:.2f} ms p99 {noop.p99_ms:.2f} ms", None, "-", None))
        rows.append(Row("baseline: pgbench tpcb-like (8 clients, scale 10)", "-", f"{tps:,.0f} tps", None, "-", None))
    finally:
        stack.stop()
        remove_cluster(cluster)
    print_table(rows)


if __name__ == "__main__":
    main()
