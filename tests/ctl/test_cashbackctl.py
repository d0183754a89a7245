"""cashbackctl against rules, wallet and notify running as real processes on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from typer.testing import CliRunner

from cashback_kit.client import bearer
from cashbackctl.campaigns import last_month
from cashbackctl.main import app
from tests.support.keys import TEST_KEYS
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
runner = CliRunner()


def ctl(stack: Stack, *args: str, merchant: str = "m1"):
    return runner.invoke(app, ["--merchant", merchant, *args], env={**stack.client_env(), "COLUMNS": "200"})


def test_a_campaign_file_is_created_listed_shown_and_paused(stack, tmp_path: Path):
    f = tmp_path / "seed.yaml"
    f.write_text("name: Ramadan 10%\npercent: 10\nmax_per_order: 30 SAR\ntimezone: Asia/Riyadh\n"
                 "starts_on: 2026-01-01\nends_on: 2030-12-31\n")
    created = ctl(stack, "--json", "campaigns", "create", str(f), "--activate")
    assert created.exit_code == 0, created.output
    campaign = json.loads(created.output)[0]
    assert campaign["status"] == "CAMPAIGN_STATUS_ACTIVE" and campaign["percent_bps"] == 1000
    listed = ctl(stack, "campaigns", "list")
    assert listed.exit_code == 0 and "Ramadan 10%" in listed.output
    assert "2026-01-01 → 2030-12-31" in listed.output  # the file's days, local to the campaign's zone
    paused = ctl(stack, "--json", "campaigns", "pause", campaign["campaign_id"])
    assert json.loads(paused.output)["status"] == "CAMPAIGN_STATUS_PAUSED"
    shown = ctl(stack, "campaigns", "show", campaign["campaign_id"])
    assert "Asia/Riyadh" in shown.output


def test_a_refused_call_is_one_line_with_the_code_and_field(stack, tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: too generous\npercent_bps: 20000\ncurrency_code: SAR\n")
    result = ctl(stack, "campaigns", "create", str(f))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "INVALID_ARGUMENT" in lines[0] and "percent_bps" in lines[0]
    assert "Traceback" not in result.output


def test_an_adjustment_shows_in_balance_and_history_and_the_books_audit_clean(stack):
    adj = ctl(stack, "adjust", "cust-1", "25 SAR", "--reason", "goodwill", "--idempotency-key", "t-1")
    assert adj.exit_code == 0, adj.output
    again = ctl(stack, "adjust", "cust-1", "25 SAR", "--reason", "goodwill", "--idempotency-key", "t-1")
    assert again.exit_code == 0
    balance = json.loads(ctl(stack, "--json", "customers", "balance", "cust-1").output)
    assert balance["available"] == {"currency_code": "SAR", "amount_minor": "2500"}
    history = ctl(stack, "customers", "history", "cust-1")
    assert "goodwill" in history.output and "25.00 SAR" in history.output
    audit = runner.invoke(app, ["audit", "--database-url", stack.database_url])
    assert audit.exit_code == 0, audit.output


def test_another_merchants_data_is_refused(stack):
    result = ctl(stack, "customers", "balance", "cust-1", merchant="m3")
    assert result.exit_code == 1 and "PERMISSION_DENIED" in result.output


def test_simulate_replays_last_months_orders_against_a_draft(stack, tmp_path: Path):
    start, stop = last_month("UTC")
    with grpc.insecure_channel(stack.procs["rules"].target) as ch:
        stub = rules_pb2_grpc.RulesServiceStub(ch)
        for i in range(3):
            order = rules_pb2.Order(
                merchant_id="m1", order_id=f"sim-{i}", customer_id=f"c{i % 2}", currency_code="SAR",
                channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                lines=[rules_pb2.OrderLine(
                    sku="s", unit_price=common_pb2.Money(currency_code="SAR", amount_minor=10000), quantity=1)])
            order.placed_at.FromDatetime(start + timedelta(days=2, hours=i))
            stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order), metadata=bearer(TEST_KEYS["service"]), timeout=10)
    draft = tmp_path / "draft.yaml"
    draft.write_text("name: what if 5%\npercent: 5\ncurrency_code: SAR\n")
    result = ctl(stack, "--json", "campaigns", "simulate", str(draft))
    assert result.exit_code == 0, result.output
    sim = json.loads(result.output)["simulations"][0]
    assert int(sim["orders_matched"]) == 3 and int(sim["customers"]) == 2
    assert sim["total_cashback"]["amount_minor"] == "1500"
    assert stop <= datetime.now(UTC)


def test_audit_without_a_database_url_says_what_to_give():
    result = runner.invoke(app, ["audit"], env={"WALLET_DATABASE_URL": ""})
    assert result.exit_code == 2
    assert "--database-url" in result.output and "WALLET_DATABASE_URL" in result.output
