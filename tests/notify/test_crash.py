"""Kill -9 a real notify process in the middle of a batch of 1,000 SMS, restart
it, and lose nothing: every delivery ends SENT, and the only duplicates are the
deliveries that were in flight (leased) at the kill."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from cashback_kit.db import Database
from cashback_kit.procs import start_process
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.main import MIGRATIONS
from tests.notify import fake_twilio as ft
from tests.support.keys import TEST_KEYS, write_keys_file
from tests.support.pgcluster import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]
N = 1000


async def _count(db: Database, status: str) -> int:
    async with db.read() as conn:
        q = select(func.count()).select_from(t.deliveries).where(t.deliveries.c.status == status)
        return int((await conn.execute(q)).scalar() or 0)


async def test_kill_minus_9_mid_batch_loses_nothing_and_duplicates_at_most_the_in_flight(pg_url, tmp_path):
    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "notify_alembic_version")
    now = datetime.now(UTC)
    numbers = [f"+96650{i:07d}" for i in range(N)]
    async with db.write() as conn:
        await conn.execute(insert(t.deliveries), [{
            "delivery_id": f"dl_{uuid.uuid4().hex}", "dedupe_key": f"crash:{i}", "merchant_id": "m1",
            "customer_id": f"c{i}", "kind": "reminder", "channel": "sms", "status": "SCHEDULED",
            "to_addr": numbers[i], "subject": "", "body": f"message {i}", "encoding": "GSM-7", "segments": 1,
            "attempts": 0, "scheduled_for": now, "next_attempt_at": now, "provider_message_id": "", "error": "",
            "created_at": now} for i in range(N)])
    env = {"CASHBACK_API_KEYS_FILE": str(write_keys_file(tmp_path / "keys.json")),
           "CASHBACK_SERVICE_KEY": TEST_KEYS["service"], "NOTIFY_DATABASE_URL": pg_url,
           "WALLET_TARGET": f"127.0.0.1:{free_port()}",  # no wallet: the follower just keeps retrying
           "TWILIO_ACCOUNT_SID": ft.ACCOUNT_SID, "TWILIO_AUTH_TOKEN": ft.AUTH_TOKEN, "TWILIO_FROM": ft.FROM_NUMBER,
           # Long enough that no lease runs out before the kill on a loaded machine (a lease that
           # expires under a live sender is a re-send the kill did not cause), short enough that
           # the restarted process takes the killed one's rows over within the wait below.
           "NOTIFY_LEASE_SECONDS": "15", "CASHBACK_LOG_LEVEL": "WARNING"}
    async with ft.FakeTwilio(delay=0.02) as twilio:
        env["TWILIO_API_BASE_URL"] = twilio.base_url
        proc = await asyncio.to_thread(start_process, "notify", env)
        try:
            for _ in range(600):
                if len(twilio.messages) >= 300:
                    break
                await asyncio.sleep(0.05)
            proc.kill9()
            in_flight = await _count(db, "SENDING")
            sent_before = len(twilio.messages)
        finally:
            proc.kill9()
        assert 0 < sent_before < N, "the kill must land in the middle of the batch"
        proc = await asyncio.to_thread(start_process, "notify", env)
        try:
            for _ in range(600):
                if await _count(db, "SENT") == N:
                    break
                await asyncio.sleep(0.1)
        finally:
            await asyncio.to_thread(proc.terminate)
    sent = await _count(db, "SENT")
    await db.dispose()
    per_number = Counter(m["To"] for m in twilio.messages)
    duplicates = sum(n - 1 for n in per_number.values())
    assert sent == N, f"only {sent} of {N} deliveries ended SENT"
    assert set(per_number) == set(numbers), "every message reached the provider"
    assert duplicates <= in_flight, f"{duplicates} duplicates but only {in_flight} were in flight"
    print(f"\nkill -9 after {sent_before} sent: {in_flight} in flight, {duplicates} sent twice")
