"""Creating deliveries: one per (order or event or lot set or campaign run, kind,
channel, customer), whatever replays happen."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer, shared_renderer
from cashback_services.notify.adapters.store import load_contact, load_policy, load_template, opted_out
from cashback_services.notify.domain.planning import Message, plan, render_jobs
from cashback_services.notify.metrics import DELIVERIES

D = t.deliveries
# What a later part of the same order may still change while its message waits to go out.
_REFRESHED = ("subject", "body", "encoding", "segments")
# xmax is 0 only on a row the statement inserted (not on one it updated).
_INSERTED = (literal_column("xmax") == literal_column("'0'")).label("inserted")


async def create(conn: AsyncConnection, message: Message, now: datetime,
                 channels: tuple[str, ...] = ("sms", "email"), check: dict[str, Any] | None = None,
                 refresh: bool = False, not_before: datetime | None = None,
                 renderer: TemplateRenderer | None = None,
                 texts: Callable[[str], tuple[Mapping[str, tuple[str, str]], str]] | None = None,
                 promotion_id: str | None = None) -> int:
    """Load what `plan` needs, insert its deliveries (a unique key per message, kind,
    channel and customer) and return how many were new. With `refresh`, a delivery
    of the same key still waiting to go out takes the new text (an order's later award
    joining its message); one already sending or sent is left alone. `texts` gives the
    (body, subject) per channel for a contact's locale, and the locale to render them in,
    instead of the merchant's stored templates (a promotion's own texts); `promotion_id`
    marks its deliveries."""
    contact = await load_contact(conn, message.merchant_id, message.customer_id)
    if contact is None:
        return 0
    policy = await load_policy(conn, message.merchant_id)
    stopped = await opted_out(conn, [contact.phone_e164] if contact.phone_e164 else [])
    templates: dict[str, tuple[str, str]] = {}
    own: Mapping[str, tuple[str, str]] = {}
    if texts is not None:
        own, text_locale = texts(contact.locale)
        contact = replace(contact, locale=text_locale)  # a text in another language renders in its own
    for channel in channels:
        custom = own.get(channel) if texts is not None else await load_template(
            conn, message.merchant_id, message.kind, channel, contact.locale)
        if custom is not None:
            templates[channel] = custom
    # Rendered in the render workers (time budget, output cap), never on this event loop.
    jobs = render_jobs(message, contact, policy, templates, stopped, now, channels)
    results = await (renderer or shared_renderer()).render_all(list(jobs.values()))
    rendered = dict(zip(jobs, results, strict=True))
    created = 0
    for p in plan(message, contact, policy, templates, stopped, now, channels, not_before=not_before,
                  rendered=rendered):
        values = {
            "delivery_id": f"dl_{uuid.uuid4().hex}", "dedupe_key": p.dedupe_key, "merchant_id": message.merchant_id,
            "customer_id": message.customer_id, "kind": message.kind, "channel": p.channel, "status": p.status,
            "to_addr": p.to, "subject": p.subject, "body": p.body, "encoding": p.encoding, "segments": p.segments,
            "attempts": 0, "scheduled_for": p.scheduled_for, "next_attempt_at": p.scheduled_for,
            "provider_message_id": "", "error": p.error, "created_at": now, "promotion_id": promotion_id,
            **(check or {}),
        }
        stmt = pg_insert(D).values(values)
        if refresh:
            stmt = stmt.on_conflict_do_update(index_elements=[D.c.dedupe_key],
                                              set_={c: stmt.excluded[c] for c in _REFRESHED},
                                              where=D.c.status == "SCHEDULED")
        else:
            stmt = stmt.on_conflict_do_nothing()
        new = (await conn.execute(stmt.returning(D.c.id, _INSERTED))).all()
        inserted = sum(1 for _, fresh in new if fresh)
        if inserted:
            DELIVERIES.labels(message.kind, p.channel, p.status).inc()
        created += inserted
    return created
