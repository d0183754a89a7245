"""The shared body of every service's Alembic env.py.

Migrations only run through Database.migrate(), which hands over an open
connection; there is no alembic.ini and no offline mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import context


def run() -> None:
    config = context.config
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=config.attributes["version_table"],
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def earlier_revision(here: str, name: str) -> ModuleType:
    """An earlier revision's module, from the file `name` beside `here` (a revision's __file__): a
    later revision that rewrites a function reads the earlier text from there, and its downgrade
    puts it back. (A module whose name starts with a digit cannot be imported by name.)"""
    path = Path(here).with_name(name)
    spec = importlib.util.spec_from_file_location(f"{path.parent.parent.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rewritten(sql: str, pairs: list[tuple[str, str]]) -> str:
    """`sql` with each `old` replaced by its `new`; each must occur exactly once (the text is the one
    the revision was written against)."""
    for old, new in pairs:
        assert sql.count(old) == 1, f"the function is not the text this migration rewrites: {old[:60]!r}"
        sql = sql.replace(old, new)
    return sql


# A function's own settings that make PL/pgSQL plan each of its statements once per connection, by
# key whatever the statistics were when it planned (wallet 0014, rules 0009 tell why).
PLANNED_ONCE = (("plan_cache_mode", "force_generic_plan"), ("enable_seqscan", "off"), ("enable_hashjoin", "off"),
                ("enable_mergejoin", "off"))


def plan_once(*functions: str) -> list[str]:
    """The statements that give each of `functions` (signatures, "name(types)") the PLANNED_ONCE settings."""
    return [f"ALTER FUNCTION {f} SET {name} = {value}" for f in functions for name, value in PLANNED_ONCE]


def plan_per_call(*functions: str) -> list[str]:
    """The statements that take them away again (a downgrade)."""
    return [f"ALTER FUNCTION {f} RESET {name}" for f in functions for name, _ in PLANNED_ONCE]
