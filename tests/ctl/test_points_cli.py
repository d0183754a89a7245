"""cashbackctl's issue-17 commands (customers transfer, points rate|convert,
rewards upsert|list|redeem) and the program report's transfer, points and reward
figures, against rules, wallet and notify processes on PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cashbackctl.main import app
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
runner = CliRunner()


def ctl(stack: Stack, *args: str) -> str:
    result = runner.invoke(app, ["--merchant", "m1", *args], env={**stack.client_env(), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def refused(stack: Stack, *args: str) -> str:
    result = runner.invoke(app, ["--merchant", "m1", *args], env={**stack.client_env(), "COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_transfers_conversions_and_rewards_from_the_command_line_show_in_the_report(stack, tmp_path: Path):
    ctl(stack, "adjust", "alice", "100 SAR", "--reason", "seed", "-k", "seed-a")
    ctl(stack, "adjust", "bob", "1 SAR", "--reason", "seed", "-k", "seed-b")
    sent = json.loads(
        ctl(stack, "--json", "customers", "transfer", "alice", "bob", "40", "-k", "t1", "--note", "for lunch")
    )
    assert (sent["amount"], sent["note"]) == ({"currency_code": "SAR", "amount_minor": "4000"}, "for lunch")
    ctl(stack, "customers", "transfer-policy", "true")
    assert "FAILED_PRECONDITION: to_customer_id has no wallet history" in refused(
        stack, "customers", "transfer", "alice", "stranger", "5 SAR", "-k", "t2"
    )

    ctl(stack, "points", "rate", "10", "1 SAR")
    converted = json.loads(ctl(stack, "--json", "points", "convert", "alice", "--credit", "30 SAR", "-k", "c1"))
    assert converted["points"] == "300"
    ctl(
        stack,
        "rewards",
        "upsert",
        "mug",
        "--points",
        "120",
        "--name",
        "fa=ماگ قهوه",
        "--name",
        "en=Coffee mug",
        "--stock",
        "2",
    )
    ctl(stack, "rewards", "upsert", "cap", "--points", "10", "--name", "en=Cap", "--inactive")
    listed = ctl(stack, "rewards", "list", "--active-only")
    assert "mug" in listed and "Coffee mug" in listed and "cap" not in listed
    for key in ("r1", "r2"):
        ctl(stack, "rewards", "redeem", "alice", "mug", "-k", key)
    assert "reward 'mug' is out of stock" in refused(stack, "rewards", "redeem", "alice", "mug", "-k", "r3")
    assert "reward 'cap' is not active" in refused(stack, "rewards", "redeem", "alice", "cap", "-k", "r4")
    balance = json.loads(ctl(stack, "--json", "customers", "balance", "alice"))
    assert (balance["available"]["amount_minor"], balance["points"]) == ("3000", "60")

    page = tmp_path / "report.html"
    ctl(stack, "report", "--out", str(page), "--lang", "en", "--currency", "SAR")
    kpis = {k: v for v, k in re.findall(r'<div class="kpi"><b>([^<]*)</b><span>([^<]*)</span>', page.read_text())}
    assert kpis["credit transferred between customers"] == "1 · 40.00 SAR"
    assert kpis["credit converted to points"] == "1 · 30.00 SAR"
    assert kpis["rewards redeemed"] == "2 · 240 points"
    audit = runner.invoke(app, ["audit", "--database-url", stack.database_url])
    assert audit.exit_code == 0, audit.output
