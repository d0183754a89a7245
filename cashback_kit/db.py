"""The async SQLAlchemy engine on PostgreSQL (postgresql+asyncpg, the only
database), with transactions that say whether they write, and Alembic
migrations run at start.

READ COMMITTED; code that must serialise takes row locks (SELECT ... FOR UPDATE)
inside the write transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import ARRAY, String, bindparam, event, func, select, text, tuple_
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from cashback_kit.errors import Unavailable

log = logging.getLogger(__name__)

# A pooled PostgreSQL connection idle for longer than this is pinged before use.
IDLE_PING_SECONDS = 2.0


class CompiledStatement:
    """A SQLAlchemy statement compiled once for asyncpg, to run on a driver
    connection with none of SQLAlchemy's per-call work (cache lookup, execution
    context, result processing): `sql` and the positional `args` for a call's
    values (the statement's own literals filled in)."""

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.defaults: dict[str, Any] = compiled.construct_params(_check=False)

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[n] if n in params else self.defaults[n] for n in self.names]


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self._pool_size = pool_size
        # fetch_rows' own asyncpg pool and its compiled statements.
        self._fast_pool: asyncpg.Pool | None = None
        self._fast_pool_lock = asyncio.Lock()
        self._compiled: dict[int, tuple[Any, CompiledStatement]] = {}
        # Called with (sql, args) before each fast-path statement: what the engine's
        # before_cursor_execute event is for the rest (tests list every statement).
        self.fast_path_listeners: list[Callable[[str, list[Any]], None]] = []
        self.engine: AsyncEngine = create_async_engine(
            postgres_url(url),
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            # Pinged on checkout only after sitting idle (below), not every time.
            pool_pre_ping=False,
            pool_timeout=10,
            pool_recycle=1800,
            connect_args={"timeout": 5, "command_timeout": 30},
        )
        self._ping_when_idle()

    def _ping_when_idle(self) -> None:
        """Pessimistic disconnect handling without a round trip per checkout: a
        pooled connection that sat idle for more than IDLE_PING_SECONDS (when the
        database may have restarted under it) is pinged first; a dead one is
        replaced (the pool retries the checkout on DisconnectionError). A
        connection in steady use is not pinged: if the database goes away
        mid-use, the statement fails, SQLAlchemy invalidates the pool, and the
        call answers UNAVAILABLE (tests/reliability/test_outage.py)."""
        sync_engine = self.engine.sync_engine
        dialect = self.engine.dialect

        @event.listens_for(sync_engine, "checkin")
        def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
            record.info["idle_since"] = time.monotonic()

        @event.listens_for(sync_engine, "checkout")
        def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            idle_since = record.info.pop("idle_since", None)
            if idle_since is None or time.monotonic() - idle_since <= IDLE_PING_SECONDS:
                return
            try:
                dialect.do_ping(dbapi_conn)
            except Exception as exc:
                raise DisconnectionError("pooled connection is dead") from exc

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction; committed when the block exits cleanly."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only block (never committed, so nothing can leak out).

        It runs in autocommit: at READ COMMITTED every statement takes its own
        snapshot anyway, so BEGIN and ROLLBACK around reads bought nothing but two
        round trips."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            async with conn.begin() as tx:
                yield conn
                await tx.rollback()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, script_location: str | Path, version_table: str) -> None:
        """Bring the schema to head. Several processes may start at once: they
        queue on an advisory lock."""
        from alembic import command
        from alembic.config import Config

        def upgrade(sync_conn: Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(script_location))
            cfg.attributes["connection"] = sync_conn
            cfg.attributes["version_table"] = version_table
            command.upgrade(cfg, "head")

        async with self.write() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": version_table})
            await conn.run_sync(upgrade)
        log.info("schema migrated", extra={"version_table": version_table})

    async def fetch_row(self, stmt: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a read-only statement, for the hottest reads (see fetch_rows)."""
        rows = await self.fetch_rows(stmt, params, first=True)
        return rows[0] if rows else None

    async def fetch_rows(self, stmt: Any, params: dict[str, Any], *, first: bool = False) -> list[tuple[Any, ...]]:
        """The rows of a read-only statement, for the hottest reads.

        It goes straight through a small asyncpg pool of its own:
        the statement is compiled by SQLAlchemy once, asyncpg keeps it prepared
        per connection, and a call costs one acquire and one round trip -- no
        SQLAlchemy connection, transaction or result object (measured: about a
        third of the CPU of the same read through the engine). A single
        statement in autocommit sees one snapshot, as `read()` does. Values come
        back as asyncpg decodes them (aware UTC datetimes, ints)."""
        cached = self._compiled.get(id(stmt))
        if cached is None or cached[0] is not stmt:
            cached = self._compiled[id(stmt)] = (stmt, CompiledStatement(stmt, self.engine.dialect))
        compiled = cached[1]
        sql, args = compiled.sql, compiled.args(params)
        for listener in self.fast_path_listeners:
            listener(sql, args)
        try:
            pool = await self.fast_pool()
            if first:
                record = await pool.fetchrow(sql, *args)
                return [tuple(record)] if record is not None else []
            return [tuple(r) for r in await pool.fetch(sql, *args)]
        except (asyncpg.InterfaceError, OSError) as exc:  # a dropped connection, a refused connect, a timeout
            raise Unavailable("the database is unavailable; retry later") from exc
        except asyncpg.PostgresError as exc:
            # Connection failures, shutdown/restart in progress, out of resources.
            if str(getattr(exc, "sqlstate", "") or "")[:2] in {"08", "57", "53"}:
                raise Unavailable("the database is unavailable; retry later") from exc
            raise

    async def fast_pool(self) -> asyncpg.Pool:
        """The process's small asyncpg pool (fetch_rows and cashback_kit.pgtx), opened on
        first use. Its reset on release is a no-op: users leave no session state, and a
        connection released inside a transaction is rolled back by asyncpg before reset,
        so the common release costs no round trip."""
        if self._fast_pool is not None:
            return self._fast_pool
        async with self._fast_pool_lock:
            if self._fast_pool is None:
                url = make_url(self.url).set(drivername="postgresql")
                self._fast_pool = await asyncpg.create_pool(
                    url.render_as_string(hide_password=False), min_size=1, max_size=self._pool_size,
                    command_timeout=30, timeout=5, reset=_no_reset)
        return self._fast_pool

    async def dispose(self) -> None:
        if self._fast_pool is not None:
            pool, self._fast_pool = self._fast_pool, None
            await pool.close()
        await self.engine.dispose()


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Connections come back outside any transaction, with no session state set."""


def postgres_url(url: str) -> str:
    """`url` if it is a postgresql+asyncpg URL; anything else is refused by name."""
    if not url:
        raise ValueError("no database URL given: expected postgresql+asyncpg://user@host:port/database")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("the database URL is not a URL: expected postgresql+asyncpg://user@host:port/database") \
            from None
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}: PostgreSQL is the only database; "
                         "expected postgresql+asyncpg://user@host:port/database")
    return url


async def wait_for_database(db: Database, *, attempts: int = 30, delay: float = 1.0) -> None:
    """At start-up the database may come up after us (compose, k8s)."""
    for i in range(attempts):
        try:
            await db.ping()
            return
        except Exception as exc:
            if i == attempts - 1:
                raise
            log.warning("database not reachable yet, retrying", extra={"error": type(exc).__name__})
            await asyncio.sleep(delay)


def keys_in(_conn: AsyncConnection, columns: list[Any], keys: list[tuple[Any, ...]]) -> Any:
    """`(columns) IN keys`, the keys sent as one array per column and joined with
    unnest(): the SQL text is the same for any number of keys (one prepared
    statement, one plan: index lookups), where a list of tuples would be a new
    statement, parsed and planned again, for every length. (`_conn` is unused
    since PostgreSQL is the only database; kept until the callers drop it.)"""
    arrays = [bindparam("keys", [k[i] for k in keys], type_=ARRAY(String()), unique=True)
              for i in range(len(columns))]
    unnested = func.unnest(*arrays).table_valued(*(f"k{i}" for i in range(len(columns)))).render_derived()
    return tuple_(*columns).in_(select(*unnested.c))

