"""A write transaction on the kit's asyncpg pool (the one Database.fetch_rows
uses), for hot paths whose every statement is already SQL text: BEGIN, the
statements, COMMIT, and nothing else -- no SQLAlchemy connection, execution
context or result objects. asyncpg prepares each statement text once per
connection and reuses it. Every statement, BEGIN and COMMIT included, is
reported to Database.fast_path_listeners (the tests' SQL recorder counts them).

Errors map as everywhere: a lost or refused connection is Unavailable; a unique
key taken by a concurrent writer is Aborted (safe to retry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from cashback_kit.db import Database
from cashback_kit.errors import Aborted, Unavailable

_UNAVAILABLE_CLASSES = {"08", "57", "53"}  # connection, operator intervention, resources


class Tx:
    def __init__(self, db: Database, conn: asyncpg.Connection) -> None:
        self._db = db
        self._conn = conn

    def _report(self, sql: str, args: tuple[Any, ...]) -> None:
        for listener in self._db.fast_path_listeners:
            listener(sql, list(args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self._report(sql, args)
        return await self._conn.fetchval(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self._report(sql, args)
        return list(await self._conn.fetch(sql, *args))

    async def execute(self, sql: str, *args: Any) -> None:
        self._report(sql, args)
        await self._conn.execute(sql, *args)


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[Tx]:
    """BEGIN ... COMMIT (ROLLBACK if the block raises)."""
    try:
        # The pool fetch_rows opens lazily; shared so a process keeps one small asyncpg pool.
        pool = db._fast_pool or await db._open_fast_pool()
        async with pool.acquire() as conn:
            tx = Tx(db, conn)
            await tx.execute("BEGIN")
            try:
                yield tx
            except BaseException:
                if not conn.is_closed():
                    tx._report("ROLLBACK", ())
                    try:
                        await conn.execute("ROLLBACK")
                    except Exception:  # mid-query (cancelled): the pool resets it on release
                        pass
                raise
            await tx.execute("COMMIT")
    except asyncpg.UniqueViolationError as exc:
        raise Aborted("a concurrent request wrote the same key; retry") from exc
    except (asyncpg.InterfaceError, OSError) as exc:
        raise Unavailable("the database is unavailable; retry later") from exc
    except asyncpg.PostgresError as exc:
        if str(getattr(exc, "sqlstate", "") or "")[:2] in _UNAVAILABLE_CLASSES:
            raise Unavailable("the database is unavailable; retry later") from exc
        raise
