"""The three console scripts as real processes, with a keys file of the test's own,
on a fresh database of the session's cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cashback_kit.procs import ServiceProcess, start_process
from tests.support.keys import process_env
from tests.support.pgcluster import PgCluster


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster) -> Iterator[dict[str, ServiceProcess]]:
    root: Path = tmp_path_factory.mktemp("stack")
    base = process_env(root, pg_cluster.new_database_url("e2e"), CASHBACK_SHUTDOWN_GRACE="1", CASHBACK_METRICS_PORT="0")
    procs: dict[str, ServiceProcess] = {}
    try:
        procs["rules"] = start_process("rules", base)
        procs["wallet"] = start_process("wallet", {**base, "RULES_TARGET": procs["rules"].target})
        procs["notify"] = start_process("notify", {**base, "WALLET_TARGET": procs["wallet"].target})
        yield procs
    finally:
        for p in reversed(list(procs.values())):
            p.terminate()
