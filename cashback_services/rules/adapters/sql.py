"""Small SQL helpers that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, which has on_conflict_do_nothing/do_update."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


async def insert_missing(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Create rows that do not exist yet, leaving existing ones untouched, so a
    following SELECT ... FOR UPDATE has a row to lock."""
    if rows:
        await conn.execute(insert_for(conn, table).on_conflict_do_nothing(), rows)
