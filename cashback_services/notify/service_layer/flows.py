"""What turns into deliveries: credit events (one message per order and kind),
expiry warnings (one a day per customer), and reminder campaign runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.adapters.store import insert_ignore, load_contact, load_policy
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.domain.calendars import local_day
from cashback_services.notify.domain.events import CreditEvent
from cashback_services.notify.domain.planning import Message, for_customer, message_for_credits, wanted
from cashback_services.notify.metrics import STREAM_CURSOR, STREAM_LAG
from cashback_services.notify.service_layer.deliveries import create

STREAM = "wallet"
# An order's awards arrive as consecutive events of one wallet transaction: its message waits
# this long for the rest before it may be sent (NOTIFY_ORDER_GATHER_SECONDS).
ORDER_GATHER = timedelta(seconds=3)


async def read_cursor(db: Database) -> int:
    async with db.read() as conn:
        value = (await conn.execute(select(t.cursor.c.position).where(t.cursor.c.name == STREAM))).scalar()
    return int(value or 0)


async def move_cursor(conn: AsyncConnection, cursor: int, now: datetime) -> None:
    moved = (await conn.execute(update(t.cursor).where(t.cursor.c.name == STREAM)
                                .values(position=cursor, updated_at=now))).rowcount
    if not moved:
        await conn.execute(insert(t.cursor).values(name=STREAM, position=cursor, updated_at=now))


async def ingest(db: Database, event_id: str, cursor: int, credit: CreditEvent | None, now: datetime,
                 gather: timedelta = ORDER_GATHER, renderer: TemplateRenderer | None = None) -> int:
    """Record the event once (inbox) and create or complete its message's deliveries,
    in one transaction that also moves the cursor. A replayed event creates nothing."""
    async with db.write() as conn:
        fresh = (await conn.execute(insert_ignore(t.inbox, {
            "event_id": event_id, "position": cursor, "received_at": now}))).rowcount
        created = 0
        if fresh and credit is not None:
            created = await credit_heard(conn, credit, now, gather, renderer)
        await move_cursor(conn, cursor, now)
    STREAM_CURSOR.set(cursor)
    if credit is not None and credit.occurred_at is not None:
        STREAM_LAG.set(max(0.0, (now - credit.occurred_at).total_seconds()))
    return created


async def credit_heard(conn: AsyncConnection, credit: CreditEvent, now: datetime, gather: timedelta,
                       renderer: TemplateRenderer | None = None) -> int:
    """Add the credit to its order's message of its kind (creating or completing it)."""
    policy = await load_policy(conn, credit.merchant_id)
    if not wanted(credit.kind, policy):
        return 0
    if credit.kind == "available" and await _was_usable_at_once(conn, credit):
        return 0  # its "credited" message already said it could be used now
    await conn.execute(insert_ignore(t.credits, {
        "event_id": credit.event_id, "merchant_id": credit.merchant_id, "customer_id": credit.customer_id,
        "kind": credit.kind, "grp": credit.group, "lot_id": credit.lot_id, "currency": credit.amount.currency,
        "amount_minor": credit.amount.minor, "available_at": credit.available_at,
        "expires_at": credit.expires_at, "occurred_at": credit.occurred_at, "received_at": now}))
    K = t.credits
    rows = (await conn.execute(select(K).where(
        K.c.merchant_id == credit.merchant_id, K.c.customer_id == credit.customer_id, K.c.grp == credit.group,
        K.c.kind == credit.kind).order_by(K.c.received_at, K.c.event_id))).mappings().all()
    message = message_for_credits([_credit(r) for r in rows])
    if message is None:
        return 0
    return await create(conn, message, now, refresh=True, not_before=now + gather, renderer=renderer)


async def _was_usable_at_once(conn: AsyncConnection, credit: CreditEvent) -> bool:
    if not credit.lot_id:
        return False
    K = t.credits
    row = (await conn.execute(select(K).where(K.c.lot_id == credit.lot_id, K.c.kind == "credited",
                                              K.c.merchant_id == credit.merchant_id))).mappings().first()
    return row is not None and _credit(row).usable_at_once()


def _credit(r: Any) -> CreditEvent:
    return CreditEvent(r["event_id"], r["kind"], r["merchant_id"], r["customer_id"],
                       Money(r["currency"], r["amount_minor"]), r["grp"].removeprefix("order:")
                       if r["grp"].startswith("order:") else "", r["lot_id"], r["available_at"], r["expires_at"],
                       r["occurred_at"])


async def expiry_scan(db: Database, wallet: WalletGateway, now: datetime,
                      renderer: TemplateRenderer | None = None) -> int:
    """Warn the configured days before credit expires: each credit gets the warning of
    the smallest configured day count that covers it, once; a customer gets at most
    one warning a day (in their zone), covering all their credit newly due one."""
    async with db.read() as conn:
        merchants = [r[0] for r in await conn.execute(select(t.contacts.c.merchant_id).distinct())]
    created = 0
    for merchant in merchants:
        async with db.read() as conn:
            policy = await load_policy(conn, merchant)
        days = sorted(d for d in policy.expiry_warning_days if d > 0)
        if not days:
            continue
        async for credit in wallet.expiring(merchant, now, now + timedelta(days=days[-1])):
            expires = credit.earliest_expiry
            if expires is None:
                continue
            tier = next(d for d in days if expires <= now + timedelta(days=d))
            amount = credit.amount
            lots = ",".join(sorted(credit.lot_ids)) or f"{credit.customer_id}@{expires.isoformat()}"
            async with db.write() as conn:
                created += await _warn(conn, merchant, credit.customer_id, lots, tier, amount, expires, now,
                                       renderer)
    return created


async def _warn(conn: AsyncConnection, merchant: str, customer: str, lots: str, tier: int, amount: Money,
                expires: datetime, now: datetime, renderer: TemplateRenderer | None = None) -> int:
    contact = await load_contact(conn, merchant, customer)
    if contact is None:
        return 0  # nobody to warn (yet): a contact added later still gets this tier's warning
    fresh = (await conn.execute(insert_ignore(t.warned, {
        "merchant_id": merchant, "lot_key": f"{customer}:{lots}", "days": tier, "warned_at": now}))).rowcount
    if not fresh:
        return 0  # this credit had this tier's warning already
    day = local_day(now, contact.timezone).isoformat()
    context = for_customer(kind="expiry_warning", amount=amount, expires_at=expires, customer_id=customer,
                           merchant_id=merchant)
    # One a day per customer: the key is the local day; what expires is re-read at send time.
    message = Message(merchant, customer, "expiry_warning", f"expiry:{day}", context)
    return await create(conn, message, now, refresh=True,
                        check={"check_currency": amount.currency, "check_expires_at": expires}, renderer=renderer)


async def run_reminder(db: Database, wallet: WalletGateway, campaign: dict[str, Any], now: datetime,
                       renderer: TemplateRenderer | None = None) -> dict[str, Any]:
    """Once per customer per local day in the campaign's zone: the local date is in
    every delivery's key, so a second run the same day creates nothing new."""
    local_date = now.astimezone(ZoneInfo(campaign["timezone"])).date().isoformat()
    inactive_since = now - timedelta(days=campaign["inactive_days"])
    minimum = Money(campaign["min_currency"], campaign["min_amount"])
    channels = tuple(c for c in campaign["channels"].split(",") if c)
    matched = created = 0
    async for cb in wallet.balances(campaign["merchant_id"], minimum, inactive_since):
        matched += 1
        available = cb.available
        context = for_customer(kind="reminder", amount=available, balance=available)
        async with db.write() as conn:
            message = Message(campaign["merchant_id"], cb.customer_id, "reminder",
                              f"reminder:{campaign['merchant_id']}:{campaign['campaign_id']}:{local_date}", context)
            created += await create(conn, message, now, channels=channels, renderer=renderer)
    run = {"run_id": f"run_{uuid.uuid4().hex[:16]}", "campaign_id": campaign["campaign_id"],
           "merchant_id": campaign["merchant_id"], "local_date": local_date, "customers_matched": matched,
           "deliveries_created": created, "started_at": now}
    async with db.write() as conn:
        await conn.execute(insert(t.runs).values(**run))
    return run
