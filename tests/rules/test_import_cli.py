"""`cashbackctl orders import` against rules, wallet and notify running as real
processes on PostgreSQL: 10,000 past orders from a CSV, bad rows reported by
line and skipped, a second run all already present, and a "more than 3
purchases" campaign that pays from the first day."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from typer.testing import CliRunner

from cashback_kit.client import bearer
from cashbackctl.main import app
from tests.rules.builders import campaign, line, order
from tests.support.keys import TEST_KEYS
from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack, pg_stack

pytestmark = pytest.mark.e2e
runner = CliRunner()
CUSTOMERS = 2_000
PER_CUSTOMER = 5


@pytest.fixture(scope="module")
def stack(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with pg_stack(pg_cluster, tmp_path_factory.mktemp("import")) as s:
        yield s


def ctl(stack: Stack, *args: str) -> object:
    return runner.invoke(app, ["--merchant", "m1", *args], env={**stack.client_env(), "COLUMNS": "200"})


@pytest.fixture
def rules(stack: Stack) -> Iterator[rules_pb2_grpc.RulesServiceStub]:
    with grpc.insecure_channel(stack.procs["rules"].target) as channel:
        yield rules_pb2_grpc.RulesServiceStub(channel)


def _profile(rules: rules_pb2_grpc.RulesServiceStub, customer_id: str) -> rules_pb2.CustomerProfile:
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=customer_id)
    return rules.GetCustomerProfile(req, metadata=bearer(TEST_KEYS["ops"])).profile


def _history_csv(path: Path) -> dict[int, str]:
    """10,000 good rows (2,000 customers, 5 orders each, 1.00 to 50.00 SAR, over
    the last 300 days) and, among them, bad rows by line number."""
    start = datetime.now(UTC) - timedelta(days=300)
    rows = ["order_id,customer_id,placed_at,currency,amount"]
    for i in range(CUSTOMERS * PER_CUSTOMER):
        placed = (start + timedelta(minutes=43 * i)).isoformat(timespec="seconds")
        rows.append(f"past-{i},cust-{i % CUSTOMERS},{placed},SAR,{1 + i % 50}.00")
    bad = {
        101: "past-7,cust-7,2026-01-01T00:00:00Z,SAR,10.00",  # order_id of line 9 again
        2002: "past-x1,cust-1,yesterday,SAR,10.00",
        5003: "past-x2,cust-1,2026-01-01T00:00:00Z,SAR,ten",
        7004: "past-x3,cust-1,2026-01-01T00:00:00Z,SAR,20000000000000",  # too large: the service refuses it
        9005: "past-x4,,2026-01-01T00:00:00Z,SAR,10.00",
    }
    for number in sorted(bad):
        rows.insert(number - 1, bad[number])
    path.write_text("\n".join(rows) + "\n")
    return {n: why.split(",")[0] for n, why in bad.items()}


def test_ten_thousand_past_orders_import_from_csv_with_bad_rows_reported_by_line(stack, rules, tmp_path) -> None:
    csv_file = tmp_path / "history.csv"
    bad = _history_csv(csv_file)
    first = ctl(stack, "--json", "orders", "import", str(csv_file))
    assert first.exit_code == 1, first.output  # rows were skipped
    summary = json.loads(first.stdout)
    assert (summary["rows"], summary["imported"], summary["already_present"]) == (10_005, 10_000, 0)
    reported = {r["line"]: r["error"] for r in summary["bad_rows"]}
    assert sorted(reported) == sorted(bad)
    assert "also on line 9" in reported[101] and "placed_at" in reported[2002] and "amount" in reported[5003]
    assert "too large" in reported[7004] and "customer_id" in reported[9005]
    assert [_profile(rules, f"cust-{c}").order_count for c in (0, 1, 1999)] == [PER_CUSTOMER] * 3

    again = ctl(stack, "--json", "orders", "import", str(csv_file))
    assert json.loads(again.stdout)["already_present"] == 10_000 and json.loads(again.stdout)["imported"] == 0
    assert _profile(rules, "cust-1").order_count == PER_CUSTOMER


def test_a_more_than_three_purchases_campaign_pays_imported_customers_from_the_first_day(stack, rules,
                                                                                        tmp_path) -> None:
    csv_file = tmp_path / "loyal.csv"
    csv_file.write_text("order_id,customer_id,placed_at,currency,amount\n"
                        + "".join(f"loyal-{i},regular,2025-0{i + 1}-15,SAR,120.00\n" for i in range(3))
                        + "loyal-9,once,2025-06-01T09:30:00+03:00,SAR,80\n")
    result = ctl(stack, "orders", "import", str(csv_file))
    assert result.exit_code == 0, result.output
    assert "4 rows: 4 imported, 0 already present, 0 skipped" in result.output
    ops = bearer(TEST_KEYS["ops"])
    rules.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
        "fourth-purchase", percent_bps=1000, min_prior_orders=3)), metadata=ops)
    now = datetime.now(UTC)
    paid = rules.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order(
        "day1-a", line("a", 10_000), customer_id="regular", placed_at=now)), metadata=bearer(TEST_KEYS["service"]))
    assert paid.score.total.amount_minor == 1_000
    not_yet = rules.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order(
        "day1-b", line("a", 10_000), customer_id="once", placed_at=now)), metadata=bearer(TEST_KEYS["service"]))
    assert not_yet.score.total.amount_minor == 0
    assert not_yet.score.skipped[0].code == rules_pb2.SKIP_REASON_PRIOR_ORDERS


def test_a_file_without_the_columns_is_refused_before_anything_is_sent(stack, tmp_path) -> None:
    csv_file = tmp_path / "wrong.csv"
    csv_file.write_text("id,customer,amount\n1,c,10\n")
    result = ctl(stack, "orders", "import", str(csv_file))
    assert result.exit_code == 2
    assert "missing: order_id, customer_id, placed_at, currency" in result.output


def test_after_an_import_the_best_customer_is_champions_and_a_faded_one_is_lost(stack, rules, tmp_path) -> None:
    now = datetime.now(UTC)
    rows = [f"star-{i},star,{(now - timedelta(days=i + 1)).isoformat()},SAR,2500.00" for i in range(12)]
    rows.append(f"faded-1,faded,{(now - timedelta(days=360)).isoformat()},SAR,1.00")
    csv_file = tmp_path / "segments.csv"
    csv_file.write_text("order_id,customer_id,placed_at,currency,amount\n" + "\n".join(rows) + "\n")
    imported = datetime.now(UTC)  # scores computed from here on include the import
    done = ctl(stack, "orders", "import", str(csv_file))
    assert done.exit_code == 0 and "segments recomputed" in str(done.output)  # the CLI waited for them
    ops = bearer(TEST_KEYS["ops"])
    deadline = time.monotonic() + 30
    while True:  # the rules process recomputes segments a few seconds after an import
        listed = rules.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id="m1"), metadata=ops)
        if listed.HasField("computed_at") and listed.computed_at.ToDatetime(tzinfo=UTC) >= imported:
            break
        assert time.monotonic() < deadline, "segments were not recomputed within 30 s"
        time.sleep(0.3)
    star, faded = _profile(rules, "star").rfm, _profile(rules, "faded").rfm
    assert (star.recency, star.frequency, star.monetary, star.segment) == (5, 5, 5, "champions")
    assert (faded.recency, faded.frequency, faded.monetary, faded.segment) == (1, 1, 1, "lost")
    assert sum(s.customers for s in listed.segments) >= 2


def test_imported_history_decides_first_order_and_champions_only_offers_between_real_processes(
        stack, rules, tmp_path) -> None:
    """The issue's "done when" on merchant m2 (its own customers and campaigns): a first-order
    campaign pays a brand-new customer and not one whose history was imported; a champions-only
    campaign pays only the champion."""
    now = datetime.now(UTC)
    rows = [f"m2-star-{i},star,{(now - timedelta(days=i + 1)).isoformat()},SAR,2500.00" for i in range(12)]
    rows.append(f"m2-faded,faded,{(now - timedelta(days=360)).isoformat()},SAR,1.00")
    for c in range(20):  # an ordinary clientele, so the quintiles mean something
        rows += [f"m2-mid-{c}-{k},mid-{c},{(now - timedelta(days=20 + 9 * c + 30 * k)).isoformat()},SAR,"
                 f"{100 + 10 * c}.00" for k in range(1 + c % 4)]
    csv_file = tmp_path / "m2.csv"
    csv_file.write_text("order_id,customer_id,placed_at,currency,amount\n" + "\n".join(rows) + "\n")
    done = runner.invoke(app, ["--merchant", "m2", "orders", "import", str(csv_file)],
                         env={**stack.client_env(), "COLUMNS": "200"})
    assert done.exit_code == 0 and "segments recomputed" in done.output, done.output
    assert _m2_segment(rules, "star") == "champions" and _m2_segment(rules, "faded") == "lost"

    ops, service = bearer(TEST_KEYS["ops"]), bearer(TEST_KEYS["service"])
    first = campaign("m2-first", merchant_id="m2", percent_bps=500)
    first.max_prior_orders = 0
    best = campaign("m2-champions", merchant_id="m2", percent_bps=300, customer_segments=["champions"])
    for c in (first, best):
        rules.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=ops)

    def score(customer: str) -> rules_pb2.Score:
        req = rules_pb2.ScoreOrderRequest(order=order(f"m2-now-{customer}", line("a", 10_000), merchant_id="m2",
                                                      customer_id=customer, placed_at=datetime.now(UTC)))
        return rules.ScoreOrder(req, metadata=service).score

    def paid(s: rules_pb2.Score) -> dict[str, int]:
        return {a.campaign_id: a.amount.amount_minor for a in s.awards}

    def skipped(s: rules_pb2.Score) -> dict[str, int]:
        return {k.campaign_id: k.code for k in s.skipped}

    brand_new, faded, star = score("brand-new"), score("faded"), score("star")
    assert paid(brand_new) == {"m2-first": 500}
    assert skipped(brand_new)["m2-champions"] == rules_pb2.SKIP_REASON_SEGMENT
    assert paid(faded) == {}  # one imported order a year ago: neither a first order nor a champion
    assert skipped(faded) == {"m2-first": rules_pb2.SKIP_REASON_TOO_MANY_PRIOR_ORDERS,
                              "m2-champions": rules_pb2.SKIP_REASON_SEGMENT}
    assert paid(star) == {"m2-champions": 300}
    assert skipped(star)["m2-first"] == rules_pb2.SKIP_REASON_TOO_MANY_PRIOR_ORDERS
    # The champions-only campaign pays exactly the customers in that segment, whoever they are.
    for c in range(20):
        s = score(f"mid-{c}")
        assert ("m2-champions" in paid(s)) == (_m2_segment(rules, f"mid-{c}") == "champions"), c
        assert skipped(s)["m2-first"] == rules_pb2.SKIP_REASON_TOO_MANY_PRIOR_ORDERS


def _m2_segment(rules: rules_pb2_grpc.RulesServiceStub, customer_id: str) -> str:
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m2", customer_id=customer_id)
    return rules.GetCustomerProfile(req, metadata=bearer(TEST_KEYS["ops"])).profile.rfm.segment
