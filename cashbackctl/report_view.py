"""The program report as HTML in en, fa or ar: KPIs, five SVG charts and the
campaign table. `cashbackctl report` wraps it in a page; the console puts the same
fragment in its layout.

Charts are matplotlib SVG with text left as <text> (svg.fonttype none) so the
browser shapes Persian and Arabic; axes count whole units (tomans for IRR) in the
language's digits, never in scientific notation or with an offset."""

from __future__ import annotations

import html
import io
from datetime import date
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cashback_kit.money import Money
from cashbackctl.report_data import ReportData
from cashbackctl.report_strings import STRINGS
from cashbackctl.units import date_text, display_unit, language, major, money_text, number, percent, points_text

COLORS = {"earned": "#2e7d32", "redeemed": "#1565c0", "expired": "#c62828", "liability": "#6a1b9a"}
plt.rcParams["svg.fonttype"] = "none"
plt.rcParams["font.family"] = "sans-serif"  # the page sets the font (svg text { font-family: inherit })


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _whole_axis(axis: object, lang: str, suffix: str = "") -> None:
    """Whole numbers only, grouped, in the language's digits."""
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))  # type: ignore[attr-defined]
    axis.set_major_formatter(FuncFormatter(lambda v, _: number(round(v), lang) + suffix))  # type: ignore[attr-defined]


def _days_axis(ax: plt.Axes, days: list[str], lang: str) -> None:
    step = max(1, len(days) // 10)
    ax.set_xticks(range(0, len(days), step))
    ax.set_xticklabels([date_text(date.fromisoformat(d), lang) for d in days[::step]], rotation=45, ha="right",
                       fontsize=8)


def _m(m: object) -> Money:
    return Money(m.currency_code, m.amount_minor)  # type: ignore[attr-defined]


def charts(data: ReportData, lang: str) -> dict[str, str]:
    s = STRINGS[lang]
    days = [d.date for d in data.timeline.days]
    x = list(range(len(days)))
    series = {k: [float(major(_m(getattr(d, k)))) for d in data.timeline.days]
              for k in ("earned", "redeemed", "expired", "liability")}
    out: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(10, 3.4))
    for k in ("earned", "redeemed", "expired"):
        ax.plot(x, series[k], label=s[k], color=COLORS[k], marker="o", markersize=3)
    ax.set_ylim(bottom=0)
    _whole_axis(ax.yaxis, lang)
    _days_axis(ax, days, lang)
    ax.legend()
    out["flows"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(10, 3.0))
    ax.fill_between(x, series["liability"], color=COLORS["liability"], alpha=0.3)
    ax.plot(x, series["liability"], color=COLORS["liability"])
    ax.set_ylim(bottom=0)
    _whole_axis(ax.yaxis, lang)
    _days_axis(ax, days, lang)
    out["liability"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(6, 3.0))
    buckets = data.timeline.redemption_delay
    labels = [f"{number(b.min_days, lang)}–{number(b.max_days, lang)}" if b.max_days else f"{number(b.min_days, lang)}+"
              for b in buckets]
    ax.bar(labels, [b.customers for b in buckets], color=COLORS["redeemed"])
    ax.set_ylim(bottom=0, top=max([1, *(b.customers for b in buckets)]))
    _whole_axis(ax.yaxis, lang)
    out["delay"] = _svg(fig)

    r = data.campaigns.repeat_purchase
    rates = [100 * r.earners_repeat // r.earners if r.earners else 0,
             100 * r.non_earners_repeat // r.non_earners if r.non_earners else 0]
    fig, ax = plt.subplots(figsize=(5, 3.0))
    ax.bar([f"{s['earners']} ({number(r.earners, lang)})", f"{s['non_earners']} ({number(r.non_earners, lang)})"],
           rates, color=[COLORS["earned"], "#9e9e9e"])
    ax.set_ylim(0, 100)
    _whole_axis(ax.yaxis, lang, "%" if lang == "en" else "٪")
    out["repeat"] = _svg(fig)

    # Cost over GMV is money over money: points campaigns have no place on this chart.
    top = [c for c in data.campaigns.campaigns if not _in_points(c)][:10]
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.45 * max(1, len(top))))
    ratios = [float(100 * Decimal(c.cost.amount_minor) / c.gmv.amount_minor) if c.gmv.amount_minor else 0.0
              for c in top]
    ax.barh([c.name or c.campaign_id for c in top][::-1], ratios[::-1], color=COLORS["earned"])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: percent(Decimal(str(round(v, 1))), lang, 1)))
    out["campaigns"] = _svg(fig)
    return out


def _moves(st: wallet_pb2.ProgramStats, currency: str, s: dict[str, str], lang: str) -> list[tuple[str, str]]:
    """Transfers, conversions and rewards (issue 17): how many, and how much moved (a wallet
    older than these figures leaves them unset: zero)."""
    def moved(count: int, m: object) -> str:
        amount = _m(m) if getattr(m, "currency_code", "") else Money(currency, 0)
        return f"{number(count, lang)} · {money_text(amount, lang)}"

    return [
        (s["transfers"], moved(st.transfers, st.transferred)),
        (s["to_points"], moved(st.conversions_to_points, st.converted_to_points)),
        (s["to_credit"], moved(st.conversions_to_credit, st.converted_to_credit)),
        (s["rewards"], f"{number(st.reward_redemptions, lang)} · {points_text(st.points_redeemed, lang)}"),
    ]


def _in_points(c: rules_pb2.CampaignCost) -> bool:
    return c.reward_unit == rules_pb2.REWARD_UNIT_POINTS


def _cost_cells(c: rules_pb2.CampaignCost, lang: str) -> str:
    """Cost, GMV and cost / GMV: a points campaign's cost is a count of points and its
    cost / GMV no percentage (points are never mixed into the money)."""
    if _in_points(c):
        cost, ratio = points_text(c.points, lang), "—"
    else:
        cost, ratio = money_text(_m(c.cost), lang), _pct(c.cost.amount_minor, c.gmv.amount_minor, lang)
    return "".join(f"<td>{html.escape(cell)}</td>" for cell in (cost, money_text(_m(c.gmv), lang), ratio))


def _pct(num: int, den: int, lang: str) -> str:
    return percent(Decimal(100 * num) / den if den else 0, lang, 1)


def fragment(data: ReportData, locale: str) -> str:
    """KPIs, charts and the campaign table, for either page."""
    lang = language(locale)
    s = STRINGS[lang]
    st = data.stats
    e = html.escape
    kpis = [
        (s["customers_earned"], number(st.customers_earned, lang)),
        (s["customers_redeemed"], number(st.customers_redeemed, lang)),
        (s["earned_total"], money_text(_m(st.earned), lang)), (s["redeemed_total"], money_text(_m(st.redeemed), lang)),
        (s["expired_total"], money_text(_m(st.expired), lang)),
        (s["liability_total"], money_text(_m(st.outstanding_liability), lang)),
        (s["avg_days"], number(Decimal(str(round(st.avg_days_to_first_redemption, 1))), lang, 1)),
        (s["repeat_share"], percent(Decimal(str(round(100 * st.repeat_purchase_share))), lang)),
        *_moves(st, data.currency, s, lang),
    ]
    c = charts(data, lang)
    rows = "".join(
        f"<tr><td>{e(x.name or x.campaign_id)}</td><td>{number(x.orders, lang)}</td>{_cost_cells(x, lang)}</tr>"
        for x in data.campaigns.campaigns)
    unit = e(display_unit(data.currency, lang))
    return (
        f'<p class="sub">{e(s["period"].format(first=date_text(data.first, lang), last=date_text(data.last, lang)))}'
        f" — {unit}</p>"
        '<div class="kpis">' + "".join(f'<div class="kpi"><b>{e(v)}</b><span>{e(k)}</span></div>' for k, v in kpis)
        + "</div>"
        f'<h2>{e(s["flows_title"])} ({unit})</h2><div class="chart">{c["flows"]}</div>'
        f'<h2>{e(s["liability_title"])} ({unit})</h2><div class="chart">{c["liability"]}</div>'
        f'<div class="row"><div><h2>{e(s["delay_title"])}</h2><p class="sub">{e(s["delay_axis"])}</p>'
        f'<div class="chart">{c["delay"]}</div></div>'
        f'<div><h2>{e(s["repeat_title"])}</h2><div class="chart">{c["repeat"]}</div></div></div>'
        f'<h2>{e(s["campaigns_title"])}</h2><div class="chart">{c["campaigns"]}</div>'
        f'<table class="report"><tr><th>{e(s["campaign"])}</th><th>{e(s["orders"])}</th><th>{e(s["cost"])}</th>'
        f'<th>{e(s["gmv"])}</th><th>{e(s["cost_gmv"])}</th></tr>{rows}</table>'
    )


STYLE = """
body { font-family: Vazirmatn, "Noto Sans Arabic", "DejaVu Sans", -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 24px; color: #212121; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 16px; margin: 18px 0 4px; }
.sub { color: #616161; margin-top: 0; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 16px 0 24px; }
.kpi { border: 1px solid #e0e0e0; border-radius: 8px; padding: 10px 12px; }
.kpi b { display: block; font-size: 18px; } .kpi span { color: #616161; font-size: 12px; }
.chart { margin: 4px 0 20px; } .row { display: flex; gap: 24px; flex-wrap: wrap; }
table.report { border-collapse: collapse; } table.report td, table.report th { border-bottom: 1px solid #eee;
  padding: 4px 10px; text-align: end; }
table.report th:first-child, table.report td:first-child { text-align: start; }
svg { max-width: 100%; height: auto; }
.chart svg { direction: ltr; } .chart svg text { font-family: inherit !important; }
"""


def page(data: ReportData, locale: str) -> str:
    """A self-contained page (the CLI's file)."""
    lang = language(locale)
    s = STRINGS[lang]
    title = html.escape(f"{s['title']} — {data.merchant}")
    direction = "rtl" if lang in ("fa", "ar") else "ltr"
    return (f'<!doctype html>\n<html lang="{lang}" dir="{direction}"><head><meta charset="utf-8"><title>{title}'
            f"</title><style>{STYLE}</style></head><body><h1>{title}</h1>{fragment(data, lang)}</body></html>\n")
