"""Issue 16's promotion, end to end with real processes: rules, wallet and notify
on PostgreSQL, SMS to the local Kavenegar-compatible server, driven through
cashbackctl. Past orders imported from CSV put some customers in at_risk; a
promotion to at_risk reaches exactly them, one SMS each, the opted-out one
suppressed, the Persian text closing with «لغو۱۱» inside its segment count;
creating it again and restarting notify (kill -9) send nothing more."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from typer.testing import CliRunner

from cashback_kit.procs import start_process
from cashback_services.notify.domain.rendering import sms_encoding_and_segments
from cashbackctl.main import app
from tests.notify import fake_kavenegar as fk
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack, pg_stack

pytestmark = pytest.mark.e2e
runner = CliRunner()
TEXT = "{% if shop %}{{ shop }}: {% endif %}دلمان برایتان تنگ شده! تا پایان هفته ۲۰٪ تخفیف ویژهٔ شماست"


@contextmanager
def kavenegar_in_a_thread() -> Iterator[fk.FakeKavenegar]:
    """The local Kavenegar server on a loop of its own, so the blocking CLI calls never stall it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = fk.FakeKavenegar()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def ctl(stack: Stack, *args: str) -> str:
    result = runner.invoke(app, ["--merchant", "m1", *args], env={**stack.client_env(), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def until(check: Callable[[], object], within: float = 40.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def phone(customer: str) -> str:
    return f"0912000{int(customer[1:]):04d}"


def history_csv(path: Path) -> Path:
    """30 customers' past orders over the year (IRR, in rials)."""
    now = datetime.now(UTC)
    rows = ["order_id,customer_id,placed_at,currency,amount"]
    for k in range(30):
        for j in range(k % 4 + 1):
            placed = (now - timedelta(days=11 * k + 25 * j)).isoformat(timespec="seconds")
            rows.append(f"c{k:02d}-{j},c{k:02d},{placed},IRR,{100_000 * (k % 6 + 1)}")
    path.write_text("\n".join(rows) + "\n")
    return path


def segments_of(stack: Stack, since: datetime) -> dict[str, str]:
    md = (("authorization", f"Bearer {TEST_KEYS['ops']}"),)
    with grpc.insecure_channel(stack.procs["rules"].target) as channel:
        rules = rules_pb2_grpc.RulesServiceStub(channel)

        def computed() -> bool:
            got = rules.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id="m1"), metadata=md)
            return got.HasField("computed_at") and got.computed_at.ToDatetime(tzinfo=UTC) >= since

        until(computed)
        return {
            f"c{k:02d}": rules.GetCustomerProfile(
                rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=f"c{k:02d}"), metadata=md
            ).profile.rfm.segment
            for k in range(30)
        }


def test_a_promotion_to_at_risk_reaches_exactly_that_segment_once(pg_cluster: PgCluster, tmp_path: Path) -> None:
    with kavenegar_in_a_thread() as kavenegar:
        env = {
            "KAVENEGAR_API_KEY": fk.API_KEY,
            "KAVENEGAR_SENDER": fk.SENDER,
            "KAVENEGAR_API_BASE_URL": kavenegar.base_url,
        }
        with pg_stack(pg_cluster, tmp_path, **env) as stack:
            started = datetime.now(UTC)
            ctl(stack, "orders", "import", str(history_csv(tmp_path / "history.csv")))
            segments = segments_of(stack, started)
            at_risk = sorted(c for c, s in segments.items() if s == "at_risk")
            assert len(at_risk) >= 3, segments
            opted_out = at_risk[0]
            ctl(stack, "notify-policy", "set", "--shop-name", "باران")
            for c in segments:
                sms = "--no-sms" if c == opted_out else "--sms"
                ctl(
                    stack,
                    "contacts",
                    "set",
                    c,
                    "--phone",
                    phone(c),
                    "--locale",
                    "fa-IR",
                    "--timezone",
                    "Asia/Tehran",
                    sms,
                )

            # The same request twice: the second is a replay by its --id and creates nothing.
            create = ("promotions", "create", "دلتنگی", "--segment", "at_risk", "--sms", f"fa={TEXT}",
                      "--id", "miss-you", "--json")
            created = json.loads(
                ctl(stack, *create)
            )
            assert created["status"] == "PROMOTION_STATUS_SCHEDULED"
            reached = [c for c in at_risk if c != opted_out]
            until(lambda: len(kavenegar.messages) >= len(reached))

            def listed() -> dict:  # type: ignore[type-arg]
                return json.loads(ctl(stack, "promotions", "list", "--json"))[0]

            until(
                lambda: (
                    listed()["status"] == "PROMOTION_STATUS_SENT"
                    and listed()["counts"].get("sent") == str(len(reached))
                )
            )
            again = json.loads(
                ctl(stack, *create)
            )
            # notify dies without a goodbye and comes back: its scheduler finds nothing left to send.
            notify = stack.procs["notify"]
            notify.kill9()
            base = process_env(
                tmp_path, stack.database_url, CASHBACK_SHUTDOWN_GRACE="1", CASHBACK_METRICS_PORT="0", **env
            )
            stack.procs["notify"] = start_process(
                "notify",
                {**base, "WALLET_TARGET": stack.procs["wallet"].target, "RULES_TARGET": stack.procs["rules"].target},
            )
            time.sleep(12)  # two rounds of the leader's reconcile (every 5 s) after it takes the lead
            final = listed()
            deliveries = json.loads(ctl(stack, "deliveries", "--limit", "500", "--json"))
            table = ctl(stack, "promotions", "list")

    assert again["promotion_id"] == "miss-you" and again["created_at"] == created["created_at"]
    assert Counter(m["receptor"] for m in kavenegar.messages) == Counter(phone(c) for c in reached)
    for m in kavenegar.messages:
        assert m["message"].startswith("باران: دلمان برایتان تنگ شده!") and m["message"].endswith("\nلغو۱۱")
    promo = [d for d in deliveries if d["kind"] == "MESSAGE_KIND_PROMOTION"]
    assert sorted(d["customer_id"] for d in promo) == at_risk
    for d in promo:
        assert (d["encoding"], d["segments"]) == sms_encoding_and_segments(d["body"]) == ("UCS-2", 2)
    suppressed = [d for d in promo if d["status"] == "DELIVERY_STATUS_SUPPRESSED"]
    assert [d["customer_id"] for d in suppressed] == [opted_out]
    counts = final["counts"]
    assert (counts["matched"], counts["sent"], counts["suppressed"]) == (str(len(at_risk)), str(len(reached)), "1")
    assert "miss-you" in table and "at_risk" in table
