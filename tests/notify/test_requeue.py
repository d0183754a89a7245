"""RequeueDeliveries puts a merchant's DEAD and FAILED deliveries back (by ids
or by creation time) and nothing else; and an opt-out recorded after a message
was queued stops it at send time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.notify.v1 import notify_pb2 as N
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import insert, select

from cashback_kit.db import Database
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.providers.base import SmsRouter
from cashback_services.notify.adapters.providers.logsink import LogEmailSink
from cashback_services.notify.domain.outcomes import Outcome
from cashback_services.notify.main import MIGRATIONS
from cashback_services.notify.service_layer.sender import Sender
from tests.notify.stack import notify_stack
from tests.notify.test_sender import Scripted
from tests.support.servers import auth


def _row(key: str, status: str, created: datetime, merchant: str = "m1", to: str = "+966501234567") -> dict:
    return dict(delivery_id=f"dl_{key}", dedupe_key=key, merchant_id=merchant, customer_id="c1", kind="credited",
                channel="sms", status=status, to_addr=to, subject="", body="hi", encoding="GSM-7", segments=1,
                attempts=7, scheduled_for=created, next_attempt_at=created, provider_message_id="",
                error="gave up", created_at=created)


def _ts(dt: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(dt)
    return out


async def _statuses(db) -> dict[str, str]:
    async with db.read() as conn:
        return {r[0]: r[1] for r in await conn.execute(select(t.deliveries.c.delivery_id, t.deliveries.c.status))}


async def test_requeue_by_ids_and_by_time_range_takes_back_only_the_merchants_dead_and_failed(pg_url):
    async with notify_stack(pg_url) as s:
        day = datetime.now(UTC) - timedelta(days=2)
        async with s.notify.db.write() as conn:
            await conn.execute(insert(t.deliveries), [
                _row("dead-old", "DEAD", day - timedelta(days=1)), _row("dead", "DEAD", day),
                _row("failed", "FAILED", day + timedelta(hours=1)), _row("sent", "SENT", day),
                _row("other-merchant", "DEAD", day, merchant="m2"), _row("by-id", "DEAD", day - timedelta(days=5))])
        by_id = await s.n.RequeueDeliveries(N.RequeueDeliveriesRequest(
            merchant_id="m1", delivery_ids=["dl_by-id", "dl_sent", "dl_other-merchant"]), metadata=auth("ops"))
        by_range = await s.n.RequeueDeliveries(N.RequeueDeliveriesRequest(
            merchant_id="m1", created_after=_ts(day), created_before=_ts(day + timedelta(days=1))),
            metadata=auth("ops"))
        again = await s.n.RequeueDeliveries(N.RequeueDeliveriesRequest(
            merchant_id="m1", created_after=_ts(day), created_before=_ts(day + timedelta(days=1))),
            metadata=auth("ops"))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await s.n.RequeueDeliveries(N.RequeueDeliveriesRequest(merchant_id="m1"), metadata=auth("ops"))
        async with s.notify.db.read() as conn:
            requeued = (await conn.execute(select(t.deliveries).where(t.deliveries.c.delivery_id == "dl_dead"))
                        ).mappings().one()
    assert list(by_id.delivery_ids) == ["dl_by-id"]
    assert (by_range.requeued, sorted(by_range.delivery_ids)) == (2, ["dl_dead", "dl_failed"])
    assert again.requeued == 0  # already back: nothing to do
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "delivery_ids" in info.value.details()
    # A fresh budget from now (the running sender may already have taken it once).
    assert requeued["attempts"] <= 1 and requeued["scheduled_for"] > day + timedelta(days=1)


async def test_a_number_that_opted_out_after_its_message_was_queued_gets_nothing(pg_url):
    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(insert(t.deliveries), [
            {**_row("queued", "SCHEDULED", now, to="+966501111111"), "attempts": 0, "error": ""},
            {**_row("other", "SCHEDULED", now, to="+966502222222"), "attempts": 0, "error": ""}])
        # The STOP reply (Twilio 21610 to another message) lands after these were queued.
        await conn.execute(insert(t.optouts).values(phone_e164="+966501111111", merchant_id="m1", created_at=now))
    provider = Scripted(Outcome.SENT)
    await Sender(db, SmsRouter(provider), LogEmailSink(), None).send_due()
    statuses = await _statuses(db)
    await db.dispose()
    assert provider.to == ["+966502222222"]
    assert statuses == {"dl_queued": "SUPPRESSED", "dl_other": "SENT"}


async def test_cashbackctl_requeue_puts_a_time_range_of_dead_deliveries_back(pg_url):
    from typer.testing import CliRunner

    from cashbackctl.main import app
    from tests.support.keys import TEST_KEYS

    async with notify_stack(pg_url) as s:
        day = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
        async with s.notify.db.write() as conn:
            await conn.execute(insert(t.deliveries), [_row("in", "DEAD", day), _row("out", "DEAD", day.replace(day=9))])
        env = {"NOTIFY_ADDR": s.notify.target, "CASHBACK_OPS_KEY": TEST_KEYS["ops"]}
        result = await asyncio.to_thread(CliRunner().invoke, app, [
            "--merchant", "m1", "--json", "requeue", "--since", "2026-11-03", "--until", "2026-11-04T00:00+03:30"],
            env=env)
        bad = await asyncio.to_thread(CliRunner().invoke, app, ["requeue", "--since", "yesterday"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"requeued": "1", "delivery_ids": ["dl_in"]}
    assert bad.exit_code == 2 and "--since" in bad.output
