"""Bring a rules database to a given Alembic revision (the services only ever
migrate to head), so a test can write data as an older release did."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from cashback_kit.db import Database
from tests.support.servers import migrations_of


async def migrate_to(url: str, revision: str, *setup_sql: str, down: bool = False) -> None:
    """Upgrade (or, `down`, downgrade) to `revision`, then run `setup_sql` (rows as that revision
    stored them)."""

    def upgrade(conn: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrations_of("rules")))
        cfg.attributes["connection"] = conn
        cfg.attributes["version_table"] = "rules_alembic_version"
        (command.downgrade if down else command.upgrade)(cfg, revision)

    db = Database(url)
    try:
        async with db.write() as conn:
            await conn.run_sync(upgrade)
            for sql in setup_sql:
                await conn.execute(text(sql))
    finally:
        await db.dispose()
