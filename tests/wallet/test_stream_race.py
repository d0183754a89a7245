"""The known outbox trap, on PostgreSQL: ids are taken before commit, so a
transaction can take a lower id and commit after a reader has streamed past a
higher one. The stream must still deliver it."""

from __future__ import annotations

import asyncio

import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from sqlalchemy import select

from cashback_kit.db import Database
from cashback_kit.pb import utcnow
from cashback_kit.pgtx import transaction
from cashback_services.wallet.adapters import tables as t
from cashback_services.wallet.adapters.repository import Want, load, write
from tests.support.servers import auth, running_service
from tests.wallet.grpc_helpers import adjust, stub

pytestmark = pytest.mark.postgres


async def test_an_event_that_commits_late_is_still_streamed(pg_url: str) -> None:
    db = Database(pg_url)
    async with running_service("wallet", database_url=pg_url) as svc:
        s = stub(svc.channel)
        call = s.StreamEvents(pb.StreamEventsRequest(merchant_id="m1"), metadata=auth("service"))
        try:
            # Transaction A: writes a ledger change (and its event row) but does not commit yet.
            async with transaction(db) as tx_a:
                state = await load(tx_a, utcnow(), Want(customers=(("m1", "late"),)))
                state.only().adjust("SAR", 111, "late commit", None)
                await write(tx_a, state)
                a_id = await tx_a.fetchval("SELECT id FROM wallet_events WHERE customer_id = 'late'")
                # Transaction B: commits a later event through the real service.
                await adjust(s, 222, customer="early")
                first = await asyncio.wait_for(call.read(), 10)
                assert first.event.amount.amount_minor == 222
                async with db.read() as conn:
                    b_id = (await conn.execute(
                        select(t.events.c.id).where(t.events.c.customer_id == "early"))).scalar()
                # The trap is real here: a poll of `id > cursor` has already passed A's id.
                assert a_id < b_id
            # A commits now; the stream must still deliver it, after B.
            second = await asyncio.wait_for(call.read(), 10)
            assert second.event.customer_id == "late"
            assert second.event.amount.amount_minor == 111
            assert second.event.cursor > first.event.cursor
        finally:
            call.cancel()
            await db.dispose()
