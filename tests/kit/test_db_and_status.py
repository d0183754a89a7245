"""The kit against a real PostgreSQL: migrations, URLs it refuses, timestamps, and
the one exception -> status mapping."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from sqlalchemy import Column, MetaData, Table, insert, select, text

from cashback_kit import errors
from cashback_kit.db import Database
from cashback_kit.interceptors import classify
from cashback_kit.sqltypes import UtcDateTime
from tests.support.servers import migrations_of


async def test_each_service_migrates_its_own_schema_and_a_second_run_is_a_no_op(pg_url):
    db = Database(pg_url)
    try:
        for service in ("rules", "wallet", "notify"):
            await db.migrate(migrations_of(service), f"{service}_alembic_version")
            await db.migrate(migrations_of(service), f"{service}_alembic_version")
            async with db.read() as conn:
                version = (await conn.execute(text(f"SELECT version_num FROM {service}_alembic_version"))).scalar()
            assert version is not None
    finally:
        await db.dispose()


async def test_two_processes_migrating_at_once_queue_on_the_advisory_lock(pg_url):
    a, b = Database(pg_url), Database(pg_url)
    try:
        await asyncio.gather(
            a.migrate(migrations_of("wallet"), "wallet_alembic_version"),
            b.migrate(migrations_of("wallet"), "wallet_alembic_version"),
        )
    finally:
        await a.dispose()
        await b.dispose()


@pytest.mark.parametrize("url", ["", "sqlite+aiosqlite:///var/wallet.db", "postgresql+psycopg://u@h/db",
                                 "postgres://u@h/db", "not a url"])
def test_a_url_that_is_not_postgresql_asyncpg_is_refused_with_the_expected_form(url):
    with pytest.raises(ValueError, match=r"expected postgresql\+asyncpg://"):
        Database(url)


def test_a_service_without_its_database_url_refuses_to_start_and_names_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    result = subprocess.run([str(Path(sys.executable).with_name("cashback-wallet")), "--migrate-only"],
                            env={**env, "CASHBACK_VAR_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "WALLET_DATABASE_URL" in result.stderr and "postgresql+asyncpg://" in result.stderr


async def test_a_timestamp_column_refuses_a_naive_datetime_and_stores_an_aware_one_as_the_same_instant(pg_url):
    table = Table("stamps", MetaData(), Column("at", UtcDateTime, nullable=False))
    db = Database(pg_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(text("SET TIME ZONE 'Asia/Riyadh'"))
            with pytest.raises(Exception, match="naive datetime"):
                await conn.execute(insert(table), {"at": datetime(2026, 3, 1, 12, 0)})
        riyadh_noon = datetime.fromisoformat("2026-03-01T12:00:00+03:00")
        async with db.write() as conn:
            await conn.execute(insert(table), {"at": riyadh_noon})
        async with db.read() as conn:
            stored = (await conn.execute(select(table.c.at))).scalar_one()
            count = (await conn.execute(text("SELECT count(*) FROM stamps"))).scalar_one()
        assert count == 1
        assert stored == riyadh_noon and stored.tzinfo == UTC and stored.hour == 9
    finally:
        await db.dispose()


def test_invalid_argument_carries_bad_request_field_violations():
    c = classify(errors.InvalidArgument("amount must be positive", field="amount.amount_minor"))
    assert c.code is grpc.StatusCode.INVALID_ARGUMENT
    status = status_pb2.Status.FromString(c.details)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "amount.amount_minor"


def test_domain_errors_map_to_their_codes():
    assert classify(errors.InsufficientCredit("no")).code is grpc.StatusCode.FAILED_PRECONDITION
    assert classify(errors.AlreadyExists("k")).code is grpc.StatusCode.ALREADY_EXISTS
    assert classify(errors.NotFound("h")).code is grpc.StatusCode.NOT_FOUND
    assert classify(NotImplementedError()).code is grpc.StatusCode.UNIMPLEMENTED
    assert classify(ConnectionRefusedError()).code is grpc.StatusCode.UNAVAILABLE
    assert classify(KeyError("bug")).code is grpc.StatusCode.INTERNAL


async def test_a_database_that_is_down_maps_to_unavailable(pg_cluster):
    db = Database(pg_cluster.url("postgres").replace(str(pg_cluster.port), "1"))
    try:
        with pytest.raises(Exception) as info:
            await db.ping()
        assert classify(info.value).code is grpc.StatusCode.UNAVAILABLE
    finally:
        await db.dispose()


async def test_a_unique_violation_race_maps_to_aborted(pg_url):
    db = Database(pg_url)
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE k (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO k VALUES (1)"))
        with pytest.raises(Exception) as info:
            async with db.write() as conn:
                await conn.execute(text("INSERT INTO k VALUES (1)"))
        assert classify(info.value).code is grpc.StatusCode.ABORTED
    finally:
        await db.dispose()


async def test_fetch_row_answers_as_a_read_does_and_keeps_literals_and_types(pg_url):
    """fetch_row (asyncpg's own pool on PostgreSQL) gives the row an ordinary
    read gives, for a statement with literals, bound values and a timestamp."""
    from datetime import UTC, datetime

    from sqlalchemy import Integer, String, bindparam, literal, select

    from cashback_kit.sqltypes import UtcDateTime

    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    stmt = select(literal("fixed"), bindparam("n", type_=Integer()) + 1, bindparam("s", type_=String()),
                  bindparam("t", type_=UtcDateTime()))
    db = Database(pg_url)
    try:
        async with db.read() as conn:
            want = tuple((await conn.execute(stmt, {"n": 41, "s": "x", "t": when})).one())
        for n in (41, 41, 7):  # the second call reuses the compiled, prepared statement
            got = await db.fetch_row(stmt, {"n": n, "s": "x", "t": when})
            assert got is not None and got[:3] == ("fixed", n + 1, "x")
            assert got[3] == when and got[3].utcoffset() is not None
        assert (await db.fetch_row(stmt, {"n": 41, "s": "x", "t": when}))[:3] == want[:3]
    finally:
        await db.dispose()


async def test_fetch_row_maps_a_database_that_is_down_to_unavailable(pg_cluster, pg_url):
    db = Database(pg_url)
    stmt = text("SELECT 1")
    try:
        assert await db.fetch_row(stmt, {}) == (1,)
        await asyncio.to_thread(pg_cluster.stop, "fast")
        try:
            with pytest.raises(errors.Unavailable):
                await db.fetch_row(stmt, {})
        finally:
            await asyncio.to_thread(pg_cluster.start)
        assert await db.fetch_row(stmt, {}) == (1,)  # and recovers by itself
    finally:
        await db.dispose()
