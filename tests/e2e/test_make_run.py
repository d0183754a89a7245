"""`make run` (scripts/dev_run.py) run for real, as a newcomer runs it: the three
services on an embedded PostgreSQL kept under the var directory, reachable with
the psql command it prints, stopped with the services on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pgcluster import PgCluster, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
READY = "Press Ctrl-C to stop."


@pytest.fixture
def var() -> Iterator[Path]:
    """A var directory outside pytest's own temporary tree: as root the server runs
    as another user, and every pytest session resets /tmp/pytest-of-root to 0700."""
    top = Path(tempfile.mkdtemp(prefix="cashback-devrun-"))
    try:
        yield top / "var"
    finally:
        pg = top / "var" / "pg"
        if (pg / "data" / "postmaster.pid").exists():  # a failed test must not leave a server behind
            PgCluster(root=pg, port=int((pg / "port").read_text())).stop("immediate")
        shutil.rmtree(top, ignore_errors=True)


class DevRun:
    def __init__(self, var: Path, **env: str) -> None:
        base = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        ports = {f"{s}_{kind}": str(free_port())
                 for s in ("RULES", "WALLET", "NOTIFY") for kind in ("ADDR", "METRICS_PORT")}
        env = {**base, **{k: (f"127.0.0.1:{p}" if k.endswith("_ADDR") else p) for k, p in ports.items()},
               "CASHBACK_VAR_DIR": str(var), **env}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "dev_run.py")], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + 120
        while READY not in self.lines:
            assert self.proc.poll() is None, "make run exited early:\n" + self.output
            assert time.monotonic() < deadline, "make run did not come up:\n" + self.output
            time.sleep(0.1)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(line for line in self.lines if not line.startswith("["))

    def psql(self, sql: str) -> str:
        """Runs `sql` with the exact psql command make run printed."""
        command = next(line.split("connect:", 1)[1] for line in self.lines if "connect:" in line)
        return subprocess.run([*shlex.split(command), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              check=True, capture_output=True, text=True, timeout=30).stdout.strip()

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(60)


def test_make_run_keeps_its_cluster_under_var_across_restarts_and_stops_it_on_ctrl_c_and_sigterm(var):
    first = DevRun(var)
    try:
        assert "initialising the embedded PostgreSQL" in first.output
        assert f"data kept in {var / 'pg' / 'data'}" in first.output
        assert first.psql("SHOW server_version").startswith("18.")
        assert first.psql("SELECT count(*) FROM wallet_alembic_version") == "1"
        first.psql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    finally:
        assert first.stop(signal.SIGINT) == 0, first.output
    assert "PostgreSQL stopped" in first.output
    assert not (var / "pg" / "data" / "postmaster.pid").exists(), "the cluster outlived make run"

    second = DevRun(var)
    try:
        assert "initialising" not in second.output and "starting the embedded PostgreSQL" in second.output
        assert second.psql("SELECT v FROM kept") == "42"
    finally:
        assert second.stop(signal.SIGTERM) == 0, second.output
    assert not (var / "pg" / "data" / "postmaster.pid").exists(), "the cluster outlived make run"


def test_database_urls_in_the_environment_win_and_no_cluster_is_started(var, pg_cluster: PgCluster):
    database = pg_cluster.create_database("devrun")
    url = pg_cluster.url(database)
    run = DevRun(var, RULES_DATABASE_URL=url, WALLET_DATABASE_URL=url, NOTIFY_DATABASE_URL=url)
    try:
        assert "embedded" not in run.output and "connect:" not in run.output
        assert f"WALLET_DATABASE_URL={url}" in run.output
        assert not (var / "pg").exists()
        for service in ("rules", "wallet", "notify"):
            assert pg_cluster.psql(f"SELECT count(*) FROM {service}_alembic_version", database) == "1"
    finally:
        assert run.stop(signal.SIGTERM) == 0, run.output
