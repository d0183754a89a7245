"""Start a real service in-process on a free loopback port, migrated, through
its own bootstrap: real gRPC over a real socket, no fakes."""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from cashback_kit.app import prepare
from cashback_kit.auth import KeyRing
from cashback_kit.client import bearer
from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import RunningServer, ServiceParts, start_server
from tests.support.keys import TEST_KEYS, write_keys_file

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceHandle:
    name: str
    target: str
    channel: grpc.aio.Channel
    running: RunningServer
    db: Database
    settings: Settings

    async def stop(self) -> None:
        await self.channel.close()
        await self.running.stop(0.2)


def migrations_of(service: str) -> Path:
    return ROOT / "cashback_services" / service / "migrations"


def service_env(service: str, database_url: str, keys_file: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    return {
        f"{service.upper()}_DATABASE_URL": database_url,
        f"{service.upper()}_ADDR": "127.0.0.1:0",
        "CASHBACK_API_KEYS_FILE": str(keys_file),
        # Each caller its own narrow key (rules calls nobody; its key is never used).
        "CASHBACK_SERVICE_KEY": TEST_KEYS.get(f"{service}_service", TEST_KEYS["service"]),
        **(env or {}),
    }


@asynccontextmanager
async def running_service(
    service: str,
    *,
    database_url: str,
    env: Mapping[str, str] | None = None,
    keys_file: Path | None = None,
    bootstrap: Callable[[Settings, Database], Awaitable[ServiceParts]] | None = None,
) -> AsyncIterator[ServiceHandle]:
    own_keys = keys_file is None
    if keys_file is None:
        fd, name = tempfile.mkstemp(suffix=".keys.json")
        os.close(fd)
        keys_file = write_keys_file(Path(name))
    settings = Settings.from_env(service, service_env(service, database_url, keys_file, env))
    db = await prepare(settings, migrations_of(service))
    bootstrap = bootstrap or importlib.import_module(f"cashback_services.{service}.bootstrap").bootstrap
    parts = await bootstrap(settings, db)
    parts.on_stop.append(db.dispose)
    running = await start_server(settings, parts, KeyRing.from_file(keys_file))
    target = f"127.0.0.1:{running.port}"
    handle = ServiceHandle(service, target, grpc.aio.insecure_channel(target), running, db, settings)
    try:
        yield handle
    finally:
        await handle.stop()
        if own_keys:
            keys_file.unlink(missing_ok=True)


def auth(role: str = "ops") -> tuple[tuple[str, str], ...]:
    """Call metadata for a test key of this role."""
    return bearer(TEST_KEYS[role])
