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
from tests.support.keys import TEST_KEYS
from tests.support.points_report import points_beside_credit
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
runner = CliRunner()


def ctl(stack: Stack, *args: str, merchant: str = "m1") -> str:
    result = runner.invoke(app, ["--merchant", merchant, *args], env={**stack.client_env(), "COLUMNS": "200"})
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


def test_the_report_says_a_points_campaigns_cost_in_points_in_each_language_and_keeps_it_out_of_the_money(
    stack, tmp_path: Path
):
    # Merchant m2 here, so the first test's m1 figures stay as they were.
    points_beside_credit(stack, "m2", TEST_KEYS["checkout_m2"])
    rows = {}
    for lang in ("en", "fa", "ar"):
        page = tmp_path / f"report-{lang}.html"
        ctl(stack, "report", "--out", str(page), "--lang", lang, "--currency", "SAR", merchant="m2")
        html = page.read_text(encoding="utf-8")
        rows[lang] = re.findall(
            r"<tr><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>", html
        )
        kpis = {k: v for v, k in re.findall(r'<div class="kpi"><b>([^<]*)</b><span>([^<]*)</span>', html)}
        if lang == "en":  # 12,000 points counted as 120.00 SAR would make it 124.80
            assert kpis["cashback earned"] == "4.80 SAR"
    # 2% of 240.00 SAR is 4.80 SAR of credit; 50% is 12,000 points, never "120.00 SAR".
    assert rows["en"] == [("Credit 2%", "4.80 SAR", "2.0%"), ("Points 50%", "12,000 points", "—")]
    assert rows["fa"][1][1:] == ("۱۲٬۰۰۰ امتیاز", "—")
    assert rows["ar"][1][1:] == ("١٢٬٠٠٠ نقطة", "—")
