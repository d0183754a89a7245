"""Statements straight on asyncpg, for hot paths whose every statement is already
SQL text: the kit's one way (the wallet's writes and sweeps, rules' scoring).

`connection(db)` holds one connection of Database.fast_pool() for a whole call
(autocommit statements and transactions on it); `begin(conn)` is BEGIN ... COMMIT
on it (ROLLBACK if the block raises); `transaction(db)` is both. No SQLAlchemy
connection, execution context or result objects; asyncpg prepares each statement
text once per connection; the pool's reset on release is a no-op (a connection
comes back outside any transaction, with no session state set), so a transaction
costs BEGIN, its statements and COMMIT and nothing else. Every statement, BEGIN and
COMMIT included, is reported to Database.fast_path_listeners (the tests' SQL
recorder counts them).

Errors map as everywhere: a lost or refused connection is Unavailable; a unique key
taken by a concurrent writer, a deadlock or a serialization failure is Aborted
(safe to retry). A connection left inside a transaction is closed, not reused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from cashback_kit.db import Database
from cashback_kit.errors import Aborted, DomainError, Unavailable

_UNAVAILABLE_CLASSES = {"08", "57", "53"}  # connection, operator intervention, resources
_RETRY_STATES = {"40001", "40P01"}  # serialization failure, deadlock


class Statements:
    """One pooled driver connection; each statement is reported before it runs."""

    def __init__(self, db: Database, conn: asyncpg.Connection) -> None:
        self.db, self.conn = db, conn

    def report(self, sql: str, args: Sequence[Any]) -> None:
        for listener in self.db.fast_path_listeners:
            listener(sql, list(args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.report(sql, args)
        return await self.conn.fetchval(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.report(sql, args)
        return await self.conn.fetchrow(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.report(sql, args)
        return list(await self.conn.fetch(sql, *args))

    async def execute(self, sql: str, *args: Any) -> None:
        self.report(sql, args)
        await self.conn.execute(sql, *args)


Tx = Statements  # inside begin(): the same connection, in a transaction


@asynccontextmanager
async def connection(db: Database) -> AsyncIterator[Statements]:
    """A connection of the kit's asyncpg pool for one call, database errors mapped."""
    try:
        pool = await db.fast_pool()
        acquired = pool.acquire()
        conn = await acquired.__aenter__()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:  # could not connect
        raise Unavailable("the database is unavailable; retry later") from exc
    try:
        yield Statements(db, conn)
    except DomainError:
        raise
    except Exception as exc:
        mapped = _mapped(exc, broken=_drop_if_broken(conn))
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        await acquired.__aexit__(None, None, None)


@asynccontextmanager
async def begin(s: Statements) -> AsyncIterator[Tx]:
    """BEGIN ... COMMIT on a held connection (ROLLBACK if the block raises)."""
    await s.execute("BEGIN")
    try:
        yield s
    except BaseException:
        if not s.conn.is_closed():
            s.report("ROLLBACK", ())
            try:
                await s.conn.execute("ROLLBACK")
            except Exception:  # mid-query (cancelled): connection() closes it
                pass
        raise
    await s.execute("COMMIT")


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[Tx]:
    """BEGIN ... COMMIT on a connection of its own."""
    async with connection(db) as s, begin(s) as tx:
        yield tx


def _drop_if_broken(conn: asyncpg.Connection) -> bool:
    """Whether the connection is lost; one left inside a transaction is closed."""
    try:
        if conn.is_closed():
            return True
        if conn.is_in_transaction():
            conn.terminate()
            return True
        return False
    except asyncpg.InterfaceError:  # lost: the pool took it back already
        return True


def _mapped(exc: BaseException, *, broken: bool) -> DomainError | None:
    """The kit's error for a database failure worth retrying, or None."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Aborted("a concurrent request wrote the same key; retry")
    state = str(getattr(exc, "sqlstate", "") or "")
    if state in _RETRY_STATES:
        return Aborted("concurrent update; safe to retry")
    if broken or state[:2] in _UNAVAILABLE_CLASSES or isinstance(exc, asyncpg.InterfaceError | OSError):
        return Unavailable("the database is unavailable; retry later")
    return None
