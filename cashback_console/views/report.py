"""The program report: the same KPIs, charts and table as `cashbackctl report`,
in the session's language and the merchant's units; --to is inclusive here too."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from cashback_console.sessions import Session
from cashback_console.web import console_of, page, render
from cashbackctl.report_data import ReportData, period, requests
from cashbackctl.report_view import fragment


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@page()
async def report(request: Request, s: Session) -> Response:
    zone = ZoneInfo(s.timezone or "UTC")
    try:
        first, last = period(_day(request.query_params.get("from", "")), _day(request.query_params.get("to", "")),
                             zone)
    except ValueError:
        first, last = period(None, None, zone)
    c = console_of(request)
    stats_req, timeline_req, campaigns_req = requests(s.merchant, first, last, zone, s.currency)
    data = ReportData(s.merchant, first, last, s.currency,
                      (await c.call(s, "wallet", "GetProgramStats", stats_req, deadline=120)).stats,
                      await c.call(s, "wallet", "GetProgramTimeline", timeline_req, deadline=120),
                      await c.call(s, "rules", "GetCampaignReport", campaigns_req, deadline=120))
    return render(request, s, "report.html", title_key="Program report", first=first.isoformat(),
                  last=last.isoformat(), fragment=fragment(data, s.lang))
