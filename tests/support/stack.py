"""rules, wallet and notify as real processes on a fresh PostgreSQL database of the
session's cluster, with a keys file of the test's own (for CLI and console tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cashback_kit.procs import ServiceProcess, start_process
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import PgCluster


@dataclass
class Stack:
    procs: dict[str, ServiceProcess]
    database_url: str
    root: Path

    def client_env(self, key: str = "ops") -> dict[str, str]:
        """What a client process (cashbackctl, the console) needs to reach the services."""
        return {**{f"{s.upper()}_ADDR": p.target for s, p in self.procs.items()},
                "CASHBACK_OPS_KEY": TEST_KEYS[key]}


@contextmanager
def pg_stack(cluster: PgCluster, root: Path, **env: str) -> Iterator[Stack]:
    url = cluster.new_database_url("stack")
    base = process_env(root, url, CASHBACK_SHUTDOWN_GRACE="1", CASHBACK_METRICS_PORT="0", **env)
    procs: dict[str, ServiceProcess] = {}
    try:
        procs["rules"] = start_process("rules", base)
        procs["wallet"] = start_process("wallet", {**base, "RULES_TARGET": procs["rules"].target})
        procs["notify"] = start_process("notify", {**base, "WALLET_TARGET": procs["wallet"].target,
                                                   "RULES_TARGET": procs["rules"].target})
        yield Stack(procs, url, root)
    finally:
        for p in reversed(list(procs.values())):
            p.terminate()
