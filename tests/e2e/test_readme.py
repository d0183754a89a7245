"""Every command of the README's walkthrough, as written, against rules, wallet and notify
as processes: run from a folder laid out as `make run` leaves the repository (`.venv/`,
`examples/`, `var/api-keys.json`, `var/database-urls.json`), so the commands find their keys
and database the way they do beside `make run`. Only the services' addresses differ (free
ports instead of 50051-50053), given as RULES_ADDR / WALLET_ADDR / NOTIFY_ADDR."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.pgcluster import PgCluster
from tests.support.stack import pg_stack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def walkthrough_commands() -> list[str]:
    """The shell block under the README's "The engineer" heading, one command a line."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### The engineer", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's walkthrough has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_walkthrough_lists_real_commands() -> None:
    commands = walkthrough_commands()
    assert len(commands) >= 10
    for line in commands:
        program = shlex.split(line)[0]
        assert program.startswith(".venv/bin/"), line
        assert (Path(sys.prefix) / "bin" / Path(program).name).exists(), f"{program} is not installed"


def wait_for_sms(log_lines: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any("sms sent to log sink" in line for line in log_lines):
            return
        time.sleep(0.2)
    raise AssertionError("notify sent no SMS for the demo order")


def test_every_readme_walkthrough_command_works_as_written(tmp_path: Path, pg_cluster: PgCluster) -> None:
    work = tmp_path / "checkout"
    (work / "var").mkdir(parents=True)
    (work / ".venv").symlink_to(Path(sys.prefix))
    (work / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "stack").mkdir()
    with pg_stack(pg_cluster, tmp_path / "stack") as stack:
        (work / "var" / "api-keys.json").write_text((stack.root / "keys.json").read_text())
        urls = {s: stack.database_url for s in ("rules", "wallet", "notify")}
        (work / "var" / "database-urls.json").write_text(json.dumps(urls))
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "COLUMNS": "160",
               **{f"{s.upper()}_ADDR": p.target for s, p in stack.procs.items()}}
        outputs: dict[str, str] = {}
        for line in walkthrough_commands():
            if " deliveries " in f" {line} ":
                wait_for_sms(stack.procs["notify"].log_lines)
            done = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            outputs[line] = outputs.get(line, "") + "\n---\n" + done.stdout
        notify_log = list(stack.procs["notify"].log_lines)

    creates = [out for line, out in outputs.items() if "campaigns create" in line]
    assert creates and creates[0].count("unchanged") == 4, creates
    demo = next(out for line, out in outputs.items() if "checkout_demo.py" in line)
    assert "this order earns 60.00 SAR" in demo
    assert "pays 20.00 SAR with credit" in demo
    deliveries = next(out for line, out in outputs.items() if " deliveries " in f" {line} ")
    assert "CREDITED" in deliveries.upper() and "الواحة" in deliveries, deliveries
    assert sum("sms sent to log sink" in line for line in notify_log) == 1
    assert not any("501234567" in line for line in notify_log)
    assert (work / "report.html").stat().st_size > 10_000
    imported = next(out for line, out in outputs.items() if "orders import" in line)
    assert "2,066" in imported or "2066" in imported, imported
    assert "segments recomputed" in imported, imported
    segments = next(out for line, out in outputs.items() if "segments list" in line)
    counts = {row.split()[1]: int(row.split()[3]) for row in segments.splitlines()
              if row.startswith("│") and row.split()[3].isdigit()}
    assert len(counts) == 11 and sum(counts.values()) >= 400, segments  # the 400 imported customers, placed
    assert counts["champions"] > 0 and counts["lost"] + counts["hibernating"] > 0, segments
    history = next(out for line, out in outputs.items() if "customers history" in line)
    awarded = [[cell.strip() for cell in row.split("│")] for row in history.splitlines() if "AWARD" in row]
    # The seed campaigns have no return window: the order's cashback (two campaigns, 30 SAR each)
    # is one AWARD row, all of it available at once (no pending lot, and no MATURE row that would
    # move it the same instant).
    assert [(row[3], row[4]) for row in awarded] == [("60.00 SAR", "60.00 SAR")], history
    assert "MATURE" not in history, history
