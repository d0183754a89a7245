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
simply gets a later position. Readers follow `position > cursor`.

A run is BEGIN, the lock, one UPDATE that numbers up to `limit` rows, COMMIT: the
rows are numbered in the database (row_number over their ids, after the highest
position so far), not fetched and updated one statement per row. The UPDATE is a
statement of its own after the lock, so its snapshot sees what the previous run
committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from cashback_kit.db import Database
from cashback_kit.pgtx import transaction
from cashback_services.wallet.adapters import tables as t

E = t.events.c
_SEQUENCER_LOCK = 0x57414C4C  # "WALL": one sequencer at a time across all wallet processes
_LOCK = "SELECT pg_try_advisory_xact_lock($1::bigint)"
_NUMBER = """
WITH todo AS (
  SELECT id, row_number() OVER (ORDER BY id) AS n
    FROM (SELECT id FROM wallet_events WHERE position IS NULL ORDER BY id LIMIT $1) unsequenced
), top AS (SELECT coalesce(max(position), 0) AS p FROM wallet_events),
numbered AS (
  UPDATE wallet_events e SET position = top.p + todo.n FROM todo, top WHERE e.id = todo.id RETURNING 1
)
SELECT count(*) FROM numbered"""


async def sequence(db: Database, limit: int = 1000) -> int:
    """Give positions to committed events that have none. Returns how many.
    When another process is sequencing right now, returns 0 at once: it will
    number our rows too."""
    async with transaction(db) as tx:
        if not await tx.fetchval(_LOCK, _SEQUENCER_LOCK):
            return 0
        return int(await tx.fetchval(_NUMBER, limit))


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
