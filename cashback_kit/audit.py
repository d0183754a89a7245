"""The audit trail every service keeps of its ops mutations (issue 15, point 10).

Each service has its own database, so each has its own `<prefix>_audit` table, made
by `audit_table(metadata, "notify")` in its tables module and created by one of its
migrations (`audit_table(...).create(bind, checkfirst=True)`). A row says which key
made the change (the key's id, `Principal.key_id`, and the keys file's label; never
the key), when, for which merchant, the action (the RPC's name) and what changed (a
small JSON object: the new values, ids touched, counts).

`record()` runs inside the mutation's own write transaction, so a change and its
audit row commit or roll back together. `list_events()` pages newest first for
`ListAuditEvents` (ops, own merchants).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit import paging
from cashback_kit.auth import current_principal
from cashback_kit.db import Database

# What one row may hold of a change; larger values (a template body) are cut, with a mark.
MAX_VALUE_CHARS = 500
MAX_IDS_LISTED = 100


def audit_table(metadata: MetaData, prefix: str) -> Table:
    table = Table(
        f"{prefix}_audit", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("key_id", String(16), nullable=False),
        Column("key_name", String(64), nullable=False),
        Column("role", String(32), nullable=False),
        Column("merchant_id", String(128), nullable=False),
        Column("action", String(64), nullable=False),
        Column("target", String(200), nullable=False),
        Column("change", JSON, nullable=False),
    )
    Index(f"ix_{prefix}_audit_merchant", table.c.merchant_id, table.c.id)
    return table


def _bounded(value: Any) -> Any:
    """Keep a change row small and JSON-safe whatever a caller hands in."""
    if isinstance(value, str):
        extra = len(value) - MAX_VALUE_CHARS
        return value if extra <= 0 else value[:MAX_VALUE_CHARS] + f"…(+{extra})"
    if isinstance(value, dict):
        return {str(k): _bounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        out = [_bounded(v) for v in items[:MAX_IDS_LISTED]]
        if len(items) > MAX_IDS_LISTED:
            out.append(f"…(+{len(items) - MAX_IDS_LISTED})")
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def by_ops() -> bool:
    """Whether the current call is an operator's (or no call at all: a tool on the database)."""
    p = current_principal.get()
    return p is None or p.role == "ops"


async def record(conn: AsyncConnection, table: Table, *, at: datetime, merchant_id: str, action: str,
                 target: str = "", change: dict[str, Any] | None = None) -> None:
    """Add one audit row in the caller's transaction, naming the calling key.

    Outside an authenticated call (a test driving the service layer, a CLI on the
    database) the key is recorded as "-"."""
    p = current_principal.get()
    await conn.execute(table.insert().values(
        at=at, key_id=p.key_id if p else "-", key_name=(p.name if p else "")[:64], role=p.role if p else "",
        merchant_id=merchant_id, action=action, target=target[:200], change=_bounded(change or {})))


async def list_events(conn: AsyncConnection, table: Table, merchant_id: str, *, limit: int,
                      before_id: int | None = None, action: str = "") -> list[dict[str, Any]]:
    """A merchant's audit rows, newest first; `limit` rows after `before_id`."""
    q = select(table).where(table.c.merchant_id == merchant_id)
    if before_id is not None:
        q = q.where(table.c.id < before_id)
    if action:
        q = q.where(table.c.action == action)
    rows = await conn.execute(q.order_by(table.c.id.desc()).limit(limit))
    return [dict(r) for r in rows.mappings()]


def change_json(row: dict[str, Any]) -> str:
    """A row's change as compact, stable JSON (for the proto's string field and the CLI)."""
    return json.dumps(row["change"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _position(raw: object) -> int:
    if not isinstance(raw, int):
        raise ValueError("bad position")
    return raw


async def list_page(db: Database, table: Table, merchant_id: str, page_size: int, token: str,
                    action: str = "") -> tuple[list[dict[str, Any]], str]:
    """One page of a ListAuditEvents RPC (the kit's page size and signed page tokens,
    scoped to the merchant and the action filter) and the next page's token."""
    size = paging.page_size(page_size)
    # The table in the scope: notify's ListAuditEvents tokens are not the wallet's.
    query = paging.scope(f"ListAuditEvents:{table.name}", merchant_id, action)
    before = paging.read(token, query, _position)
    async with db.read() as conn:
        rows = await list_events(conn, table, merchant_id, limit=size + 1, before_id=before, action=action)
    return rows[:size], paging.issue(query, rows[size - 1]["id"]) if len(rows) > size else ""
