"""The pages beyond the browser walkthrough, over HTTP against real services:
editing every field, reminders, templates, settings, the report, bad input."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
import requests
from typer.testing import CliRunner

from cashbackctl.main import app
from tests.console.conftest import ConsoleStack
from tests.console.seed import seed, showcase
from tests.console.test_console_http import csrf_of, signed_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ready(console: ConsoleStack) -> ConsoleStack:
    seed(console.stack)
    showcase(console.stack)
    return console


def post(http: requests.Session, url: str, page_url: str, data: dict, **kw) -> requests.Response:
    token = csrf_of(http.get(page_url).text)
    return http.post(url, data={"csrf": token, **data}, **kw)


FULL = {"name": "Every field", "description": "all of them", "key": "every-field", "status": "draft",
        "trigger": "order", "reward_kind": "percent", "percent": "12.5", "tier_percent": "gold=15, silver=13",
        "rate_overrides": "sku:A-1=20, category:shoes=3", "min_order": "100", "max_per_order": "40",
        "max_per_customer": "200", "max_awards_per_customer": "3", "max_awards_per_customer_per_day": "1",
        "budget": "5,000", "channels": ["web", "app"], "payment_methods": "mada, card", "coupon_codes": "RAMADAN",
        "include_category_ids": "food", "include_skus": "", "exclude_category_ids": "gift-cards",
        "exclude_skus": "X-9", "min_prior_orders": "1", "customer_tiers": "gold, silver", "starts_on": "2026-03-01",
        "ends_on": "2026-03-31", "timezone": "Asia/Riyadh", "stacking": "exclusive", "priority": "5",
        "pending_days": "14", "expires_after_days": "90", "currency_code": "SAR"}


def test_a_campaign_with_every_field_is_created_and_edited_in_the_form(ready):
    http = signed_in(ready)
    r = post(http, f"{ready.url}/campaigns/new", f"{ready.url}/campaigns/new", FULL, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/campaigns/every-field", r.text[-2000:]
    env = {**ready.stack.client_env(), "COLUMNS": "200"}
    c = json.loads(CliRunner().invoke(app, ["--json", "campaigns", "show", "every-field"], env=env).output)
    assert c["percent_bps"] == 1250 and c["tier_percent_bps"] == {"gold": 1500, "silver": 1300}
    assert c["rate_overrides"] == [{"sku": "A-1", "percent_bps": 2000}, {"category_id": "shoes", "percent_bps": 300}]
    assert c["budget"] == {"currency_code": "SAR", "amount_minor": "500000"}
    assert c["channels"] == ["CHANNEL_WEB", "CHANNEL_APP"] and c["stacking"] == "STACKING_EXCLUSIVE"
    assert c["starts_at"] == "2026-02-28T21:00:00Z" and c["ends_at"] == "2026-03-31T21:00:00Z"
    page = unescape(http.get(f"{ready.url}/campaigns/every-field").text)
    for value in ('value="12.5"', 'value="gold=15, silver=13"', 'value="2026-03-31"', 'value="5,000.00"'):
        assert value in page
    edit = {**FULL, "percent": "10", "budget": "", "channels": []}
    edit.pop("key")
    r = post(http, f"{ready.url}/campaigns/every-field", f"{ready.url}/campaigns/every-field", edit,
             allow_redirects=False)
    assert r.status_code == 303
    c = json.loads(CliRunner().invoke(app, ["--json", "campaigns", "show", "every-field"], env=env).output)
    assert c["percent_bps"] == 1000 and "budget" not in c and "channels" not in c and c["version"] == 2


def test_bad_input_names_the_field_and_creates_nothing(ready):
    http = signed_in(ready)
    r = post(http, f"{ready.url}/campaigns/new", f"{ready.url}/campaigns/new",
             {**FULL, "key": "bad-one", "percent": "150", "budget": "lots"})
    assert r.status_code == 400
    assert re.search(r'class="field invalid">\s*<span>Percent', r.text)
    assert re.search(r'class="field invalid">\s*<span>Budget', r.text)
    assert http.get(f"{ready.url}/campaigns/bad-one").status_code == 404


def test_reminders_are_created_switched_off_and_on_and_run(ready):
    http = signed_in(ready)
    r = post(http, f"{ready.url}/reminders", f"{ready.url}/reminders",
             {"name": "Weekly nudge", "cron": "0 10 * * 6", "timezone": "Asia/Riyadh", "min_available": "10",
              "inactive_days": "0", "channels": ["sms"]})
    assert r.status_code == 200 and "Reminder created." in r.text
    rid = re.search(r'<tr data-id="([^"]+)"><td>Weekly nudge', r.text).group(1)
    r = post(http, f"{ready.url}/reminders/{rid}/active", f"{ready.url}/reminders", {"active": "0"})
    assert re.search(rf'data-id="{rid}">.*?<td>off</td>', r.text, re.S)
    r = post(http, f"{ready.url}/reminders/{rid}/run", f"{ready.url}/reminders", {})
    assert re.search(r"Reminder run: \d+ customers, \d+ new messages\.", r.text)


def test_a_template_preview_counts_sms_segments_and_uses_the_customers_real_balance(ready):
    http = signed_in(ready)
    r = post(http, f"{ready.url}/templates", f"{ready.url}/templates",
             {"kind": "available", "channel": "sms", "locale": "en", "customer": "c-en", "action": "preview",
              "body": "Hi! {{ amount }} is ready."})
    assert r.status_code == 200
    preview = unescape(re.search(r'<section class="card preview".*?</section>', r.text, re.S).group(0))
    # the customer's real available credit, as the customer page shows it
    customer = unescape(http.get(f"{ready.url}/customers/c-en").text)
    available = re.search(r'<dd id="available">([^<]+)</dd>', customer).group(1)
    assert available.split()[0] in preview and "GSM-7" in preview and "1 SMS segments" in preview


def test_tier_and_notification_settings_are_saved(ready):
    http = signed_in(ready)
    r = post(http, f"{ready.url}/settings/tiers", f"{ready.url}/settings",
             {"tiers": "silver = 1,000\ngold = 5,000", "window_days": "90"})
    assert r.status_code == 200 and "Saved." in r.text
    r = post(http, f"{ready.url}/settings/notify", f"{ready.url}/settings",
             {"warn_days": "7, 1", "quiet_start": "22:00", "quiet_end": "08:00", "on_available": "1"})
    assert 'value="7, 1"' in r.text and 'value="22:00"' in r.text
    assert re.search(r'name="on_credit" value="1"\s*>', r.text)  # unchecked
    assert re.search(r'name="on_available" value="1" checked', r.text)
    bad = post(http, f"{ready.url}/settings/notify", f"{ready.url}/settings", {"warn_days": "soon"})
    assert bad.status_code == 400 and "write a whole number" in bad.text


def test_the_report_page_shows_the_same_figures_as_the_cli_report(ready, tmp_path):
    http = signed_in(ready)
    page = http.get(f"{ready.url}/report").text
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["--merchant", "m1", "report", "--out", str(out), "--timezone", "Asia/Riyadh"],
                                env=ready.stack.client_env())
    assert result.exit_code == 0, result.output
    kpis = re.compile(r'<div class="kpi"><b>([^<]*)</b><span>([^<]*)</span>')
    # 8 credit KPIs and 4 of transfers, conversions both ways and rewards (issue 17).
    assert kpis.findall(page) == kpis.findall(out.read_text()) and len(kpis.findall(page)) == 12
    assert page.count("<svg") == 5


def test_the_simulation_works_without_script_and_as_a_fragment_for_it(ready):
    http = signed_in(ready)
    draft = {"name": "", "reward_kind": "percent", "percent": "7", "currency_code": "SAR", "timezone": "UTC"}
    full = post(http, f"{ready.url}/campaigns/simulate", f"{ready.url}/campaigns/new", draft)
    assert full.status_code == 200 and '<form method="post" id="campaign-form"' in full.text
    cashback = re.search(r'<dd id="sim-cashback">([^<]+)</dd>', full.text).group(1)
    assert cashback == "21.00 SAR"  # three orders of 100.00 SAR last month at 7%
    token = csrf_of(http.get(f"{ready.url}/campaigns/new").text)
    fragment = http.post(f"{ready.url}/campaigns/simulate", data={"csrf": token, **draft},
                         headers={"X-Console-Fragment": "simulation"})
    assert "<html" not in fragment.text and '<dd id="sim-cashback">21.00 SAR</dd>' in fragment.text
