"""How often PostgreSQL planned each statement run inside a function, from pg_stat_statements on
the `counted_cluster` (tests/conftest.py): for the tests that a function is planned once per
connection."""

from __future__ import annotations

from cashback_kit.pgtx import Statements

_STATEMENTS = """
    SELECT s.calls, s.plans, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 300) AS query
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = current_database() AND NOT s.toplevel AND s.calls >= $1
"""


async def start_counting(s: Statements) -> None:
    await s.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await s.execute("SELECT pg_stat_statements_reset()")


async def plans(s: Statements, calls: int) -> dict[str, tuple[int, int]]:
    """{statement: (calls, plans)} of the statements inside functions run at least `calls` times
    in this database since start_counting."""
    return {r["query"]: (r["calls"], r["plans"]) for r in await s.fetch(_STATEMENTS, calls)}
