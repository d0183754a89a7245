"""The real `cashback-notify` process reads notify's own settings from its
environment: with KAVENEGAR_* set, +98 numbers go to (the local) Kavenegar and
the rest to Twilio; and SMS_ROUTES overrides that."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from cashback_kit.db import Database
from cashback_kit.procs import start_process
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.main import MIGRATIONS
from tests.notify import fake_kavenegar as fk
from tests.notify import fake_twilio as ft
from tests.support.keys import TEST_KEYS, write_keys_file
from tests.support.pgcluster import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
NUMBERS = ["+989121234567", "+966501234567", "+989351234567"]


async def _sent(db: Database) -> int:
    async with db.read() as conn:
        q = select(func.count()).select_from(t.deliveries).where(t.deliveries.c.status == "SENT")
        return int((await conn.execute(q)).scalar() or 0)


@pytest.mark.parametrize(("routes", "via_kavenegar"), [
    ("", ["09121234567", "09351234567"]),
    ("98=kavenegar,966=kavenegar,*=twilio", ["09121234567", "00966501234567", "09351234567"]),
], ids=["default-routing", "sms-routes"])
async def test_the_notify_process_routes_iranian_numbers_to_kavenegar(pg_url, tmp_path, routes, via_kavenegar):
    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(insert(t.deliveries), [{
            "delivery_id": f"dl_{uuid.uuid4().hex}", "dedupe_key": f"proc:{to}", "merchant_id": "m1",
            "customer_id": f"c{i}", "kind": "credited", "channel": "sms", "status": "SCHEDULED", "to_addr": to,
            "subject": "", "body": "سلام", "encoding": "UCS-2", "segments": 1, "attempts": 0, "scheduled_for": now,
            "next_attempt_at": now, "provider_message_id": "", "error": "", "created_at": now}
            for i, to in enumerate(NUMBERS)])
    async with ft.FakeTwilio() as twilio, fk.FakeKavenegar() as kavenegar:
        env = {"CASHBACK_API_KEYS_FILE": str(write_keys_file(tmp_path / "keys.json")),
               "CASHBACK_SERVICE_KEY": TEST_KEYS["service"], "NOTIFY_DATABASE_URL": pg_url,
               "WALLET_TARGET": f"127.0.0.1:{free_port()}",  # no wallet: the follower just keeps retrying
               "TWILIO_ACCOUNT_SID": ft.ACCOUNT_SID, "TWILIO_AUTH_TOKEN": ft.AUTH_TOKEN,
               "TWILIO_FROM": ft.FROM_NUMBER, "TWILIO_API_BASE_URL": twilio.base_url,
               "KAVENEGAR_API_KEY": fk.API_KEY, "KAVENEGAR_SENDER": fk.SENDER,
               "KAVENEGAR_API_BASE_URL": kavenegar.base_url, "SMS_ROUTES": routes, "CASHBACK_LOG_LEVEL": "WARNING"}
        proc = await asyncio.to_thread(start_process, "notify", env)
        try:
            for _ in range(300):
                if await _sent(db) == len(NUMBERS):
                    break
                await asyncio.sleep(0.1)
        finally:
            await asyncio.to_thread(proc.terminate)
    sent = await _sent(db)
    await db.dispose()
    assert sent == len(NUMBERS)
    assert sorted(m["receptor"] for m in kavenegar.messages) == sorted(via_kavenegar)
    assert len(twilio.messages) == len(NUMBERS) - len(via_kavenegar)
