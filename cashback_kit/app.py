"""main() for every service: settings from the environment, JSON logs, wait for
the database, migrate, bootstrap, serve. `--migrate-only` stops after the
migration (the Kubernetes migration Job runs that)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from cashback_kit.config import Settings
from cashback_kit.db import Database, postgres_url, wait_for_database
from cashback_kit.logs import configure_logging
from cashback_kit.server import ServiceParts, serve_forever
from cashback_kit.tracing import configure_tracing

Bootstrap = Callable[[Settings, Database], Awaitable[ServiceParts]]
log = logging.getLogger("cashback.app")


async def prepare(settings: Settings, migrations: Path) -> Database:
    db = Database(settings.database_url)
    await wait_for_database(db)
    await db.migrate(migrations, f"{settings.service}_alembic_version")
    return db


async def _run(settings: Settings, bootstrap: Bootstrap, migrations: Path, migrate_only: bool) -> None:
    db = await prepare(settings, migrations)
    if migrate_only:
        await db.dispose()
        return
    flush_traces = configure_tracing(settings)
    parts = await bootstrap(settings, db)
    parts.on_stop.append(db.dispose)
    if flush_traces is not None:
        parts.on_stop.append(flush_traces)
    await serve_forever(settings, parts)


def run_main(service: str, bootstrap: Bootstrap, migrations: Path) -> None:
    parser = argparse.ArgumentParser(prog=f"cashback-{service}", description=f"the cashback {service} service")
    parser.add_argument("--migrate-only", action="store_true", help="apply migrations and exit")
    args = parser.parse_args()
    try:
        settings = Settings.from_env(service)
    except ValueError as exc:  # a bad setting stops the start, naming the variable
        parser.exit(2, f"cashback-{service}: {exc}\n")
    try:
        postgres_url(settings.database_url)
    except ValueError as exc:  # refused before anything starts, naming the variable to fix
        parser.exit(2, f"cashback-{service}: {service.upper()}_DATABASE_URL: {exc} (`make run` sets it for you)\n")
    configure_logging(service, settings.log_level)
    asyncio.run(_run(settings, bootstrap, migrations, args.migrate_only))
