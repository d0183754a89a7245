"""Wallet test fixtures. The auditor runs at the end of EVERY test that used a
database (pg_url) and fails the test on any violation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from cashback_kit.db import Database
from cashback_services.wallet.auditor import audit
from cashback_services.wallet.main import MIGRATIONS
from cashback_services.wallet.service_layer.handlers import WalletService


class Clock:
    """A clock tests move by hand (time travel for holds, maturing, expiry)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


async def _audit_url(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.read() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            if "wallet_entries" not in tables:
                return []
            return [str(v) for v in await audit(conn)]
    finally:
        await db.dispose()


@pytest.fixture(autouse=True)
async def audit_after_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    urls = [request.getfixturevalue("pg_url")] if "pg_url" in request.fixturenames else []
    yield
    for url in urls:
        violations = await _audit_url(url)
        assert not violations, "auditor found violations:\n" + "\n".join(violations)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def wallet_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    await db.migrate(MIGRATIONS, "wallet_alembic_version")
    yield db
    await db.dispose()


@pytest.fixture
async def wallet(wallet_db: Database, clock: Clock) -> WalletService:
    """The service layer on a real database, with no rules client (for the
    operations that do not need rules) and a hand-moved clock."""
    return WalletService(wallet_db, None, clock=clock)
