"""Notify's service layer: contacts, templates, policies, reminder campaigns and
deliveries. Takes and returns plain values; the servicer translates protos."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

import phonenumbers
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, literal, select, tuple_, update

from cashback_kit import paging
from cashback_kit.db import Database
from cashback_kit.errors import InvalidArgument, NotFound, Violations
from cashback_kit.idempotency import check_same
from cashback_kit.money import Money
from cashback_kit.pb import utcnow
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.store import insert_ignore, load_contact, load_policy, load_template, upsert
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.domain.model import (
    CHANNELS,
    KINDS,
    Contact,
    Policy,
    normalise_contact,
    parse_hhmm,
    zone_ok,
)
from cashback_services.notify.domain.rendering import (
    MessageContext,
    Rendered,
    render,
    sample_context,
    validate_template,
)
from cashback_services.notify.domain.schedule import CronError, apscheduler_fields
from cashback_services.notify.service_layer.flows import run_reminder

SHOP_NAME_MAX = 40
REQUEUE_MAX_IDS = 1000


def cron_trigger(cron: str, zone: str) -> CronTrigger:
    """The trigger for a standard cron expression (6 = Saturday, 0 and 7 = Sunday) in `zone`."""
    try:
        return CronTrigger(**apscheduler_fields(cron), timezone=zone)
    except (CronError, ValueError, KeyError) as exc:
        raise InvalidArgument(f"cron {cron!r} is not a 5-field cron expression: {exc}",
                              field="campaign.cron") from exc


def _before(raw: object) -> int:
    if not isinstance(raw, int):
        raise ValueError("bad position")
    return raw


def _reminder_after(raw: object) -> tuple[datetime, str]:
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw)):
        raise ValueError("bad position")
    return datetime.fromisoformat(raw[0]), raw[1]


class NotifyService:
    def __init__(self, db: Database, wallet: WalletGateway | None, clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.wallet, self.clock = db, wallet, clock

    # -- contacts, templates, policies ---------------------------------------------------

    async def upsert_contact(self, contact: Contact) -> Contact:
        async with self.db.read() as conn:
            region = (await load_policy(conn, contact.merchant_id)).default_region
        c = normalise_contact(contact, region)
        async with self.db.write() as conn:
            await conn.execute(upsert(t.contacts, {**asdict(c), "updated_at": self.clock()},
                                      ["merchant_id", "customer_id"]))
        return c

    async def get_contact(self, merchant_id: str, customer_id: str) -> Contact:
        async with self.db.read() as conn:
            c = await load_contact(conn, merchant_id, customer_id)
        if c is None:
            raise NotFound(f"no contact for customer {customer_id!r}")
        return c

    async def set_template(self, merchant_id: str, kind: str, channel: str, locale: str, subject: str,
                           body: str) -> None:
        v = Violations()
        v.check(kind in KINDS, "template.kind", "required: credited, available, reminder or expiry_warning")
        v.check(channel in CHANNELS, "template.channel", "required: SMS or EMAIL")
        v.check(bool(locale) and len(locale) <= 35, "template.locale", "required, e.g. fa-IR")
        v.check(bool(body.strip()) and len(body) <= 4000, "template.body", "required, at most 4000 characters")
        v.check(len(subject) <= 300, "template.subject", "at most 300 characters")
        v.raise_if_any("invalid template")
        validate_template(kind, channel, locale, body, subject)
        async with self.db.write() as conn:
            await conn.execute(upsert(t.templates, {
                "merchant_id": merchant_id, "kind": kind, "channel": channel, "locale": locale, "subject": subject,
                "body": body, "updated_at": self.clock()}, ["merchant_id", "kind", "channel", "locale"]))

    async def preview(self, merchant_id: str, kind: str, channel: str, locale: str, body: str | None,
                      customer_id: str, amount: Money | None) -> Rendered:
        if kind not in KINDS or channel not in CHANNELS:
            raise InvalidArgument("kind and channel are required", field="kind")
        zone = "UTC"
        async with self.db.read() as conn:
            if customer_id:
                contact = await load_contact(conn, merchant_id, customer_id)
                if contact is not None:
                    locale, zone = contact.locale, contact.timezone
            stored = None if body else await load_template(conn, merchant_id, kind, channel, locale or "en")
            policy = await load_policy(conn, merchant_id)
        ctx: MessageContext = sample_context(kind, locale or "en", amount, zone, policy.shop_name,
                                             policy.latin_digits, policy.hijri_dates)
        if body:
            return render(channel, ctx, body=body, subject="")
        return render(channel, ctx, *(stored or (None, None)))

    async def set_policy(self, p: Policy) -> Policy:
        v = Violations()
        v.check(all(1 <= d <= 365 for d in p.expiry_warning_days), "policy.expiry_warning_days",
                "each day count must be 1..365")
        parse_hhmm(p.quiet_hours_start, "policy.quiet_hours_start", v)
        parse_hhmm(p.quiet_hours_end, "policy.quiet_hours_end", v)
        v.check(bool(p.quiet_hours_start) == bool(p.quiet_hours_end), "policy.quiet_hours_end",
                "give both ends of the quiet hours, or neither")
        v.check(len(p.shop_name.strip()) <= SHOP_NAME_MAX, "policy.shop_name",
                f"at most {SHOP_NAME_MAX} characters (13 keep Persian and Arabic SMS in one segment)")
        v.check(not p.default_region or (len(p.default_region) == 2 and p.default_region.isalpha()
                                         and p.default_region.upper() in phonenumbers.SUPPORTED_REGIONS),
                "policy.default_region", "an ISO 3166 country code such as IR or SA")
        v.raise_if_any("invalid policy")
        days = tuple(sorted(set(p.expiry_warning_days), reverse=True))
        async with self.db.write() as conn:
            await conn.execute(upsert(t.policies, {
                "merchant_id": p.merchant_id, "expiry_warning_days": ",".join(map(str, days)),
                "quiet_hours_start": p.quiet_hours_start, "quiet_hours_end": p.quiet_hours_end,
                "notify_on_credit": p.notify_on_credit, "notify_on_available": p.notify_on_available,
                "shop_name": p.shop_name.strip(), "default_region": p.default_region.upper(),
                "hijri_dates": p.hijri_dates, "latin_digits": p.latin_digits}, ["merchant_id"]))
            return await load_policy(conn, p.merchant_id)

    async def get_policy(self, merchant_id: str) -> Policy:
        async with self.db.read() as conn:
            return await load_policy(conn, merchant_id)

    # -- reminder campaigns ------------------------------------------------------------------

    async def create_reminder(self, c: dict[str, Any]) -> dict[str, Any]:
        v = Violations()
        v.check(bool(c["name"]) and len(c["name"]) <= 200, "campaign.name", "required, at most 200 characters")
        v.check(zone_ok(c["timezone"] or ""), "campaign.timezone", "an IANA zone such as Asia/Tehran")
        v.check(bool(c["channels"]), "campaign.channels", "at least one of SMS, EMAIL")
        v.check(c["inactive_days"] >= 0, "campaign.inactive_days", "must not be negative")
        v.check(c["min_amount"] >= 0, "campaign.min_available", "must not be negative")
        v.raise_if_any("invalid reminder campaign")
        cron_trigger(c["cron"], c["timezone"])
        fields = {k: c[k] for k in ("merchant_id", "name", "cron", "timezone", "min_currency", "min_amount",
                                    "inactive_days", "channels", "active")}
        fingerprint = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        campaign_id = c["campaign_id"] or f"rc_{uuid.uuid4().hex[:16]}"
        row = {**fields, "campaign_id": campaign_id, "fingerprint": fingerprint, "created_at": self.clock()}
        async with self.db.write() as conn:
            # Insert-if-absent, then read back: concurrent creates with one id all see the same row.
            await conn.execute(insert_ignore(t.reminders, row))
            stored = (await conn.execute(select(t.reminders).where(t.reminders.c.campaign_id == campaign_id))
                      ).mappings().one()
        # The fingerprint covers merchant_id: another merchant's campaign under this id is refused too.
        check_same(stored["fingerprint"], fingerprint, f"campaign_id {campaign_id!r}")
        return dict(stored)

    async def list_reminders(self, merchant_id: str, page_size: int = 0,
                             token: str = "") -> tuple[list[dict[str, Any]], str]:
        size = paging.page_size(page_size)
        query = paging.scope("ListReminderCampaigns", merchant_id)
        after = paging.read(token, query, _reminder_after)
        R = t.reminders.c
        q = select(t.reminders).where(R.merchant_id == merchant_id)
        if after is not None:
            q = q.where(tuple_(R.created_at, R.campaign_id) > tuple_(literal(after[0]), literal(after[1])))
        async with self.db.read() as conn:
            rows = [dict(r) for r in (await conn.execute(
                q.order_by(R.created_at, R.campaign_id).limit(size + 1))).mappings()]
        last = rows[size - 1] if len(rows) > size else None
        return rows[:size], paging.issue(query, [last["created_at"].isoformat(), last["campaign_id"]]) if last else ""

    async def reminder(self, merchant_id: str, campaign_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(t.reminders).where(
                t.reminders.c.merchant_id == merchant_id, t.reminders.c.campaign_id == campaign_id))).mappings().first()
        if row is None:
            raise NotFound(f"no reminder campaign {campaign_id!r}")
        return dict(row)

    async def set_reminder_active(self, merchant_id: str, campaign_id: str, active: bool) -> dict[str, Any]:
        await self.reminder(merchant_id, campaign_id)
        async with self.db.write() as conn:
            await conn.execute(
                update(t.reminders).where(t.reminders.c.campaign_id == campaign_id).values(active=active))
        return await self.reminder(merchant_id, campaign_id)

    async def run_reminder(self, merchant_id: str, campaign_id: str) -> dict[str, Any]:
        campaign = await self.reminder(merchant_id, campaign_id)
        if self.wallet is None:
            raise NotFound("no wallet configured")
        return await run_reminder(self.db, self.wallet, campaign, self.clock())

    # -- deliveries -----------------------------------------------------------------------

    async def list_deliveries(self, merchant_id: str, customer_id: str, page_size: int,
                              token: str) -> tuple[list[dict[str, Any]], str]:
        size = paging.page_size(page_size)
        query = paging.scope("ListDeliveries", merchant_id, customer_id)
        before = paging.read(token, query, _before)
        D = t.deliveries
        q = select(D).where(D.c.merchant_id == merchant_id)
        if customer_id:
            q = q.where(D.c.customer_id == customer_id)
        if before is not None:
            q = q.where(D.c.id < before)
        async with self.db.read() as conn:
            rows = [dict(r) for r in (await conn.execute(q.order_by(D.c.id.desc()).limit(size + 1))).mappings()]
        more = len(rows) > size
        rows = rows[:size]
        return rows, paging.issue(query, rows[-1]["id"]) if more else ""

    async def requeue(self, merchant_id: str, delivery_ids: list[str], created_after: datetime | None,
                      created_before: datetime | None) -> list[str]:
        """Put the merchant's DEAD or FAILED deliveries back, due now with a fresh retry
        budget: by ids, or created in [created_after, created_before)."""
        v = Violations()
        by_range = created_after is not None or created_before is not None
        v.check(bool(delivery_ids) != by_range, "delivery_ids",
                "give delivery ids or a time range (created_after, created_before), not both")
        v.check(len(delivery_ids) <= REQUEUE_MAX_IDS, "delivery_ids", f"at most {REQUEUE_MAX_IDS} ids at a time")
        if by_range:
            v.check(created_after is not None and created_before is not None, "created_before",
                    "a time range needs both created_after and created_before")
            v.check(created_after is None or created_before is None or created_after < created_before,
                    "created_before", "must be after created_after")
        v.raise_if_any("invalid requeue")
        D = t.deliveries
        now = self.clock()
        stmt = update(D).where(D.c.merchant_id == merchant_id, D.c.status.in_(("DEAD", "FAILED")))
        if delivery_ids:
            stmt = stmt.where(D.c.delivery_id.in_(delivery_ids))
        else:
            stmt = stmt.where(D.c.created_at >= created_after, D.c.created_at < created_before)
        # The retry budget counts from scheduled_for, so a requeued delivery gets a whole one again.
        stmt = stmt.values(status="SCHEDULED", attempts=0, scheduled_for=now, next_attempt_at=now,
                           lease_until=None, error=func.concat("requeued; was: ", D.c.error))
        async with self.db.write() as conn:
            rows = await conn.execute(stmt.returning(D.c.delivery_id))
            return [r[0] for r in rows]
