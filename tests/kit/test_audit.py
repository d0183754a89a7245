"""The kit's audit trail on a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData

from cashback_kit import audit
from cashback_kit.auth import Principal, current_principal
from cashback_kit.db import Database


async def test_an_audit_row_names_the_calling_key_by_id_and_pages_newest_first(pg_url: str) -> None:
    db = Database(pg_url)
    table = audit.audit_table(MetaData(), "demo")
    try:
        async with db.write() as conn:
            await conn.run_sync(lambda c: table.create(c))
        token = current_principal.set(Principal("ops", frozenset({"m1"}), "ab12cd34", "ops-alice"))
        try:
            at = datetime(2026, 1, 1, tzinfo=UTC)
            async with db.write() as conn:
                await audit.record(conn, table, at=at, merchant_id="m1", action="SetTemplate",
                                   target="credited/SMS/en", change={"body": "x" * 2000, "ids": list(range(150))})
                await audit.record(conn, table, at=at, merchant_id="m1", action="SetNotifyPolicy")
                await audit.record(conn, table, at=at, merchant_id="m2", action="SetNotifyPolicy")
        finally:
            current_principal.reset(token)
        async with db.read() as conn:
            rows = await audit.list_events(conn, table, "m1", limit=1)
            older = await audit.list_events(conn, table, "m1", limit=10, before_id=rows[0]["id"])
        assert [r["action"] for r in rows + older] == ["SetNotifyPolicy", "SetTemplate"]
        first = older[0]
        assert (first["key_id"], first["key_name"], first["role"]) == ("ab12cd34", "ops-alice", "ops")
        assert len(first["change"]["body"]) < 600 and first["change"]["body"].endswith("(+1500)")
        assert len(first["change"]["ids"]) == 101
    finally:
        await db.dispose()
