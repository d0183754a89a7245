"""cashbackctl segments list, the profile's segment and RFM scores, and tiers by
the calendar month: against rules, wallet and notify processes on PostgreSQL,
with history imported from CSV through the CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cashback_services.rules.domain.rfm import SEGMENTS
from tests.ctl.test_cli_without_surprises import ctl, ok

pytestmark = pytest.mark.e2e
MERCHANT = "m2"  # one the test ops key acts for; this module has a database of its own


def _history_csv(path: Path) -> dict[str, int]:
    """`star` buys big, often and lately; `faded` once, small, a year ago; 30 others
    in between. Returns each customer's spend in rials."""
    now = datetime.now(UTC)
    rows = ["order_id,customer_id,placed_at,currency,amount"]
    spend: dict[str, int] = {}

    def add(order_id: str, customer: str, rials: int, days_ago: int) -> None:
        rows.append(f"{order_id},{customer},{(now - timedelta(days=days_ago)).isoformat()},IRR,{rials}")
        spend[customer] = spend.get(customer, 0) + rials

    for i in range(12):
        add(f"star-{i}", "star", 9_000_000, 1 + i)
    add("faded-1", "faded", 50_000, 360)
    for k in range(30):
        for j in range(k % 4 + 1):
            add(f"c{k}-{j}", f"c{k}", 200_000 * (k % 6 + 1), 9 * k + 20 * j + 3)
    path.write_text("\n".join(rows) + "\n")
    return spend


def profile(stack, *args: str):  # type: ignore[no-untyped-def]
    return ctl(stack, "--currency", "IRR", "customers", "profile", *args, merchant=MERCHANT)


def _segments(stack) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        got = json.loads(ok(ctl(stack, "segments", "list", "--json", merchant=MERCHANT)))
        if got.get("computed_at") or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_segments_list_shows_the_eleven_segments_with_counts_and_spend_in_toman(stack, tmp_path: Path) -> None:
    never = ok(ctl(stack, "segments", "list", merchant=MERCHANT))
    assert "computed never" in never and never.count(" 0 ") >= 11
    spend = _history_csv(tmp_path / "past.csv")
    ok(ctl(stack, "orders", "import", str(tmp_path / "past.csv"), merchant=MERCHANT))
    got = _segments(stack)
    assert [s["segment"] for s in got["segments"]] == list(SEGMENTS)
    assert sum(int(s.get("customers", 0)) for s in got["segments"]) == len(spend)
    assert sum(int(s["spend"]["amount_minor"]) for s in got["segments"]) == sum(spend.values())

    table = ok(ctl(stack, "segments", "list", merchant=MERCHANT))
    assert "last 365 days" in table and "computed never" not in table
    champions = next(s for s in got["segments"] if s["segment"] == "champions")
    toman = f"{int(champions['spend']['amount_minor']) // 10:,} toman"
    assert any("champions" in line and toman in line for line in table.splitlines()), table

    star = ok(profile(stack, "star"))
    assert "segment: champions (R 5, F 5, M 5)" in star
    assert "segment: lost (R 1, F 1, M 1)" in ok(profile(stack, "faded"))
    nobody = json.loads(ok(profile(stack, "nobody", "--json")))
    assert "rfm" not in nobody["profile"]
    assert json.loads(ok(profile(stack, "star", "--json"))
                      )["profile"]["rfm"]["segment"] == "champions"


def test_tiers_set_calendar_month_counts_this_months_spend_in_the_zone_given(stack, tmp_path: Path) -> None:
    out = ok(ctl(stack, "tiers", "set", "gold=1,000,000 toman", "--calendar-month", "--timezone", "Asia/Tehran",
                 merchant=MERCHANT))
    assert "calendar month (Asia/Tehran, Solar Hijri)" in out and "1,000,000 toman" in out
    policy = json.loads(ok(ctl(stack, "--json", "tiers", "set", "gold=1,000,000 toman", "--calendar-month",
                               "--timezone", "Asia/Tehran", "--calendar", "gregorian", merchant=MERCHANT)))
    assert policy["tiers"][0]["window"] == "TIER_WINDOW_CALENDAR_MONTH" and "window_days" not in policy["tiers"][0]
    assert policy["calendar"] == "TIER_CALENDAR_GREGORIAN"
    shown = ok(profile(stack, "star"))
    assert "spend (this month)" in shown
    bad = ctl(stack, "tiers", "set", "gold=1,000,000 toman", "--calendar-month", "--timezone", "Tehran",
              merchant=MERCHANT)
    assert bad.exit_code != 0 and "timezone" in bad.output
