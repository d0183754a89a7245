"""The command line as a new user meets it (issue 18): files applied twice, toman and
Persian digits, negative amounts, ids, --json anywhere, policies, preview amounts.
Against rules, wallet and notify processes on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cashbackctl.main import app
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
runner = CliRunner()

SEED = """campaigns:
  - key: welcome
    name: Welcome 10%
    percent: 10
    max_per_order: 30 SAR
    currency_code: SAR
  - name: Review reward
    trigger: TRIGGER_EVENT
    event_type: product_review
    fixed: 5 SAR
"""


def ctl(stack: Stack, *args: str, merchant: str = "m1", columns: int = 200):
    return runner.invoke(app, ["--merchant", merchant, *args], env={**stack.client_env(), "COLUMNS": str(columns)})


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_applying_a_campaign_file_twice_creates_nothing_twice_and_updates_what_changed(stack, tmp_path: Path):
    f = tmp_path / "seed.yaml"
    f.write_text(SEED)
    first = json.loads(ok(ctl(stack, "campaigns", "create", str(f), "--activate", "--json")))
    assert first[0]["campaign_id"] == "welcome"
    again = ok(ctl(stack, "campaigns", "create", str(f), "--activate"))
    assert again.count("unchanged") == 2
    f.write_text(SEED.replace("percent: 10", "percent: 12"))
    ok(ctl(stack, "campaigns", "create", str(f), "--activate"))
    listed = json.loads(ok(ctl(stack, "--json", "campaigns", "list")))
    assert sorted(c["name"] for c in listed) == ["Review reward", "Welcome 10%"]
    welcome = next(c for c in listed if c["campaign_id"] == "welcome")
    assert welcome["percent_bps"] == 1200 and welcome["version"] == 2
    assert welcome["status"] == "CAMPAIGN_STATUS_ACTIVE"


def test_campaigns_update_takes_a_unique_prefix_and_money_in_toman(stack, tmp_path: Path):
    f = tmp_path / "irr.yaml"
    f.write_text("key: tehran-yalda\nname: Yalda 5%\npercent: 5\nmax_per_order: ۵۰٬۰۰۰ تومان\n"
                 "currency_code: IRR\ntimezone: Asia/Tehran\n")
    ok(ctl(stack, "campaigns", "create", str(f), merchant="m2"))
    updated = json.loads(ok(ctl(stack, "campaigns", "update", "tehran-y", "budget=2,000,000 toman", "percent=7",
                                "--json", merchant="m2")))
    assert updated["budget"] == {"currency_code": "IRR", "amount_minor": "20000000"}
    assert updated["percent_bps"] == 700 and updated["version"] == 2
    shown = ok(ctl(stack, "campaigns", "show", "tehran", merchant="m2"))
    assert "2,000,000 toman" in shown and "50,000 toman" in shown and "Asia/Tehran" in shown
    assert "percent_bps" not in shown and "amount_minor" not in shown  # words, not protobuf text
    bad = ctl(stack, "campaigns", "update", "tehran-yalda", "budget=lots", merchant="m2")
    assert bad.exit_code == 2 and "budget:" in bad.output
    assert json.loads(ok(ctl(stack, "--json", "campaigns", "show", "tehran-yalda", merchant="m2")))["version"] == 2


def test_a_prefix_that_matches_two_campaigns_is_refused_naming_both(stack, tmp_path: Path):
    f = tmp_path / "two.yaml"
    f.write_text("- {key: promo-a, name: A, percent: 1, currency_code: SAR}\n"
                 "- {key: promo-b, name: B, percent: 2, currency_code: SAR}\n")
    ok(ctl(stack, "campaigns", "create", str(f)))
    result = ctl(stack, "campaigns", "pause", "promo-")
    assert result.exit_code == 2 and "promo-a" in result.output and "promo-b" in result.output


def test_ids_are_never_cut_in_a_narrow_table(stack):
    ok(ctl(stack, "adjust", "customer-with-a-rather-long-identifier", "5 SAR", "-r", "x", "-k", "long-id"))
    out = ok(ctl(stack, "customers", "history", "customer-with-a-rather-long-identifier", columns=60))
    tx_id = json.loads(ok(ctl(stack, "customers", "history", "customer-with-a-rather-long-identifier", "--json")))[0]
    assert any(tx_id["transaction_id"] in line for line in out.splitlines()), out


def test_negative_amounts_work_as_written_in_the_help(stack):
    ok(ctl(stack, "adjust", "c-neg", "25 SAR", "--reason", "goodwill", "--idempotency-key", "neg-1"))
    out = json.loads(ok(ctl(stack, "adjust", "c-neg", "-10 SAR", "--reason", "typo", "--idempotency-key", "neg-2",
                            "--json")))
    assert out["amount"] == {"currency_code": "SAR", "amount_minor": "-1000"}
    balance = json.loads(ok(ctl(stack, "customers", "balance", "c-neg", "--json")))
    assert balance["available"]["amount_minor"] == "1500"


def test_an_irr_customers_balance_is_in_tomans_without_naming_a_currency(stack):
    ok(ctl(stack, "adjust", "c-irr", "۵۰٬۰۰۰ تومان", "-r", "welcome", "-k", "irr-1", merchant="m2"))
    out = ok(ctl(stack, "customers", "balance", "c-irr", merchant="m2"))
    assert "50,000 toman" in out and "SAR" not in out
    bare = json.loads(ok(ctl(stack, "adjust", "c-irr", "1000", "-r", "bare", "-k", "irr-2", "--json", merchant="m2")))
    assert bare["amount"] == {"currency_code": "IRR", "amount_minor": "1000"}


def test_tier_and_notify_policies_and_reminders_switch_on_and_off(stack):
    tiers = json.loads(ok(ctl(stack, "tiers", "set", "silver=1,000 SAR", "gold=5,000 SAR", "--json")))
    assert [t["name"] for t in tiers["tiers"]] == ["silver", "gold"]
    assert json.loads(ok(ctl(stack, "tiers", "assign", "c-vip", "gold", "--json")))["tier"] == "gold"
    ok(ctl(stack, "notify-policy", "set", "--warn-days", "7,1", "--quiet", "22:00-08:00", "--no-on-credit"))
    policy = json.loads(ok(ctl(stack, "notify-policy", "show", "--json")))
    assert policy["expiry_warning_days"] == [7, 1] and policy["quiet_hours_start"] == "22:00"
    assert not policy.get("notify_on_credit")
    created = json.loads(ok(ctl(stack, "reminders", "create", "weekly", "--cron", "0 10 * * 6",
                                "--min-available", "10 SAR", "--json")))
    rid = created["campaign_id"]
    assert not json.loads(ok(ctl(stack, "reminders", "off", rid[:12], "--json"))).get("active")
    assert json.loads(ok(ctl(stack, "reminders", "on", rid, "--json")))["active"] is True


def test_preview_keeps_the_locale_asked_for_and_uses_the_customers_real_balance(stack):
    ok(ctl(stack, "contacts", "set", "c-fa", "--locale", "fa-IR", "--timezone", "Asia/Tehran", merchant="m2"))
    ok(ctl(stack, "adjust", "c-fa", "73,000 toman", "-r", "x", "-k", "prev-1", merchant="m2"))
    en = ok(ctl(stack, "templates", "preview", "available", "sms", "en", "--customer", "c-fa", merchant="m2"))
    assert "73,000 toman" in en and "GSM-7" in en  # English text, the customer's real 730,000 rials said in toman
    fa = ok(ctl(stack, "templates", "preview", "available", "sms", "--customer", "c-fa", merchant="m2"))
    assert "۷۳٬۰۰۰ تومان" in fa  # no locale asked: the contact's Persian


def test_deliveries_show_the_message_text(stack):
    out = ok(ctl(stack, "deliveries", "--customer", "nobody"))
    assert "text" in out
