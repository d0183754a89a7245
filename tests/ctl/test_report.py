"""`cashbackctl report` writes a self-contained HTML report from real services,
and it renders in a real headless Chromium with no console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from google.protobuf.duration_pb2 import Duration
from PIL import Image
from typer.testing import CliRunner

from cashback_kit.client import bearer
from cashbackctl.main import app
from tests.support.keys import TEST_KEYS
from tests.support.pgcluster import PgCluster
from tests.support.stack import Stack, pg_stack

pytestmark = pytest.mark.e2e


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.geteuid() != 0:
        pytest.fail("Chromium is not installed and this is not root: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("chromium") or pytest.fail("installed chromium but found no binary")


def sar(minor: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="SAR", amount_minor=minor)


@pytest.fixture(scope="module")
def stack(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Orders placed 3 days ago are seeded through AwardOrder: a wider live-scoring window than 24 h.
    with pg_stack(pg_cluster, tmp_path_factory.mktemp("report"), WALLET_SWEEP_INTERVAL_SECONDS="0.2",
                  RULES_MAX_BACKDATE_SECONDS=str(7 * 86_400)) as s:
        seed(s)
        yield s


def seed(stack: Stack) -> None:
    """Orders from five customers, one redemption, and one lot that has expired."""
    now = datetime.now(UTC)
    rules, wallet = stack.procs["rules"].target, stack.procs["wallet"].target
    with grpc.insecure_channel(rules) as rch, grpc.insecure_channel(wallet) as wch:
        r, w = rules_pb2_grpc.RulesServiceStub(rch), wallet_pb2_grpc.WalletServiceStub(wch)
        for name, bps, expires in (("Welcome 10%", 1000, 90), ("Flash 5% (1 day)", 500, 1)):
            r.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(
                merchant_id="m1", name=name, status=rules_pb2.CAMPAIGN_STATUS_ACTIVE, currency_code="SAR",
                percent_bps=bps, timezone="UTC", expires_after_days=expires)), metadata=bearer(TEST_KEYS["ops"]))
        for i in range(6):
            line = rules_pb2.OrderLine(sku="s", unit_price=sar(20_000 + 5_000 * i), quantity=1)
            order = rules_pb2.Order(merchant_id="m1", order_id=f"rep-{i}", customer_id=f"c{i % 5}",
                                    currency_code="SAR", channel=rules_pb2.CHANNEL_WEB, payment_method="card",
                                    lines=[line])
            # The last order is placed now: a report "to today" must count it.
            order.placed_at.FromDatetime(now - timedelta(days=3, hours=-i) if i < 5 else now)
            w.AwardOrder(wallet_pb2.AwardOrderRequest(order=order), metadata=bearer(TEST_KEYS["checkout"]), timeout=10)
        hold = w.AuthorizeRedemption(wallet_pb2.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id="c0", order_id="next", amount=sar(1000), idempotency_key="r1",
            hold_ttl=Duration(seconds=60)), metadata=bearer(TEST_KEYS["checkout"]), timeout=10).hold
        w.CaptureRedemption(wallet_pb2.CaptureRedemptionRequest(merchant_id="m1", hold_id=hold.hold_id),
                            metadata=bearer(TEST_KEYS["checkout"]), timeout=10)


def report(stack: Stack, out: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["report", "--out", str(out), *args], env=stack.client_env())
    assert result.exit_code == 0, result.output
    return out.read_text()


def kpi(page: str, label: str) -> str:
    return {k: v for v, k in re.findall(r'<div class="kpi"><b>([^<]*)</b><span>([^<]*)</span>', page)}[label]


def test_the_default_report_runs_to_today_inclusive_over_the_last_30_days(stack, tmp_path: Path):
    page = report(stack, tmp_path / "r.html")
    today = datetime.now(UTC).date()
    assert f"{today - timedelta(days=29)} to {today} (both days included)" in page
    assert kpi(page, "customers who earned") == "5"
    # The awards were all credited today: a report ending yesterday has none, one of today alone has all.
    assert kpi(report(stack, tmp_path / "y.html", "--from", str(today - timedelta(days=7)),
                      "--to", str(today - timedelta(days=1))), "customers who earned") == "0"
    assert kpi(report(stack, tmp_path / "t.html", "--from", str(today), "--to", str(today)),
               "customers who earned") == "5"


def test_axes_are_whole_numbers_without_scientific_notation_in_the_merchants_language(stack, tmp_path: Path):
    page = report(stack, tmp_path / "fa.html", "--lang", "fa")
    assert 'dir="rtl"' in page and "گزارش برنامهٔ کش‌بک" in page
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", page)
    assert labels, "chart text should stay text (svg.fonttype none)"
    assert not any(re.search(r"\d[eE][+-]?\d|×10|1e\d", t) for t in labels)
    axis_numbers = [t for t in labels if re.fullmatch(r"[۰-۹٬]+", t.strip())]
    assert axis_numbers and all("٫" not in t for t in axis_numbers)  # whole numbers, Persian digits
    assert not re.search(r"[0-9]", "".join(axis_numbers))


def test_the_report_has_every_chart_and_renders_in_headless_chromium(stack, tmp_path: Path):
    out = tmp_path / "report.html"
    page = report(stack, out)
    assert page.count("<svg") == 5
    for title in ("earned, redeemed and expired per day", "Outstanding liability", "Redemption delay",
                  "Who bought again", "Top campaigns by cost"):
        assert title in page
    assert "Welcome 10%" in page and "Flash 5% (1 day)" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", page)  # self-contained: nothing fetched
    assert "10.00 SAR" in page  # the redemption

    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", "--window-size=1280,2400", out.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console_errors == []
    image = Image.open(shot)
    assert image.format == "PNG" and image.size == (1280, 2400)
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 200, "the screenshot looks blank"
    shutil.copy(shot, Path(os.environ.get("CASHBACK_REPORT_SCREENSHOT", tmp_path / "copy.png")))
