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


async def test_the_sequencer_numbers_committed_events_in_id_order_after_the_last_position(pg_url: str) -> None:
    """One run numbers what has committed without a position, in id order, right after the highest
    position so far, up to its limit; a run while another holds the sequencer's lock numbers nothing."""
    from cashback_services.wallet.adapters import outbox
    from cashback_services.wallet.main import MIGRATIONS

    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "wallet_alembic_version")
    try:
        async with transaction(db) as tx:
            await tx.execute(
                "INSERT INTO wallet_events (event_id, type, merchant_id, customer_id, currency, amount, occurred_at)"
                " SELECT 'e' || i, 'CREDITED', 'm1', 'c' || i, 'SAR', i, now() FROM generate_series(1, 7) i")
        assert await outbox.sequence(db, limit=5) == 5
        assert await outbox.sequence(db, limit=5) == 2
        assert await outbox.sequence(db, limit=5) == 0
        async with db.read() as conn:
            rows = (await conn.execute(select(t.events.c.event_id, t.events.c.position).order_by(t.events.c.id))).all()
        assert [(e, p) for e, p in rows] == [(f"e{i}", i) for i in range(1, 8)]

        async with transaction(db) as other:  # another process is sequencing right now
            assert await other.fetchval("SELECT pg_try_advisory_xact_lock($1::bigint)", 0x57414C4C)
            async with transaction(db) as tx:
                await tx.execute(
                    "INSERT INTO wallet_events (event_id, type, merchant_id, customer_id, currency, amount,"
                    " occurred_at) VALUES ('e8', 'CREDITED', 'm1', 'c8', 'SAR', 8, now())")
            assert await outbox.sequence(db) == 0
        assert await outbox.sequence(db) == 1
        async with db.read() as conn:
            top = (await conn.execute(select(t.events.c.position).where(t.events.c.event_id == "e8"))).scalar()
        assert top == 8
    finally:
        await db.dispose()
