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

from cashback_kit import audit, paging
from cashback_kit.db import Database
from cashback_kit.errors import InvalidArgument, NotFound, Violations
from cashback_kit.idempotency import check_same
from cashback_kit.money import Money
from cashback_kit.pb import utcnow
from cashback_kit.validation import MAX_NAME_CHARS, check_email, check_id, check_text
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer, shared_renderer
from cashback_services.notify.adapters.rules_client import RulesGateway
from cashback_services.notify.adapters.store import (
    find_contacts,
    insert_ignore,
    load_contact,
    load_policy,
    load_template,
    upsert,
)
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
from cashback_services.notify.domain.phones import PhoneError, search_forms
from cashback_services.notify.domain.planning import IRAN_OPT_OUT
from cashback_services.notify.domain.promotions import KIND as PROMOTION
from cashback_services.notify.domain.rendering import (
    MessageContext,
    Rendered,
    RenderJob,
    language,
    sample_context,
    validation_jobs,
)
from cashback_services.notify.domain.schedule import CronError, apscheduler_fields
from cashback_services.notify.service_layer.flows import run_reminder
from cashback_services.notify.service_layer.ops import NotifyOps
from cashback_services.notify.service_layer.promotions import Promotions

SHOP_NAME_MAX = 40
TEMPLATE_MAX = 4000  # characters of a stored template (its rendered output is capped apart)
REQUEUE_MAX_IDS = 1000
FIND_CONTACTS_MAX = 50  # contacts one search returns (a shared family phone, say)


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
    def __init__(self, db: Database, wallet: WalletGateway | None, clock: Callable[[], datetime] = utcnow,
                 renderer: TemplateRenderer | None = None, rules: RulesGateway | None = None) -> None:
        self.db, self.wallet, self.clock = db, wallet, clock
        self.renderer = renderer or shared_renderer()
        # Parked events and the audit trail (ListParkedEvents, RetryParkedEvents, ListAuditEvents).
        self.ops = NotifyOps(db, self.renderer, clock)
        # CreatePromotion, ListPromotions, CancelPromotion and the scheduler's runs (audience from rules).
        self.promotions = Promotions(db, wallet, rules, self.renderer, clock)

    # -- contacts, templates, policies ---------------------------------------------------

    async def upsert_contact(self, contact: Contact) -> Contact:
        v = Violations()
        check_id(v, "contact.customer_id", contact.customer_id)
        check_email(v, "contact.email", contact.email.strip())
        check_text(v, "contact.phone_e164", contact.phone_e164, max_chars=32)
        check_text(v, "contact.locale", contact.locale, max_chars=35)
        check_text(v, "contact.timezone", contact.timezone, max_chars=64)
        v.raise_if_any("invalid contact")
        async with self.db.read() as conn:
            region = (await load_policy(conn, contact.merchant_id)).default_region
        c = normalise_contact(contact, region)
        now = self.clock()
        async with self.db.write() as conn:
            old = await load_contact(conn, c.merchant_id, c.customer_id)
            await conn.execute(upsert(t.contacts, {**asdict(c), "updated_at": now}, ["merchant_id", "customer_id"]))
            if audit.by_ops():
                # Which fields changed, never their values (phone and email are personal data).
                changed = [k for k, val in asdict(c).items() if old is None or getattr(old, k) != val]
                await audit.record(conn, t.audit, at=now, merchant_id=c.merchant_id, action="UpsertContact",
                                   target=c.customer_id, change={"created": old is None, "fields": changed})
        return c

    async def get_contact(self, merchant_id: str, customer_id: str) -> Contact:
        async with self.db.read() as conn:
            c = await load_contact(conn, merchant_id, customer_id)
        if c is None:
            raise NotFound(f"no contact for customer {customer_id!r}")
        return c

    async def find_contacts(self, merchant_id: str, phone: str, email: str) -> list[Contact]:
        """Contacts by phone (written any way UpsertContact takes it) or email.
        Neither the number nor the address goes into an error or a log."""
        v = Violations()
        v.check(bool(phone.strip() or email.strip()), "phone", "give a phone or an email")
        check_text(v, "phone", phone, max_chars=40)
        check_text(v, "email", email, max_chars=320)
        v.raise_if_any("invalid contact search")
        async with self.db.read() as conn:
            phones: list[str] = []
            if phone.strip():
                region = (await load_policy(conn, merchant_id)).default_region
                try:
                    phones = search_forms(phone, region)
                except PhoneError as exc:
                    raise InvalidArgument(f"phone: {exc}", field="phone") from None
            return await find_contacts(conn, merchant_id, phones, email.strip(), FIND_CONTACTS_MAX)

    async def set_template(self, merchant_id: str, kind: str, channel: str, locale: str, subject: str,
                           body: str) -> None:
        v = Violations()
        v.check(kind in KINDS, "template.kind", "required: credited, available, reminder or expiry_warning")
        v.check(channel in CHANNELS, "template.channel", "required: SMS or EMAIL")
        v.check(bool(locale) and len(locale) <= 35, "template.locale", "required, e.g. fa-IR")
        check_text(v, "template.locale", locale, max_chars=35)
        v.check(bool(body.strip()), "template.body", "required")
        check_text(v, "template.body", body, max_chars=TEMPLATE_MAX, multiline=True)
        check_text(v, "template.subject", subject, max_chars=300)
        v.raise_if_any("invalid template")
        # Every sample shape of real values, in the render workers: a template that fails on any
        # (recursion, a loop past the time budget, output past the cap, a NUL byte) is refused here.
        jobs = validation_jobs(kind, channel, locale, body, subject)
        for result in await self.renderer.render_all(jobs, stop_at_failure=True):
            if isinstance(result, str):
                raise InvalidArgument(result, field="template.body")
        now = self.clock()
        async with self.db.write() as conn:
            await conn.execute(upsert(t.templates, {
                "merchant_id": merchant_id, "kind": kind, "channel": channel, "locale": locale, "subject": subject,
                "body": body, "updated_at": now}, ["merchant_id", "kind", "channel", "locale"]))
            await audit.record(conn, t.audit, at=now, merchant_id=merchant_id, action="SetTemplate",
                               target=f"{kind}/{channel}/{locale}", change={"subject": subject, "body": body})

    async def preview(self, merchant_id: str, kind: str, channel: str, locale: str, body: str | None,
                      customer_id: str, amount: Money | None, subject: str = "") -> Rendered:
        if (kind not in KINDS and kind != PROMOTION) or channel not in CHANNELS:
            raise InvalidArgument("kind and channel are required", field="kind")
        if kind == PROMOTION and not body:
            raise InvalidArgument("a promotion has no stored text: send the text to preview", field="template.body")
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
            # A promotion's Persian SMS goes to Iranian numbers with «لغو۱۱»: its segments count it.
            end = IRAN_OPT_OUT if kind == PROMOTION and channel == "sms" and language(locale) == "fa" else ""
            return await self.renderer.render(RenderJob(channel, ctx, body, subject or "", end))
        return await self.renderer.render(RenderJob(channel, ctx, *(stored or (None, None))))

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
        check_text(v, "policy.shop_name", p.shop_name, max_chars=200)
        v.check(not p.default_region or (len(p.default_region) == 2 and p.default_region.isalpha()
                                         and p.default_region.upper() in phonenumbers.SUPPORTED_REGIONS),
                "policy.default_region", "an ISO 3166 country code such as IR or SA")
        v.raise_if_any("invalid policy")
        days = tuple(sorted(set(p.expiry_warning_days), reverse=True))
        values = {
            "merchant_id": p.merchant_id, "expiry_warning_days": ",".join(map(str, days)),
            "quiet_hours_start": p.quiet_hours_start, "quiet_hours_end": p.quiet_hours_end,
            "notify_on_credit": p.notify_on_credit, "notify_on_available": p.notify_on_available,
            "shop_name": p.shop_name.strip(), "default_region": p.default_region.upper(),
            "hijri_dates": p.hijri_dates, "latin_digits": p.latin_digits}
        async with self.db.write() as conn:
            await conn.execute(upsert(t.policies, values, ["merchant_id"]))
            await audit.record(conn, t.audit, at=self.clock(), merchant_id=p.merchant_id, action="SetNotifyPolicy",
                               change={k: val for k, val in values.items() if k != "merchant_id"})
            return await load_policy(conn, p.merchant_id)

    async def get_policy(self, merchant_id: str) -> Policy:
        async with self.db.read() as conn:
            return await load_policy(conn, merchant_id)

    # -- reminder campaigns ------------------------------------------------------------------

    async def create_reminder(self, c: dict[str, Any]) -> dict[str, Any]:
        v = Violations()
        v.check(bool(c["name"]) and len(c["name"]) <= 200, "campaign.name", "required, at most 200 characters")
        check_text(v, "campaign.name", c["name"], max_chars=MAX_NAME_CHARS)
        check_id(v, "campaign.campaign_id", c["campaign_id"], required=False)
        check_text(v, "campaign.cron", c["cron"], max_chars=100)
        check_text(v, "campaign.timezone", c["timezone"] or "", max_chars=64)
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
        R = t.reminders
        async with self.db.write() as conn:
            # Insert-if-absent, then read back: concurrent creates with one id all see the same row.
            # The id is the merchant's own: another merchant's campaign of the same id is another row.
            fresh = (await conn.execute(insert_ignore(R, row))).rowcount
            stored = (await conn.execute(select(R).where(R.c.merchant_id == c["merchant_id"],
                                                         R.c.campaign_id == campaign_id))).mappings().one()
            if fresh:
                await audit.record(conn, t.audit, at=row["created_at"], merchant_id=c["merchant_id"],
                                   action="CreateReminderCampaign", target=campaign_id, change=fields)
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
        before = await self.reminder(merchant_id, campaign_id)
        R = t.reminders
        async with self.db.write() as conn:
            await conn.execute(update(R).where(R.c.merchant_id == merchant_id, R.c.campaign_id == campaign_id)
                               .values(active=active))
            await audit.record(conn, t.audit, at=self.clock(), merchant_id=merchant_id,
                               action="SetReminderCampaignActive", target=campaign_id,
                               change={"active": active, "was": before["active"]})
        return await self.reminder(merchant_id, campaign_id)

    async def run_reminder(self, merchant_id: str, campaign_id: str) -> dict[str, Any]:
        campaign = await self.reminder(merchant_id, campaign_id)
        if self.wallet is None:
            raise NotFound("no wallet configured")
        run = await run_reminder(self.db, self.wallet, campaign, self.clock(), self.renderer)
        if audit.current_principal.get() is not None:  # an operator's RunReminderCampaign, not the schedule
            async with self.db.write() as conn:
                await audit.record(conn, t.audit, at=run["started_at"], merchant_id=merchant_id,
                                   action="RunReminderCampaign", target=campaign_id,
                                   change={"run_id": run["run_id"], "deliveries_created": run["deliveries_created"]})
        return run

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
            ids = [r[0] for r in await conn.execute(stmt.returning(D.c.delivery_id))]
            await audit.record(conn, t.audit, at=now, merchant_id=merchant_id, action="RequeueDeliveries",
                               change={"asked_ids": delivery_ids, "created_after": created_after,
                                       "created_before": created_before, "requeued": ids})
            return ids
