"""The stream follower's dead-letter table: a wallet event notify cannot process is
parked with its error and the cursor moves past it, so one bad event (or one
merchant's data) never stops every merchant's messages. Ops list the parked events
and retry them once the cause is fixed.

What is NOT parked: a database or wallet that is away (Unavailable). Those are not the
event's fault; the follower retries the same event until they are back."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cashback_kit import audit
from cashback_kit.db import Database
from cashback_kit.errors import DomainError, Unavailable
from cashback_kit.money import Money
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.adapters.store import insert_ignore, upsert
from cashback_services.notify.domain.events import CreditEvent, StreamedEvent
from cashback_services.notify.service_layer.flows import ORDER_GATHER, credit_heard, ingest, move_cursor

log = logging.getLogger("cashback.notify.parked")
P = t.parked


def reason(exc: BaseException) -> str:
    """Why an event failed, without personal data: a domain error's message (ours, no
    values), else the exception's type (a database error's text carries the statement's
    parameters, so only its driver class is kept)."""
    if isinstance(exc, DomainError):
        return f"{type(exc).__name__}: {exc.message}"[:500]
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"database: {type(exc.orig).__name__}"
    return type(exc).__name__


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, (Unavailable, OperationalError, InterfaceError, ConnectionError, OSError))


def _payload(c: CreditEvent) -> dict[str, Any]:
    iso = (lambda d: d.isoformat() if d else None)  # noqa: E731
    return {"event_id": c.event_id, "kind": c.kind, "merchant_id": c.merchant_id, "customer_id": c.customer_id,
            "currency": c.amount.currency, "amount_minor": c.amount.minor, "order_id": c.order_id,
            "lot_id": c.lot_id, "available_at": iso(c.available_at), "expires_at": iso(c.expires_at),
            "occurred_at": iso(c.occurred_at)}


def _credit(p: dict[str, Any]) -> CreditEvent:
    when = (lambda v: datetime.fromisoformat(v) if v else None)  # noqa: E731
    return CreditEvent(p["event_id"], p["kind"], p["merchant_id"], p["customer_id"],
                       Money(p["currency"], p["amount_minor"]), p["order_id"], p["lot_id"], when(p["available_at"]),
                       when(p["expires_at"]), when(p["occurred_at"]))


async def handle(db: Database, event: StreamedEvent, now: datetime, gather: timedelta = ORDER_GATHER,
                 renderer: TemplateRenderer | None = None) -> bool:
    """Process one streamed event; park it if it cannot be. True when processed."""
    try:
        await ingest(db, event.event_id, event.cursor, event.credit, now, gather, renderer)
        return True
    except Exception as exc:
        if _is_outage(exc):
            raise
        why = reason(exc)
        log.warning("wallet event parked", extra={"event_id": event.event_id, "merchant_id": event.merchant_id,
                                                   "error": why})
        await park(db, event, now, why)
        return False


async def park(db: Database, event: StreamedEvent, now: datetime, why: str) -> None:
    """Record the event as heard (inbox), park it, and move the cursor past it: one transaction."""
    payload = _payload(event.credit) if event.credit is not None else {}
    async with db.write() as conn:
        await conn.execute(insert_ignore(t.inbox, {"event_id": event.event_id, "position": event.cursor,
                                                   "received_at": now}))
        await conn.execute(upsert(P, {
            "event_id": event.event_id, "merchant_id": event.merchant_id[:128],
            "customer_id": event.customer_id[:128], "position": event.cursor, "payload": payload,
            "error": why, "attempts": 1, "parked_at": now, "last_attempt_at": now}, ["event_id"]))
        await move_cursor(conn, event.cursor, now)


async def list_parked(db: Database, merchant_id: str, limit: int, before: int | None = None,
                      event_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Newest (by stream position) first; `before` a position, for paging."""
    q = select(P).where(P.c.merchant_id == merchant_id)
    if before is not None:
        q = q.where(P.c.position < before)
    if event_ids:
        q = q.where(P.c.event_id.in_(event_ids))
    async with db.read() as conn:
        rows = await conn.execute(q.order_by(P.c.position.desc()).limit(limit))
        return [dict(r) for r in rows.mappings()]


async def retry(db: Database, merchant_id: str, event_ids: list[str], now: datetime,
                renderer: TemplateRenderer | None = None, limit: int = 1000) -> tuple[list[str], list[dict[str, Any]]]:
    """Process the merchant's parked events again (named, or all up to `limit`), oldest first:
    (processed ids, rows still parked)."""
    rows = sorted(await list_parked(db, merchant_id, limit, event_ids=event_ids), key=lambda r: r["position"])
    done: list[str] = []
    still: list[dict[str, Any]] = []
    for row in rows:
        try:
            async with db.write() as conn:
                if row["payload"]:
                    await credit_heard(conn, _credit(row["payload"]), now, timedelta(0), renderer)
                await conn.execute(delete(P).where(P.c.event_id == row["event_id"]))
            done.append(row["event_id"])
        except Exception as exc:
            if _is_outage(exc):
                raise
            values = {"error": reason(exc), "attempts": row["attempts"] + 1, "last_attempt_at": now}
            async with db.write() as conn:
                await conn.execute(update(P).where(P.c.event_id == row["event_id"]).values(**values))
            still.append({**row, **values})
    async with db.write() as conn:
        await audit.record(conn, t.audit, at=now, merchant_id=merchant_id, action="RetryParkedEvents",
                           change={"asked": event_ids or "all", "processed": done,
                                   "still_parked": [r["event_id"] for r in still]})
    return done, still
