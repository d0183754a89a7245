"""The SQL of sending: claiming due deliveries under a lease, and recording a
batch of outcomes in one statement, on a held autocommit connection."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Integer,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningUpdate

from cashback_kit.db import CompiledStatement, Database
from cashback_services.notify.adapters import tables as t
from cashback_services.notify.adapters.store import insert_ignore

log = logging.getLogger("cashback.notify.claims")
D = t.deliveries
C = t.contacts

# What a send and its outcome need of a claimed delivery.
CLAIMED = ("id", "delivery_id", "merchant_id", "customer_id", "kind", "channel", "to_addr", "subject", "body",
           "attempts", "scheduled_for", "check_currency", "check_expires_at")


def _stopped() -> Any:
    """Checked at claim time, so nothing queued goes out after an opt-out: the number
    replied STOP (any merchant), or the customer turned the channel off since."""
    stop = exists().where(t.optouts.c.phone_e164 == D.c.to_addr)
    turned_off = exists().where(C.c.merchant_id == D.c.merchant_id, C.c.customer_id == D.c.customer_id,
                                or_(and_(D.c.channel == "sms", ~C.c.sms_opt_in),
                                    and_(D.c.channel == "email", ~C.c.email_opt_in)))
    return or_(and_(D.c.channel == "sms", stop), turned_off).label("stopped")


def claim_statement() -> ReturningUpdate[Any]:
    """Lease up to :limit due deliveries (expired leases first, then due SCHEDULED rows,
    each oldest first) and return them. Each kind is read from its partial index in
    order and stops at the limit, so a claim costs the same however long the backlog.
    Built once; :now, :lease_until and :limit are bound per call."""
    now = bindparam("now", type_=D.c.next_attempt_at.type)
    limit: Any = bindparam("limit", type_=Integer())

    def first(status: str, column: Any) -> Any:
        # The status as a literal, not a parameter: a prepared statement's generic plan can only
        # use a partial index whose predicate the query states outright.
        pick = select(D.c.id).where(D.c.status == literal_column(f"'{status}'"),
                                    column < now if status == "SENDING" else column <= now)
        pick = pick.order_by(column, D.c.id).limit(limit).with_for_update(skip_locked=True)
        return select(pick.subquery().c.id)

    picked = select(union_all(first("SENDING", D.c.lease_until), first("SCHEDULED", D.c.next_attempt_at))
                    .subquery().c.id).limit(limit).subquery()
    # `id = ANY(array)`, so the rows are fetched by primary key (with `IN` the planner may
    # hash-join against a scan of the whole table).
    chosen = D.c.id == any_(cast(select(func.array_agg(picked.c.id)).scalar_subquery(), ARRAY(BigInteger())))
    return (update(D).where(chosen)
            .values(status="SENDING", lease_until=bindparam("lease_until", type_=D.c.lease_until.type),
                    attempts=D.c.attempts + 1).returning(*(D.c[c] for c in CLAIMED), _stopped()))


# All of a batch's outcomes in one statement, the new values as arrays joined by id
# (columns an outcome does not set are NULL in their array and keep the row's value).
FINISH = text("""
    UPDATE notify_deliveries AS d
    SET status = v.status, lease_until = NULL, error = v.error,
        sent_at = COALESCE(v.sent_at, d.sent_at),
        provider_message_id = COALESCE(v.provider_message_id, d.provider_message_id),
        next_attempt_at = COALESCE(v.next_attempt_at, d.next_attempt_at)
    FROM unnest(:id, :status, :error, :sent_at, :provider_message_id, :next_attempt_at)
         AS v(id, status, error, sent_at, provider_message_id, next_attempt_at)
    WHERE d.id = v.id AND d.status = 'SENDING'
""").bindparams(
    bindparam("id", type_=ARRAY(BigInteger())),
    *(bindparam(k, type_=ARRAY(Text())) for k in ("status", "error", "provider_message_id")),
    *(bindparam(k, type_=ARRAY(DateTime(timezone=True))) for k in ("sent_at", "next_attempt_at")),
)
FINISH_COLUMNS = ("status", "error", "sent_at", "provider_message_id", "next_attempt_at")


def finish_arrays(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {c: [v.get(c) for v in records] for c in ("id", *FINISH_COLUMNS)}


class HeldConnection:
    """One connection kept for a loop's single-statement writes (a claim, a batch of
    outcomes), so each skips the pool checkout. It is in autocommit: the statement is
    its own transaction, with no BEGIN and COMMIT round trips. After any error the
    connection is dropped and the next use opens a fresh one (the database may have
    restarted under it)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: AsyncConnection | None = None
        self.driver: Any = None  # conn's asyncpg connection, for `fetch`

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        if self.conn is None:
            conn = await self.db.engine.connect()
            self.conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            async with self.conn.begin():  # no BEGIN is sent in autocommit
                yield self.conn
        except BaseException:
            await self.close()
            raise

    async def fetch(self, stmt: CompiledStatement, params: dict[str, Any]) -> list[Any]:
        """Run `stmt` on the asyncpg connection, outside any transaction (so it commits by
        itself); asyncpg prepares it once per connection."""
        try:
            if self.conn is None or self.driver is None:
                self.conn = self.conn or await self.db.engine.connect()
                self.driver = (await self.conn.get_raw_connection()).driver_connection
            return list(await self.driver.fetch(stmt.sql, *stmt.args(params)))
        except BaseException:
            conn, self.conn, self.driver = self.conn, None, None
            if conn is not None:  # SQLAlchemy did not see the error: make sure the pool discards it
                try:
                    await conn.invalidate()
                except Exception as exc:
                    log.debug("dropping a sender connection failed", extra={"error": type(exc).__name__})
            raise

    async def close(self) -> None:
        conn, self.conn, self.driver = self.conn, None, None
        if conn is not None:
            try:
                await conn.close()
            except Exception as exc:  # already broken: the pool discards it
                log.debug("closing a sender connection failed", extra={"error": type(exc).__name__})


async def record_stops(conn: AsyncConnection, stopped: dict[str, str], now: Any) -> None:
    """The provider said these numbers opted out (Twilio 21610): never text them again."""
    for phone, merchant_id in stopped.items():
        await conn.execute(insert_ignore(t.optouts, {"phone_e164": phone, "merchant_id": merchant_id,
                                                     "created_at": now}))
        await conn.execute(update(C).where(C.c.phone_e164 == phone).values(sms_opt_in=False, updated_at=now))
