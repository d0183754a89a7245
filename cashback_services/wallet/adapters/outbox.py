"""The event outbox and its commit-ordered stream.

Every ledger change inserts a wallet_events row in its own transaction. Row
ids come from a sequence, and sequence values are taken before commit:
a transaction can take id 10, another commit id 11, a reader
stream past 11, and then 10 commits -- a reader polling `id > cursor` skips
it for ever.

So the stream does not use ids. A sequencer gives committed rows their
`position` (what clients see as the cursor): it runs in its own transaction
under a transaction-scoped advisory lock, finds rows that have committed
without a position, and numbers them after the highest position so far.
Because a run holds the lock until it commits, runs commit one after the
other and positions only ever grow in commit order; a row that commits late
simply gets a later position. Readers follow `position > cursor`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import bindparam, func, select, text, update

from cashback_kit.db import Database
from cashback_services.wallet.adapters import tables as t

E = t.events.c
_SEQUENCER_LOCK = 0x57414C4C  # "WALL": one sequencer at a time across all wallet processes


async def sequence(db: Database, limit: int = 1000) -> int:
    """Give positions to committed events that have none. Returns how many.
    When another process is sequencing right now, returns 0 at once: it will
    number our rows too."""
    async with db.write() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _SEQUENCER_LOCK})).scalar()
        if not got:
            return 0
        ids = (await conn.execute(
            select(E.id).where(E.position.is_(None)).order_by(E.id).limit(limit)
        )).scalars().all()
        if not ids:
            return 0
        top = (await conn.execute(select(func.coalesce(func.max(E.position), 0)))).scalar()
        start = int(top or 0)
        await conn.execute(
            update(t.events).where(E.id == bindparam("row_id")).values(position=bindparam("pos")),
            [{"row_id": row_id, "pos": start + i} for i, row_id in enumerate(ids, 1)],
        )
        return len(ids)


async def read_after(db: Database, cursor: int, merchant_id: str, limit: int = 500) -> list[dict[str, Any]]:
    q = select(t.events).where(E.position > cursor)
    if merchant_id:
        q = q.where(E.merchant_id == merchant_id)
    q = q.order_by(E.position).limit(limit)
    async with db.read() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def follow(svc: Any, after_cursor: int, merchant_id: str, *, idle_wait: float = 0.5,
                 batch: int = 500) -> AsyncIterator[dict[str, Any]]:
    """The backlog after the cursor, then new events as they commit, for ever."""
    cursor = after_cursor
    while True:
        await sequence(svc.db)
        rows = await read_after(svc.db, cursor, merchant_id, batch)
        for row in rows:
            yield row
            cursor = int(row["position"])
        if len(rows) < batch:
            await svc.wait_for_change(idle_wait)
