"""Deliveries: created once per (event or lot or campaign run, kind, channel,
customer), claimed by senders under a lease, and driven through
SCHEDULED → SENDING → SENT | FAILED | SUPPRESSED | DEAD.

A sender that dies mid-send leaves its deliveries SENDING; when the lease runs
out another sender takes them again. Those in-flight deliveries are the only
ones that can be sent twice (if the first send reached the provider before the
crash). A send whose request went out and got no answer (UNKNOWN) is never
resent: the delivery goes DEAD with that error, for a person to check."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import grpc
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_kit.pb import ts_from_pb, utcnow
from services.notify import tables as t
from services.notify.domain import MAX_ATTEMPTS, backoff_seconds
from services.notify.metrics import DELIVERIES
from services.notify.planning import Message, plan
from services.notify.providers.base import EmailProvider, OutboundEmail, OutboundSms, Outcome, SendResult, SmsRouter
from services.notify.store import insert_ignore, load_contact, load_policy, load_template, opted_out
from services.notify.wallet_client import WalletGateway

log = logging.getLogger("cashback.notify.deliveries")
D = t.deliveries
LEASE = timedelta(seconds=60)
SPENT = "the credit was already spent"


async def create(conn: AsyncConnection, message: Message, now: datetime,
                 channels: tuple[str, ...] = ("sms", "email"), check: dict[str, Any] | None = None) -> int:
    """Load what `plan` needs, insert its deliveries (a unique key per event or lot
    or campaign run, kind, channel and customer) and return how many were new."""
    contact = await load_contact(conn, message.merchant_id, message.customer_id)
    if contact is None:
        return 0
    policy = await load_policy(conn, message.merchant_id)
    stopped = await opted_out(conn, [contact.phone_e164] if contact.phone_e164 else [])
    templates = {}
    for channel in channels:
        custom = await load_template(conn, message.merchant_id, message.kind, channel, contact.locale)
        if custom is not None:
            templates[channel] = custom
    created = 0
    for p in plan(message, contact, policy, templates, stopped, now, channels):
        values = {
            "delivery_id": f"dl_{uuid.uuid4().hex}", "dedupe_key": p.dedupe_key, "merchant_id": message.merchant_id,
            "customer_id": message.customer_id, "kind": message.kind, "channel": p.channel, "status": p.status,
            "to_addr": p.to, "subject": p.subject, "body": p.body, "encoding": p.encoding, "segments": p.segments,
            "attempts": 0, "scheduled_for": p.scheduled_for, "next_attempt_at": p.scheduled_for,
            "provider_message_id": "", "error": p.error, "created_at": now, **(check or {}),
        }
        new = (await conn.execute(insert_ignore(conn, D, values))).rowcount or 0
        if new:
            DELIVERIES.labels(message.kind, p.channel, p.status).inc()
        created += new
    return created


class Sender:
    def __init__(self, db: Database, router: SmsRouter, email: EmailProvider, wallet: WalletGateway | None,
                 clock: Callable[[], datetime] = utcnow, max_attempts: int = MAX_ATTEMPTS,
                 concurrency: int = 16, lease: timedelta = LEASE) -> None:
        self.db, self.router, self.email, self.wallet, self.clock = db, router, email, wallet, clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.gate = asyncio.Semaphore(concurrency)

    async def claim(self, limit: int) -> list[dict[str, Any]]:
        now = self.clock()
        due = or_(and_(D.c.status == "SCHEDULED", D.c.next_attempt_at <= now),
                  and_(D.c.status == "SENDING", D.c.lease_until < now))
        pick = select(D.c.id).where(due).order_by(D.c.next_attempt_at, D.c.id).limit(limit)
        if self.db.is_postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (update(D).where(D.c.id.in_(pick.scalar_subquery()))
                .values(status="SENDING", lease_until=now + self.lease, attempts=D.c.attempts + 1).returning(D))
        async with self.db.write() as conn:
            return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]

    async def send_due(self, limit: int = 100) -> int:
        batch = await self.claim(limit)
        await asyncio.gather(*(self._one(row) for row in batch))
        return len(batch)

    async def _one(self, row: dict[str, Any]) -> None:
        async with self.gate:
            try:
                result = await self._send(row)
            except Exception as exc:
                log.exception("send failed", extra={"delivery_id": row["delivery_id"]})
                result = SendResult(Outcome.RETRY, error=f"{type(exc).__name__}")
            await self.finish(row, result)

    async def _send(self, row: dict[str, Any]) -> SendResult:
        if row["kind"] == "expiry_warning" and not await self._still_expiring(row):
            return SendResult(Outcome.SUPPRESS, error=SPENT)
        try:
            if row["channel"] == "sms":
                provider = self.router.for_number(row["to_addr"])
                return await provider.send(OutboundSms(row["delivery_id"], row["to_addr"], row["body"]))
            return await self.email.send(OutboundEmail(row["delivery_id"], row["to_addr"], row["subject"],
                                                       row["body"]))
        except Exception as exc:
            # Providers map what they know; anything else may have happened after the message
            # went out, so it is not safe to resend.
            log.exception("provider raised", extra={"delivery_id": row["delivery_id"]})
            return SendResult(Outcome.UNKNOWN, error=f"the provider raised {type(exc).__name__}")

    async def _still_expiring(self, row: dict[str, Any]) -> bool:
        """Checked at send time: is there still available credit expiring by then?"""
        if self.wallet is None or not row["check_currency"]:
            return True
        try:
            bal = await self.wallet.balance(row["merchant_id"], row["customer_id"], row["check_currency"])
        except grpc.aio.AioRpcError as exc:
            raise ConnectionError(f"wallet {exc.code().name}") from exc
        if bal.available.amount_minor <= 0 or not bal.HasField("next_expiry_at"):
            return False
        return ts_from_pb(bal.next_expiry_at, "next_expiry_at") <= row["check_expires_at"] + timedelta(seconds=1)

    async def finish(self, row: dict[str, Any], result: SendResult) -> None:
        now = self.clock()
        values: dict[str, Any] = {"lease_until": None, "error": result.error}
        # The provider said the recipient opted out (Twilio 21610): record it for every future message.
        suppressed_by_provider = (result.outcome is Outcome.SUPPRESS and row["channel"] == "sms"
                                  and result.error != SPENT)
        if result.outcome is Outcome.SENT:
            values.update(status="SENT", sent_at=now, provider_message_id=result.provider_message_id)
        elif result.outcome is Outcome.RETRY and row["attempts"] < self.max_attempts:
            delay = max(backoff_seconds(row["attempts"]), result.retry_after or 0)
            values.update(status="SCHEDULED", next_attempt_at=now + timedelta(seconds=delay))
        elif result.outcome is Outcome.RETRY:
            values.update(status="DEAD", error=f"gave up after {row['attempts']} attempts: {result.error}")
        elif result.outcome is Outcome.SUPPRESS:
            values.update(status="SUPPRESSED")
        elif result.outcome is Outcome.UNKNOWN:
            values.update(status="DEAD", error=f"{result.error}; not resent, to avoid a duplicate: check the "
                                               f"provider for {row['delivery_id']}")
        else:
            values.update(status="FAILED")
        async with self.db.write() as conn:
            await conn.execute(update(D).where(D.c.id == row["id"], D.c.status == "SENDING").values(**values))
            if suppressed_by_provider:
                await conn.execute(insert_ignore(conn, t.optouts, {
                    "phone_e164": row["to_addr"], "merchant_id": row["merchant_id"], "created_at": now}))
                await conn.execute(update(t.contacts).where(t.contacts.c.phone_e164 == row["to_addr"])
                                   .values(sms_opt_in=False, updated_at=now))
        DELIVERIES.labels(row["kind"], row["channel"], values["status"]).inc()
        log.info("delivery finished", extra={"delivery_id": row["delivery_id"], "status": values["status"],
                                             "attempts": row["attempts"]})
