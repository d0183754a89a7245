"""`cashbackctl report`: a self-contained HTML program report with charts, in the
merchant's language and units (report_view.py; the console shows the same)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2_grpc
from rich.progress import Progress

from cashbackctl.common import call, console, ctx, fail
from cashbackctl.merchant import merchant_currency
from cashbackctl.report_data import ReportData, period, requests
from cashbackctl.report_view import page
from cashbackctl.units import LANGUAGES


def default_language(currency: str) -> str:
    """CASHBACK_LOCALE, else Persian for a merchant in rials, else English."""
    return os.environ.get("CASHBACK_LOCALE", "") or ("fa" if currency == "IRR" else "en")


def merchant_zone() -> str:
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        listed = call(stub.ListCampaigns, rules_pb2.ListCampaignsRequest(merchant_id=ctx().merchant, page_size=50))
    return next((c.timezone for c in listed.campaigns if c.timezone), "UTC")


def report(since: str = typer.Option("", "--from", help="first day, YYYY-MM-DD (default: 29 days before --to)"),
           until: str = typer.Option("", "--to", help="last day, included, YYYY-MM-DD (default: today)"),
           out: Path = typer.Option(Path("report.html"), "--out", help="where to write the HTML"),
           currency: str = typer.Option("", "--currency", help="default: the merchant's"),
           timezone: str = typer.Option("", "--timezone", help="the merchant's zone for days "
                                        "(default: its campaigns')"),
           lang: str = typer.Option("", "--lang", help="en, fa or ar (default: CASHBACK_LOCALE, else fa for "
                                    "merchants in rials, else en)")) -> None:
    """Write a self-contained HTML program report with charts (the last 30 days by default)."""
    cur = currency.upper() or merchant_currency()
    lang = lang or default_language(cur)
    if lang not in LANGUAGES:
        fail(f"lang: one of {', '.join(LANGUAGES)}")
    try:
        zone = ZoneInfo(timezone or merchant_zone())
        first, last = period(date.fromisoformat(since) if since else None,
                             date.fromisoformat(until) if until else None, zone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        fail(f"bad --from/--to/--timezone: {exc}")
    stats_req, timeline_req, campaigns_req = requests(ctx().merchant, first, last, zone, cur)
    with Progress(console=console, transient=True, disable=ctx().as_json) as progress:
        task = progress.add_task("gathering", total=3)
        with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as wallet:
            stats = call(wallet.GetProgramStats, stats_req, timeout=120).stats
            progress.advance(task)
            timeline = call(wallet.GetProgramTimeline, timeline_req, timeout=120)
            progress.advance(task)
        with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as rules:
            campaigns = call(rules.GetCampaignReport, campaigns_req, timeout=120)
    data = ReportData(ctx().merchant, first, last, cur, stats, timeline, campaigns)
    out.write_text(page(data, lang), encoding="utf-8")
    console.print(f"wrote {out} ({out.stat().st_size:,} bytes): {first} to {last} inclusive, {zone.key}, {cur}, {lang}")
