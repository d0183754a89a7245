"""cashbackctl requeue: put DEAD or FAILED deliveries back in notify's queue."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from cashback.notify.v1 import notify_pb2 as N
from cashback.notify.v1 import notify_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from cashbackctl.common import call, ctx, emit, fail


def _when(text: str, option: str) -> Timestamp | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} must be a date or time such as 2026-12-01 or 2026-12-01T08:00+03:30")
        raise
    out = Timestamp()
    out.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return out


def requeue(delivery_ids: list[str] = typer.Argument(None, help="delivery ids (dl_…)", show_default=False),
            since: str = typer.Option("", help="or: those created at or after this time (ISO 8601; UTC if no zone)"),
            until: str = typer.Option("", help="… and before this time")) -> None:
    """Put the merchant's DEAD or FAILED deliveries back in the queue, due now with a
    fresh retry budget (e.g. after a provider outage or a fixed SMTP password)."""
    request = N.RequeueDeliveriesRequest(merchant_id=ctx().merchant, delivery_ids=delivery_ids or [])
    after, before = _when(since, "--since"), _when(until, "--until")
    if after is not None:
        request.created_after.CopyFrom(after)
    if before is not None:
        request.created_before.CopyFrom(before)
    with ctx().stub("notify", notify_pb2_grpc.NotifyServiceStub) as stub:
        resp = call(stub.RequeueDeliveries, request)
    emit(resp, [("requeued", lambda r: str(r.requeued)), ("deliveries", lambda r: " ".join(r.delivery_ids) or "-")],
         [resp])
