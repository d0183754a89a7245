"""cashbackctl campaigns: apply a file, update, list, show, pause/activate/end, simulate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import typer
import yaml
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from rich.progress import track
from rich.table import Table

from cashbackctl.campaign_file import CampaignFileError, campaign_from_doc, field_paths, load_campaigns, load_docs
from cashbackctl.campaign_view import days_text, describe
from cashbackctl.common import call, call_failed, console, ctx, emit, fail, money
from cashbackctl.merchant import merchant_currency

app = typer.Typer(no_args_is_help=True, help="Cashback campaigns (rules service).")
Status = rules_pb2.CampaignStatus

COLUMNS = [
    ("id", lambda c: c.campaign_id),
    ("name", lambda c: c.name),
    ("status", lambda c: Status.Name(c.status).removeprefix("CAMPAIGN_STATUS_")),
    ("v", lambda c: str(c.version)),
    ("reward", lambda c: money(c.fixed) if c.HasField("fixed") else f"{c.percent_bps / 100:g}%"),
    ("budget used", lambda c: f"{money(c.budget_used)} / {money(c.budget) if c.HasField('budget') else '∞'}"),
    ("days", lambda c: days_text(c)),
]


def _all(stub: rules_pb2_grpc.RulesServiceStub,
         status: Status.ValueType = Status.CAMPAIGN_STATUS_UNSPECIFIED) -> list[rules_pb2.Campaign]:
    out: list[rules_pb2.Campaign] = []
    token = ""
    while True:
        resp = call(stub.ListCampaigns, rules_pb2.ListCampaignsRequest(
            merchant_id=ctx().merchant, page_size=500, page_token=token, status=status))
        out.extend(resp.campaigns)
        token = resp.next_page_token
        if not token:
            return out


def resolve(stub: rules_pb2_grpc.RulesServiceStub, ref: str) -> rules_pb2.Campaign:
    """A campaign by its full id or a unique prefix of it."""
    try:
        return stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id=ctx().merchant, campaign_id=ref),
                                metadata=ctx().metadata(), timeout=30).campaign
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            call_failed(exc)
    found = [c for c in _all(stub) if c.campaign_id.startswith(ref)]
    if len(found) == 1:
        return found[0]
    if not found:
        fail(f"campaign_id: no campaign of {ctx().merchant} starts with {ref!r}")
    fail(f"campaign_id: {ref!r} could be any of {', '.join(c.campaign_id for c in found)}")


def _differs(current: rules_pb2.Campaign, wanted: rules_pb2.Campaign, path: str) -> bool:
    a, b = getattr(current, path), getattr(wanted, path)
    if path in ("percent_bps", "fixed"):
        return current.WhichOneof("reward") != wanted.WhichOneof("reward") or a != b
    if path == "tier_percent_bps":
        return dict(a) != dict(b)
    if hasattr(a, "__len__") and not isinstance(a, str):
        return list(a) != list(b)
    return bool(a != b)


def apply_doc(stub: rules_pb2_grpc.RulesServiceStub, doc: dict, existing: list[rules_pb2.Campaign],
              activate: bool) -> tuple[str, rules_pb2.Campaign]:
    """Create the campaign, or bring the one with its key (else its name) up to date."""
    try:
        wanted = campaign_from_doc(doc, ctx().merchant, lambda: merchant_currency(required=False))
    except CampaignFileError as exc:
        fail(str(exc))
    if wanted.campaign_id:
        current = next((c for c in existing if c.campaign_id == wanted.campaign_id), None)
    else:
        same = [c for c in existing if c.name == wanted.name and c.status != Status.CAMPAIGN_STATUS_ENDED]
        if len(same) > 1:
            fail(f"key: {len(same)} campaigns are named {wanted.name!r}; give this one a key (its id)")
        current = same[0] if same else None
    if current is None:
        if activate:
            wanted.status = Status.CAMPAIGN_STATUS_ACTIVE
        return "created", call(stub.CreateCampaign, rules_pb2.CreateCampaignRequest(campaign=wanted)).campaign
    if wanted.currency_code and wanted.currency_code != current.currency_code:
        fail(f"currency_code: {current.campaign_id} pays in {current.currency_code}; a campaign's currency "
             "cannot change (end it and create another)")
    wanted.campaign_id = current.campaign_id
    changed = [p for p in field_paths(doc) if _differs(current, wanted, p)]
    outcome, out = "unchanged", current
    if changed:
        out = call(stub.UpdateCampaign, rules_pb2.UpdateCampaignRequest(
            campaign=wanted, update_mask=FieldMask(paths=changed))).campaign
        outcome = "updated"
    if activate and out.status == Status.CAMPAIGN_STATUS_DRAFT:
        out = call(stub.SetCampaignStatus, rules_pb2.SetCampaignStatusRequest(
            merchant_id=ctx().merchant, campaign_id=out.campaign_id, status=Status.CAMPAIGN_STATUS_ACTIVE)).campaign
        outcome = "activated" if outcome == "unchanged" else outcome
    return outcome, out


@app.command()
def create(file: Path = typer.Argument(..., exists=True, readable=True, help="YAML or JSON campaign file"),
           activate: bool = typer.Option(False, help="new (and draft) campaigns become ACTIVE")) -> None:
    """Apply a campaign file (one, a list, or {campaigns: [...]}): safe to run again.

    Each campaign's `key` becomes its id, so a second run creates nothing twice and
    updates what changed (without a key, the campaign of the same name is updated)."""
    try:
        docs = load_docs(file)
    except CampaignFileError as exc:
        fail(str(exc))
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        existing = _all(stub)
        results = [apply_doc(stub, doc, existing, activate) for doc in docs]
    emit([c for _, c in results], [("", lambda r: r[0]), *[(n, lambda r, f=f: f(r[1])) for n, f in COLUMNS]],
         results)


UPDATE_HELP = ("field=value as in a campaign file, e.g. percent=12 budget='50,000 toman' "
               "ends_on=2026-12-31 channels=[CHANNEL_APP]")


@app.command()
def update(campaign_id: str = typer.Argument(..., help="id or a unique prefix"),
           changes: list[str] = typer.Argument(..., help=UPDATE_HELP)) -> None:
    """Change fields of a campaign (a new version; ENDED campaigns cannot change)."""
    doc: dict = {}
    for change in changes:
        name, sep, value = change.partition("=")
        if not sep or not name.strip():
            fail(f"{change!r}: write field=value, e.g. percent=12")
        try:
            doc[name.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as exc:
            fail(f"{name}: {exc}")
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        current = resolve(stub, campaign_id)
        doc.setdefault("timezone", current.timezone or "UTC")
        doc["key"] = current.campaign_id
        doc.setdefault("currency_code", current.currency_code)
        _, out = apply_doc(stub, doc, [current], activate=False)
    emit(out, COLUMNS, [out])


@app.command("list")
def list_(status: str = typer.Option("", help="draft, active, paused or ended")) -> None:
    """List the merchant's campaigns."""
    wanted = Status.Value(f"CAMPAIGN_STATUS_{status.upper()}") if status else Status.CAMPAIGN_STATUS_UNSPECIFIED
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        out = _all(stub, wanted)
    emit(out, COLUMNS, out)


@app.command()
def show(campaign_id: str = typer.Argument(..., help="id or a unique prefix"),
         version: int = typer.Option(0, help="a past version (0 = latest)")) -> None:
    """Show one campaign, every field that is set, in words."""
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        c = resolve(stub, campaign_id)
        if version:
            c = call(stub.GetCampaign, rules_pb2.GetCampaignRequest(
                merchant_id=ctx().merchant, campaign_id=c.campaign_id, version=version)).campaign
    if ctx().as_json:
        emit(c)
        return
    table = Table(show_header=False, box=None, title=f"{c.name} ({c.campaign_id})")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in describe(c):
        table.add_row(label, value)
    console.print(table)


def _set_status(campaign_id: str, status: Status.ValueType) -> None:
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        c = call(stub.SetCampaignStatus, rules_pb2.SetCampaignStatusRequest(
            merchant_id=ctx().merchant, campaign_id=resolve(stub, campaign_id).campaign_id, status=status)).campaign
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
                                       help="last day, inclusive (default: last day of last month)")) -> None:
    """Replay recorded orders against a draft: what would it have cost? (default: last month)"""
    try:
        drafts = load_campaigns(file, ctx().merchant, lambda: merchant_currency(required=False))
    except CampaignFileError as exc:
        fail(str(exc))
    results = []
    with ctx().stub("rules", rules_pb2_grpc.RulesServiceStub) as stub:
        for draft in track(drafts, description="simulating", console=console, disable=ctx().as_json):
            start, stop = last_month(draft.timezone or "UTC")
            if since:
                start = datetime.combine(date.fromisoformat(since), time(0), tzinfo=ZoneInfo(draft.timezone or "UTC"))
            if until:
                stop = datetime.combine(date.fromisoformat(until) + timedelta(days=1), time(0),
                                        tzinfo=ZoneInfo(draft.timezone or "UTC"))
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
        ("days", lambda r: f"{r[1]:%Y-%m-%d} → {r[2] - timedelta(days=1):%Y-%m-%d}"),
        ("orders matched", lambda r: f"{r[3].orders_matched:,} / {r[3].orders_considered:,}"),
        ("customers", lambda r: f"{r[3].customers:,}"),
        ("cashback", lambda r: f"{r[3].total_points:,} points" if r[3].total_points else money(r[3].total_cashback)),
        ("GMV", lambda r: money(r[3].gmv)),
        ("cashback / GMV", lambda r: f"{r[3].cashback_to_gmv:.2%}"),
    ], results)
