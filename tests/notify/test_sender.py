"""The delivery state machine against a real database: retries until the last
attempt then DEAD, an opted-out channel is SUPPRESSED, UNKNOWN is never resent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from cashback_kit.db import Database
from cashback_kit.money import Money
from services.notify import tables as t
from services.notify.deliveries import Sender, create
from services.notify.domain import MAX_ATTEMPTS
from services.notify.main import MIGRATIONS
from services.notify.planning import Message, for_customer
from services.notify.providers.base import Outcome, SendResult, SmsRouter
from services.notify.providers.logsink import LogEmailSink, LogSmsSink


class Scripted(LogSmsSink):
    """An SMS provider that answers what the test says, and counts the sends."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome, self.sent = outcome, 0

    async def send(self, msg):
        self.sent += 1
        return SendResult(self.outcome, error=f"scripted {self.outcome.value}")


async def _db(url: str) -> Database:
    db = Database(url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    return db


async def _one(db: Database, now: datetime) -> None:
    async with db.write() as conn:
        await conn.execute(insert(t.deliveries).values(
            delivery_id=f"dl_{uuid.uuid4().hex}", dedupe_key="k1", merchant_id="m1", customer_id="c1",
            kind="reminder", channel="sms", status="SCHEDULED", to_addr="+966501234567", subject="", body="hi",
            encoding="GSM-7", segments=1, attempts=0, scheduled_for=now, next_attempt_at=now,
            provider_message_id="", error="", created_at=now))


async def _row(db: Database) -> dict:
    async with db.read() as conn:
        return dict((await conn.execute(select(t.deliveries))).mappings().one())


async def test_a_delivery_that_keeps_failing_safely_is_retried_then_dead(db_url):
    db = await _db(db_url)
    clock = {"now": datetime.now(UTC)}
    provider = Scripted(Outcome.RETRY)
    sender = Sender(db, SmsRouter(provider), LogEmailSink(), None, clock=lambda: clock["now"])
    await _one(db, clock["now"])
    for _ in range(MAX_ATTEMPTS + 2):
        await sender.send_due()
        clock["now"] += timedelta(hours=1)  # past any backoff
    row = await _row(db)
    await db.dispose()
    assert provider.sent == MAX_ATTEMPTS
    assert row["status"] == "DEAD" and row["attempts"] == MAX_ATTEMPTS and "gave up" in row["error"]


class Raising(Scripted):
    """A provider that blows up mid-send, the way an unexpected SDK error would."""

    async def send(self, msg):
        self.sent += 1
        raise RuntimeError("unexpected")


@pytest.mark.parametrize("provider, error", [
    (lambda: Scripted(Outcome.UNKNOWN), "not resent"),
    (lambda: Raising(Outcome.SENT), "the provider raised RuntimeError"),
], ids=["unknown-outcome", "provider-raised"])
async def test_a_send_that_may_have_gone_out_is_never_resent(db_url, provider, error):
    db = await _db(db_url)
    clock = {"now": datetime.now(UTC)}
    sms = provider()
    sender = Sender(db, SmsRouter(sms), LogEmailSink(), None, clock=lambda: clock["now"])
    await _one(db, clock["now"])
    for _ in range(3):
        await sender.send_due()
        clock["now"] += timedelta(hours=1)
    row = await _row(db)
    await db.dispose()
    assert sms.sent == 1 and row["status"] == "DEAD" and error in row["error"]


async def test_a_customer_who_opted_out_of_sms_gets_a_suppressed_delivery_not_a_message(db_url):
    db = await _db(db_url)
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(insert(t.contacts).values(
            merchant_id="m1", customer_id="c1", phone_e164="+966501234567", email="", locale="en",
            timezone="UTC", sms_opt_in=False, email_opt_in=False, updated_at=now))
        message = Message("m1", "c1", "credited", "event:e1", for_customer(kind="credited", amount=Money("SAR", 100)))
        created = await create(conn, message, now)
    provider = Scripted(Outcome.SENT)
    await Sender(db, SmsRouter(provider), LogEmailSink(), None).send_due()
    row = await _row(db)
    await db.dispose()
    assert created == 1 and row["status"] == "SUPPRESSED" and "opted out" in row["error"]
    assert provider.sent == 0


def test_send_concurrency_comes_from_the_environment():
    from cashback_kit.config import Settings
    from services.notify.bootstrap import send_concurrency

    assert send_concurrency(Settings.from_env("notify", {})) == 32
    assert send_concurrency(Settings.from_env("notify", {"NOTIFY_SEND_CONCURRENCY": "8"})) == 8
    for bad in ("0", "-1", "lots", ""):
        with pytest.raises(ValueError, match="NOTIFY_SEND_CONCURRENCY"):
            send_concurrency(Settings.from_env("notify", {"NOTIFY_SEND_CONCURRENCY": bad}))
