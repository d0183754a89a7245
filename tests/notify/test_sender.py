"""The delivery state machine against a real database: retries until the retry
budget runs out then DEAD, an opted-out channel is SUPPRESSED, UNKNOWN is never
resent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.providers.base import Outcome, SendResult, SmsRouter
from cashback_services.notify.adapters.providers.logsink import LogEmailSink, LogSmsSink
from cashback_services.notify.domain.delivery_state import RetryPolicy
from cashback_services.notify.domain.planning import Message, for_customer
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.deliveries import create
from cashback_services.notify.service_layer.sender import Sender


class Scripted(LogSmsSink):
    """An SMS provider that answers what the test says, and counts the sends."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome, self.sent, self.to = outcome, 0, []

    async def send(self, msg):
        self.sent += 1
        self.to.append(msg.to)
        await asyncio.sleep(0.001)
        return SendResult(self.outcome, error=f"scripted {self.outcome.value}")


async def _db(url: str) -> Database:
    db = Database(url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    return db


async def _one(db: Database, now: datetime, n: int = 1, key: str = "k") -> None:
    async with db.write() as conn:
        await conn.execute(insert(t.deliveries), [dict(
            delivery_id=f"dl_{uuid.uuid4().hex}", dedupe_key=f"{key}{i + 1}", merchant_id="m1", customer_id="c1",
            kind="reminder", channel="sms", status="SCHEDULED", to_addr=f"+9665012{i:05d}", subject="", body="hi",
            encoding="GSM-7", segments=1, attempts=0, scheduled_for=now, next_attempt_at=now,
            provider_message_id="", error="", created_at=now) for i in range(n)])


async def _row(db: Database) -> dict:
    async with db.read() as conn:
        return dict((await conn.execute(select(t.deliveries))).mappings().one())


async def test_a_delivery_that_keeps_failing_safely_is_retried_until_the_budget_runs_out_then_dead(pg_url):
    db = await _db(pg_url)
    clock = {"now": datetime.now(UTC)}
    provider = Scripted(Outcome.RETRY)
    sender = Sender(db, SmsRouter(provider), LogEmailSink(), None, clock=lambda: clock["now"],
                    retry=RetryPolicy(budget=timedelta(hours=3)))
    await _one(db, clock["now"])
    for _ in range(6):
        await sender.send_due()
        clock["now"] += timedelta(hours=1)  # past any backoff (at most 10 minutes)
    row = await _row(db)
    await db.dispose()
    # Tried at 0, 1, 2 and 3 hours; the retry after the last would fall past the 3-hour budget.
    assert provider.sent == 4
    assert row["status"] == "DEAD" and row["attempts"] == 4 and "gave up" in row["error"]


class Raising(Scripted):
    """A provider that blows up mid-send, the way an unexpected SDK error would."""

    async def send(self, msg):
        self.sent += 1
        raise RuntimeError("unexpected")


@pytest.mark.parametrize("provider, error", [
    (lambda: Scripted(Outcome.UNKNOWN), "not resent"),
    (lambda: Raising(Outcome.SENT), "the provider raised RuntimeError"),
], ids=["unknown-outcome", "provider-raised"])
async def test_a_send_that_may_have_gone_out_is_never_resent(pg_url, provider, error):
    db = await _db(pg_url)
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


async def test_a_customer_who_opted_out_of_sms_gets_a_suppressed_delivery_not_a_message(pg_url):
    db = await _db(pg_url)
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
    from cashback_services.notify.entrypoints.bootstrap import send_concurrency

    assert send_concurrency(Settings.from_env("notify", {})) == 32
    assert send_concurrency(Settings.from_env("notify", {"NOTIFY_SEND_CONCURRENCY": "8"})) == 8
    for bad in ("0", "-1", "lots", ""):
        with pytest.raises(ValueError, match="NOTIFY_SEND_CONCURRENCY"):
            send_concurrency(Settings.from_env("notify", {"NOTIFY_SEND_CONCURRENCY": bad}))


async def _statuses(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        rows = (await conn.execute(select(t.deliveries.c.status, func.count()).group_by(t.deliveries.c.status))).all()
    return {status: n for status, n in rows}


async def test_run_sends_every_due_delivery_exactly_once(pg_url):
    db = await _db(pg_url)
    await _one(db, datetime.now(UTC), n=300)
    provider = Scripted(Outcome.SENT)
    await Sender(db, SmsRouter(provider), LogEmailSink(), None, concurrency=8).run(until_idle=True)
    statuses = await _statuses(db)
    await db.dispose()
    assert statuses == {"SENT": 300}
    assert provider.sent == 300 and len(set(provider.to)) == 300


@pytest.mark.postgres
async def test_run_carries_on_after_the_database_restarts(pg_cluster, pg_url):
    """The claimer and finisher keep a connection each: a restart breaks them, and
    the sender must open new ones rather than stop sending."""
    db = await _db(pg_url)
    await _one(db, datetime.now(UTC), n=20, key="before")
    provider = Scripted(Outcome.SENT)
    running = asyncio.create_task(Sender(db, SmsRouter(provider), LogEmailSink(), None, concurrency=4).run(idle=0.05))
    try:
        for _ in range(200):
            if provider.sent >= 20 and (await _statuses(db)) == {"SENT": 20}:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(pg_cluster.stop, "fast")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(pg_cluster.start)
        await _one(db, datetime.now(UTC), n=20, key="after")
        statuses: dict[str, int] = {}
        for _ in range(600):
            try:
                statuses = await _statuses(db)
            except Exception:  # the pool may still hold connections from before the restart
                statuses = {}
            if statuses == {"SENT": 40}:
                break
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await db.dispose()
    assert statuses == {"SENT": 40} and provider.sent == 40
