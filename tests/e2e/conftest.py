"""The three console scripts as real processes, with a keys file of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cashback_kit.procs import ServiceProcess, start_process
from tests.support.keys import TEST_KEYS, write_keys_file


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    root: Path = tmp_path_factory.mktemp("stack")
    keys = write_keys_file(root / "keys.json")
    base = {
        "CASHBACK_API_KEYS_FILE": str(keys),
        "CASHBACK_SERVICE_KEY": TEST_KEYS["service"],
        "CASHBACK_VAR_DIR": str(root),
        "CASHBACK_SHUTDOWN_GRACE": "1",
        "CASHBACK_METRICS_PORT": "0",
    }
    procs: dict[str, ServiceProcess] = {}
    try:
        procs["rules"] = start_process("rules", base)
        procs["wallet"] = start_process("wallet", {**base, "RULES_TARGET": procs["rules"].target})
        procs["notify"] = start_process("notify", {**base, "WALLET_TARGET": procs["wallet"].target})
        yield procs
    finally:
        for p in reversed(list(procs.values())):
            p.terminate()
