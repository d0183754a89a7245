"""cashbackctl parked: wallet events notify could not process (parked with their
error instead of stopping its stream follower): list them, retry them once the cause
is fixed. Also `cashbackctl parked audit`: who changed what in notify."""

from __future__ import annotations

import typer
from cashback.notify.v1 import notify_pb2 as N
from cashback.notify.v1 import notify_pb2_grpc

from cashbackctl.common import call, ctx, emit

app = typer.Typer(help="Wallet events notify parked: list and retry them.", no_args_is_help=True)


def _when(ts) -> str:  # type: ignore[no-untyped-def]
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if ts.seconds else "-"


_COLUMNS = [("id", lambda e: e.event_id), ("customer", lambda e: e.customer_id), ("cursor", lambda e: str(e.cursor)),
            ("attempts", lambda e: str(e.attempts)), ("parked", lambda e: _when(e.parked_at)),
            ("error", lambda e: e.error)]


@app.command("list")
def list_parked(page_size: int = typer.Option(100, help="how many, newest first")) -> None:
    """The merchant's parked events, newest first, with why each failed."""
    with ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub) as stub:
        resp = call(stub.ListParkedEvents, N.ListParkedEventsRequest(merchant_id=ctx().merchant,
                                                                     page_size=page_size))
    emit(list(resp.events), _COLUMNS, list(resp.events), title="parked events")


@app.command("retry")
def retry(event_ids: list[str] = typer.Argument(None, help="event ids; none = every parked event",
                                                show_default=False)) -> None:
    """Process parked events again: those that now succeed leave the list."""
    with ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub) as stub:
        resp = call(stub.RetryParkedEvents, N.RetryParkedEventsRequest(merchant_id=ctx().merchant,
                                                                       event_ids=event_ids or []))
    emit(resp, [("processed", lambda r: " ".join(r.processed_event_ids) or "-"),
                ("still parked", lambda r: " ".join(e.event_id for e in r.still_parked) or "-")], [resp])


@app.command("audit")
def audit_log(action: str = typer.Option("", help="only this RPC's changes, e.g. SetTemplate"),
              page_size: int = typer.Option(100, help="how many, newest first")) -> None:
    """Who changed what in notify (templates, contacts, policies, reminders, requeues, retries):
    the key's id (never the key), when, and the change."""
    with ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub) as stub:
        resp = call(stub.ListAuditEvents, N.ListAuditEventsRequest(merchant_id=ctx().merchant, action=action,
                                                                   page_size=page_size))
    emit(list(resp.events), [("at", lambda e: _when(e.at)), ("key", lambda e: e.key_id),
                             ("name", lambda e: e.key_name or "-"), ("action", lambda e: e.action),
                             ("target", lambda e: e.target or "-"), ("change", lambda e: e.change_json)],
         list(resp.events), title="notify audit")
