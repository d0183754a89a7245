"""What turns into deliveries: wallet events (credited, available), expiry
warnings, and reminder campaign runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cashback.wallet.v1 import wallet_pb2
from sqlalchemy import insert, select, update

from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.notify import tables as t
from cashback_services.notify.deliveries import create
from cashback_services.notify.metrics import STREAM_CURSOR, STREAM_LAG
from cashback_services.notify.planning import Message, for_customer, message_for_event, ts
from cashback_services.notify.store import insert_ignore, load_policy
from cashback_services.notify.wallet_client import WalletGateway

E = wallet_pb2.WalletEventType
STREAM = "wallet"


async def read_cursor(db: Database) -> int:
    async with db.read() as conn:
        value = (await conn.execute(select(t.cursor.c.position).where(t.cursor.c.name == STREAM))).scalar()
    return int(value or 0)


async def ingest(db: Database, event: wallet_pb2.WalletEvent, now: datetime) -> int:
    """Record the event once (inbox) and create its deliveries, in one transaction
    that also moves the cursor. A replayed event creates nothing."""
    async with db.write() as conn:
        fresh = (await conn.execute(insert_ignore(conn, t.inbox, {
            "event_id": event.event_id, "position": event.cursor, "received_at": now}))).rowcount
        created = 0
        if fresh:
            created = await _deliveries_for(conn, event, now)
        moved = (await conn.execute(update(t.cursor).where(t.cursor.c.name == STREAM)
                                    .values(position=event.cursor, updated_at=now))).rowcount
        if not moved:
            await conn.execute(insert(t.cursor).values(name=STREAM, position=event.cursor, updated_at=now))
    STREAM_CURSOR.set(event.cursor)
    occurred = ts(event.occurred_at)
    if occurred is not None:
        STREAM_LAG.set(max(0.0, (now - occurred).total_seconds()))
    return created


async def _deliveries_for(conn, event: wallet_pb2.WalletEvent, now: datetime) -> int:
    message = message_for_event(event, await load_policy(conn, event.merchant_id))
    return 0 if message is None else await create(conn, message, now)


async def expiry_scan(db: Database, wallet: WalletGateway, now: datetime) -> int:
    """Warn the configured days before credit expires: each credit gets the
    warning of the smallest configured day count that covers it, once."""
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
            expires = ts(credit.earliest_expiry)
            if expires is None:
                continue
            d = next(d for d in days if expires <= now + timedelta(days=d))
            amount = Money(credit.amount.currency_code, credit.amount.amount_minor)
            context = for_customer(kind="expiry_warning", amount=amount, expires_at=expires,
                                   customer_id=credit.customer_id, merchant_id=merchant)
            lots = ",".join(sorted(credit.lot_ids)) or expires.isoformat()
            message = Message(merchant, credit.customer_id, "expiry_warning", f"expiry:{lots}:{d}d", context)
            async with db.write() as conn:
                created += await create(conn, message, now,
                                        check={"check_currency": amount.currency, "check_expires_at": expires})
    return created


async def run_reminder(db: Database, wallet: WalletGateway, campaign: dict, now: datetime) -> dict:
    """Once per customer per local day in the campaign's zone: the local date is in
    every delivery's key, so a second run the same day creates nothing new."""
    local_date = now.astimezone(ZoneInfo(campaign["timezone"])).date().isoformat()
    inactive_since = now - timedelta(days=campaign["inactive_days"])
    from cashback.common.v1 import common_pb2

    minimum = common_pb2.Money(currency_code=campaign["min_currency"], amount_minor=campaign["min_amount"])
    channels = tuple(c for c in campaign["channels"].split(",") if c)
    matched = created = 0
    async for cb in wallet.balances(campaign["merchant_id"], minimum, inactive_since):
        matched += 1
        available = Money(cb.balance.available.currency_code or campaign["min_currency"],
                          cb.balance.available.amount_minor)
        context = for_customer(kind="reminder", amount=available, balance=available)
        async with db.write() as conn:
            message = Message(campaign["merchant_id"], cb.customer_id, "reminder",
                              f"reminder:{campaign['campaign_id']}:{local_date}", context)
            created += await create(conn, message, now, channels=channels)
    run = {"run_id": f"run_{uuid.uuid4().hex[:16]}", "campaign_id": campaign["campaign_id"],
           "merchant_id": campaign["merchant_id"], "local_date": local_date, "customers_matched": matched,
           "deliveries_created": created, "started_at": now}
    async with db.write() as conn:
        await conn.execute(insert(t.runs).values(**run))
    return run
