"""`cashbackctl report`: a self-contained HTML program report with charts.

Data comes from the services over gRPC (wallet: GetProgramStats and
GetProgramTimeline; rules: GetCampaignReport); charts are matplotlib SVG inlined
in the page, so the file needs nothing else to render."""

from __future__ import annotations

import html
import io
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import typer
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rich.progress import Progress

from cashback_kit.money import currency_exponent
from cashbackctl.common import call, console, ctx, fail, money

COLORS = {"earned": "#2e7d32", "redeemed": "#1565c0", "expired": "#c62828", "liability": "#6a1b9a"}


def _ts(d: date, zone: ZoneInfo) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC))
    return out


def _major(minor: int, currency: str) -> float:
    return minor / 10 ** currency_exponent(currency)


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def charts(timeline: wallet_pb2.GetProgramTimelineResponse, campaigns: rules_pb2.GetCampaignReportResponse,
           currency: str) -> dict[str, str]:
    days = [d.date for d in timeline.days]
    series = {k: [_major(getattr(d, k).amount_minor, currency) for d in timeline.days]
              for k in ("earned", "redeemed", "expired", "liability")}
    out: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(10, 3.6))
    for k in ("earned", "redeemed", "expired"):
        ax.plot(days, series[k], label=k, color=COLORS[k], marker="o", markersize=3)
    ax.set_ylabel(currency)
    ax.legend()
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.set_title("Cashback earned, redeemed and expired per day")
    out["flows"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.fill_between(days, series["liability"], color=COLORS["liability"], alpha=0.3)
    ax.plot(days, series["liability"], color=COLORS["liability"])
    ax.set_ylabel(currency)
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.set_title("Outstanding liability (end of day)")
    out["liability"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    labels = [f"{b.min_days}–{b.max_days}" if b.max_days else f"{b.min_days}+" for b in timeline.redemption_delay]
    ax.bar(labels, [b.customers for b in timeline.redemption_delay], color=COLORS["redeemed"])
    ax.set_xlabel("days from first earning to first redemption")
    ax.set_ylabel("customers")
    ax.set_title("Redemption delay")
    out["delay"] = _svg(fig)

    r = campaigns.repeat_purchase
    rates = [r.earners_repeat / r.earners if r.earners else 0,
             r.non_earners_repeat / r.non_earners if r.non_earners else 0]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar([f"earned cashback ({r.earners})", f"did not earn ({r.non_earners})"], [x * 100 for x in rates],
           color=[COLORS["earned"], "#9e9e9e"])
    ax.set_ylabel("% who bought again")
    ax.set_ylim(0, 100)
    ax.set_title("Repeat purchase rate")
    out["repeat"] = _svg(fig)

    top = list(campaigns.campaigns)[:10]
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * max(1, len(top))))
    ratios = [100 * c.cost.amount_minor / c.gmv.amount_minor if c.gmv.amount_minor else 0 for c in top]
    ax.barh([c.name or c.campaign_id for c in top][::-1], ratios[::-1], color=COLORS["earned"])
    ax.set_xlabel("cost / GMV (%)")
    ax.set_title("Top campaigns by cost")
    out["campaigns"] = _svg(fig)
    return out


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 24px; color: #212121; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} .sub {{ color: #616161; margin-top: 0; }}
.kpis {{ display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 16px 0 24px; }}
.kpi {{ border: 1px solid #e0e0e0; border-radius: 8px; padding: 10px 12px; }}
.kpi b {{ display: block; font-size: 18px; }} .kpi span {{ color: #616161; font-size: 12px; }}
.chart {{ margin: 12px 0 28px; }} .row {{ display: flex; gap: 24px; flex-wrap: wrap; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #eee; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>{title}</h1><p class="sub">{period}</p>
<div class="kpis">{kpis}</div>
<div class="chart">{flows}</div>
<div class="chart">{liability}</div>
<div class="row"><div class="chart">{delay}</div><div class="chart">{repeat}</div></div>
<div class="chart">{campaigns}</div>
<table><tr><th>campaign</th><th>orders</th><th>cost</th><th>GMV</th><th>cost / GMV</th></tr>{rows}</table>
</body></html>
"""


def render_html(merchant: str, start: date, end: date, stats: wallet_pb2.ProgramStats,
                timeline: wallet_pb2.GetProgramTimelineResponse, campaigns: rules_pb2.GetCampaignReportResponse,
                currency: str) -> str:
    kpis = [
        ("customers who earned", f"{stats.customers_earned:,}"),
        ("customers who redeemed", f"{stats.customers_redeemed:,}"),
        ("cashback earned", money(stats.earned)), ("cashback redeemed", money(stats.redeemed)),
        ("expired (breakage)", money(stats.expired)), ("outstanding liability", money(stats.outstanding_liability)),
        ("avg days to first redemption", f"{stats.avg_days_to_first_redemption:.1f}"),
        ("earners who bought again", f"{stats.repeat_purchase_share:.0%}"),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(c.name or c.campaign_id)}</td><td>{c.orders:,}</td><td>{html.escape(money(c.cost))}</td>"
        f"<td>{html.escape(money(c.gmv))}</td>"
        f"<td>{(100 * c.cost.amount_minor / c.gmv.amount_minor if c.gmv.amount_minor else 0):.2f}%</td></tr>"
        for c in campaigns.campaigns)
    return PAGE.format(
        title=html.escape(f"Cashback program report — {merchant}"),
        period=html.escape(f"{start.isoformat()} to {end.isoformat()} (end exclusive), {currency}"),
        kpis="".join(f'<div class="kpi"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>' for k, v in kpis),
        rows=rows, **charts(timeline, campaigns, currency))


def report(since: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD (local)"),
           until: str = typer.Option(..., "--to", help="day after the last, YYYY-MM-DD (local)"),
           out: Path = typer.Option(Path("report.html"), "--out", help="where to write the HTML"),
           currency: str = typer.Option("SAR", "--currency"),
           timezone: str = typer.Option("UTC", "--timezone", help="the merchant's zone for days")) -> None:
    """Write a self-contained HTML program report with charts."""
    try:
        start, end, zone = date.fromisoformat(since), date.fromisoformat(until), ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:
        fail(f"bad --from/--to/--timezone: {exc}")
        raise
    m, cur = ctx().merchant, currency.upper()
    t0, t1 = _ts(start, zone), _ts(end, zone)
    with Progress(console=console, transient=True, disable=ctx().as_json) as progress:
        task = progress.add_task("gathering", total=4)
        with ctx().stub("wallet", wallet_pb2_grpc.WalletServiceStub) as wallet:
            stats = call(wallet.GetProgramStats, wallet_pb2.GetProgramStatsRequest(
                merchant_id=m, currency_code=cur, **{"from": t0, "to": t1}), timeout=120).stats
            progress.advance(task)
            timeline = call(wallet.GetProgramTimeline, wallet_pb2.GetProgramTimelineRequest(
                merchant_id=m, currency_code=cur, timezone=timezone, **{"from": t0, "to": t1}), timeout=120)
            progress.advance(task)
        with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as rules:
            campaigns = call(rules.GetCampaignReport, rules_pb2.GetCampaignReportRequest(
                merchant_id=m, currency_code=cur, **{"from": t0, "to": t1}), timeout=120)
            progress.advance(task)
        out.write_text(render_html(m, start, end, stats, timeline, campaigns, cur), encoding="utf-8")
        progress.advance(task)
    console.print(f"wrote {out} ({out.stat().st_size:,} bytes)")
