"""cashbackctl campaigns: create from a file, list, show, pause/activate/end, simulate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rich.progress import track

from cashbackctl.campaign_file import CampaignFileError, load_campaigns
from cashbackctl.common import call, console, ctx, emit, fail, money, ts

app = typer.Typer(no_args_is_help=True, help="Cashback campaigns (rules service).")
Status = rules_pb2.CampaignStatus

COLUMNS = [
    ("id", lambda c: c.campaign_id),
    ("name", lambda c: c.name),
    ("status", lambda c: Status.Name(c.status).removeprefix("CAMPAIGN_STATUS_")),
    ("v", lambda c: str(c.version)),
    ("reward", lambda c: money(c.fixed) if c.HasField("fixed") else f"{c.percent_bps / 100:g}%"),
    ("budget used", lambda c: f"{money(c.budget_used)} / {money(c.budget) if c.HasField('budget') else '∞'}"),
    ("window", lambda c: f"{ts(c.starts_at)} → {ts(c.ends_at)}"),
]


@app.command()
def create(file: Path = typer.Argument(..., exists=True, readable=True, help="YAML or JSON campaign file"),
           activate: bool = typer.Option(False, help="create as ACTIVE instead of DRAFT")) -> None:
    """Create campaigns from a YAML/JSON file (one, a list, or {campaigns: [...]})."""
    try:
        campaigns = load_campaigns(file, ctx().merchant)
    except CampaignFileError as exc:
        fail(str(exc))
    created = []
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        for c in campaigns:
            if activate:
                c.status = Status.CAMPAIGN_STATUS_ACTIVE
            created.append(call(stub.CreateCampaign, rules_pb2.CreateCampaignRequest(campaign=c)).campaign)
    emit(created, COLUMNS, created, title="created")


@app.command("list")
def list_(status: str = typer.Option("", help="draft, active, paused or ended")) -> None:
    """List the merchant's campaigns."""
    wanted = Status.Value(f"CAMPAIGN_STATUS_{status.upper()}") if status else Status.CAMPAIGN_STATUS_UNSPECIFIED
    out: list[rules_pb2.Campaign] = []
    token = ""
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        while True:
            resp = call(stub.ListCampaigns, rules_pb2.ListCampaignsRequest(
                merchant_id=ctx().merchant, page_size=200, page_token=token, status=wanted))
            out.extend(resp.campaigns)
            token = resp.next_page_token
            if not token:
                break
    emit(out, COLUMNS, out)


@app.command()
def show(campaign_id: str, version: int = typer.Option(0, help="a past version (0 = latest)")) -> None:
    """Show one campaign, all fields."""
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        c = call(stub.GetCampaign, rules_pb2.GetCampaignRequest(
            merchant_id=ctx().merchant, campaign_id=campaign_id, version=version)).campaign
    if ctx().as_json:
        emit(c)
        return
    from google.protobuf import text_format

    console.print(text_format.MessageToString(c, as_utf8=True), highlight=False)


def _set_status(campaign_id: str, status: Status.ValueType) -> None:
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        c = call(stub.SetCampaignStatus, rules_pb2.SetCampaignStatusRequest(
            merchant_id=ctx().merchant, campaign_id=campaign_id, status=status)).campaign
    emit(c, COLUMNS, [c])


@app.command()
def pause(campaign_id: str) -> None:
    """Pause a campaign."""
    _set_status(campaign_id, Status.CAMPAIGN_STATUS_PAUSED)


@app.command()
def activate(campaign_id: str) -> None:
    """Activate a campaign."""
    _set_status(campaign_id, Status.CAMPAIGN_STATUS_ACTIVE)


@app.command()
def end(campaign_id: str) -> None:
    """End a campaign for good."""
    _set_status(campaign_id, Status.CAMPAIGN_STATUS_ENDED)


def last_month(zone: str, today: date | None = None) -> tuple[datetime, datetime]:
    """[first day of last month, first day of this month) at local midnight in `zone`."""
    tz = ZoneInfo(zone)
    today = today or datetime.now(tz).date()
    this_month = today.replace(day=1)
    prev = (this_month.replace(year=this_month.year - 1, month=12) if this_month.month == 1
            else this_month.replace(month=this_month.month - 1))
    return (datetime.combine(prev, time(0), tzinfo=tz).astimezone(UTC),
            datetime.combine(this_month, time(0), tzinfo=tz).astimezone(UTC))


@app.command()
def simulate(file: Path = typer.Argument(..., exists=True, readable=True, help="draft campaign file(s)"),
             since: str = typer.Option("", "--from", help="start date (default: first day of last month)"),
             until: str = typer.Option("", "--to",
                                       help="end date, exclusive (default: first day of this month)")) -> None:
    """Replay recorded orders against a draft: what would it have cost? (default: last month)"""
    try:
        drafts = load_campaigns(file, ctx().merchant)
    except CampaignFileError as exc:
        fail(str(exc))
    results = []
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        for draft in track(drafts, description="simulating", console=console, disable=ctx().as_json):
            start, stop = last_month(draft.timezone or "UTC")
            if since:
                start = datetime.combine(date.fromisoformat(since), time(0), tzinfo=ZoneInfo(draft.timezone or "UTC"))
            if until:
                stop = datetime.combine(date.fromisoformat(until), time(0), tzinfo=ZoneInfo(draft.timezone or "UTC"))
            t0, t1 = Timestamp(), Timestamp()
            t0.FromDatetime(start.astimezone(UTC))
            t1.FromDatetime(stop.astimezone(UTC))
            req = rules_pb2.SimulateCampaignRequest(campaign=draft, **{"from": t0, "to": t1})
            sim = call(stub.SimulateCampaign, req, timeout=300).simulation
            results.append((draft, start, stop, sim))
    if ctx().as_json:
        from cashbackctl.common import to_dict

        emit({"simulations": [{"name": d.name, "from": a.isoformat(), "to": b.isoformat(), **to_dict(s)}
                              for d, a, b, s in results]})
        return
    emit([], [
        ("campaign", lambda r: r[0].name),
        ("window", lambda r: f"{r[1]:%Y-%m-%d} → {r[2]:%Y-%m-%d}"),
        ("orders matched", lambda r: f"{r[3].orders_matched:,} / {r[3].orders_considered:,}"),
        ("customers", lambda r: f"{r[3].customers:,}"),
        ("cashback", lambda r: money(r[3].total_cashback)),
        ("GMV", lambda r: money(r[3].gmv)),
        ("cashback / GMV", lambda r: f"{r[3].cashback_to_gmv:.2%}"),
    ], results)
