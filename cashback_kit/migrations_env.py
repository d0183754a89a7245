"""The shared body of every service's Alembic env.py.

Migrations only run through Database.migrate(), which hands over an open
connection; there is no alembic.ini and no offline mode."""

from __future__ import annotations

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
