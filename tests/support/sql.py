"""Listing the SQL a service runs: through the SQLAlchemy engine and through the
kit's fast read path (Database.fetch_rows), which bypasses the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from cashback_kit.db import Database


def _flatten(params: object) -> Iterator[str]:
    """Bound values as strings, for one row or many (executemany)."""
    if isinstance(params, dict):
        params = list(params.values())
    if isinstance(params, list | tuple):
        for p in params:
            yield from _flatten(p)
    elif params is not None:
        yield str(params)


@contextmanager
def recorded(db: Database) -> Iterator[list[tuple[str, list[str]]]]:
    """Every statement run while the block runs, as (sql, bound values)."""
    seen: list[tuple[str, list[str]]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: Any) -> None:
        seen.append((" ".join(statement.split()), list(_flatten(parameters))))

    def fast(statement: str, args: list[Any]) -> None:
        seen.append((" ".join(statement.split()), list(_flatten(args))))

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    db.fast_path_listeners.append(fast)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)
        db.fast_path_listeners.remove(fast)
