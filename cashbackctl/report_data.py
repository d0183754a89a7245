"""What the program report shows, gathered over gRPC: wallet GetProgramStats and
GetProgramTimeline, rules GetCampaignReport. Shared by `cashbackctl report` and
the console's report page, so both show the same numbers.

Days are the merchant's local days and both ends are inclusive: "--to today"
includes today's activity (an exclusive end hid it and showed all-zero KPIs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.timestamp_pb2 import Timestamp

DEFAULT_DAYS = 30


@dataclass
class ReportData:
    merchant: str
    first: date
    last: date  # inclusive
    currency: str
    stats: wallet_pb2.ProgramStats
    timeline: wallet_pb2.GetProgramTimelineResponse
    campaigns: rules_pb2.GetCampaignReportResponse


def period(first: date | None, last: date | None, zone: ZoneInfo) -> tuple[date, date]:
    """Defaults: up to today, the last 30 days."""
    last = last or datetime.now(zone).date()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError("from: the first day is after the last")
    return first, last


def _ts(d: date, zone: ZoneInfo) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC))
    return out


def requests(merchant: str, first: date, last: date, zone: ZoneInfo, currency: str) -> tuple:
    """The three requests for [first 00:00, the day after last 00:00) local time."""
    window = {"from": _ts(first, zone), "to": _ts(last + timedelta(days=1), zone)}
    return (
        wallet_pb2.GetProgramStatsRequest(merchant_id=merchant, currency_code=currency, **window),
        wallet_pb2.GetProgramTimelineRequest(merchant_id=merchant, currency_code=currency, timezone=zone.key,
                                             **window),
        rules_pb2.GetCampaignReportRequest(merchant_id=merchant, currency_code=currency, **window),
    )
