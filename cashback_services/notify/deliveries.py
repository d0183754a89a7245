"""Deliveries: created once per (event or lot or campaign run, kind, channel,
customer), claimed by senders under a lease, and driven through
SCHEDULED → SENDING → SENT | FAILED | SUPPRESSED | DEAD.

A sender that dies mid-send leaves its deliveries SENDING; when the lease runs
out another sender takes them again. Those in-flight deliveries are the only
ones that can be sent twice (if the first send reached the provider before the
crash). A send whose request went out and got no answer (UNKNOWN) is never
resent: the delivery goes DEAD with that error, for a person to check."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import grpc
from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Integer,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningUpdate

from cashback_kit.db import CompiledStatement, Database
from cashback_kit.pb import ts_from_pb, utcnow
from cashback_services.notify import tables as t
from cashback_services.notify.domain import MAX_ATTEMPTS, backoff_seconds
from cashback_services.notify.metrics import DELIVERIES
from cashback_services.notify.planning import Message, plan
from cashback_services.notify.providers.base import (
    EmailProvider,
    OutboundEmail,
    OutboundSms,
    Outcome,
    SendResult,
    SmsRouter,
)
from cashback_services.notify.store import insert_ignore, load_contact, load_policy, load_template, opted_out
from cashback_services.notify.wallet_client import WalletGateway

log = logging.getLogger("cashback.notify.deliveries")
D = t.deliveries
LEASE = timedelta(seconds=60)
# How long the finisher waits for more outcomes to join a small batch (they stay SENDING, under
# their lease, meanwhile). Each write is a round trip and a statement for the database to plan
# and commit, so batches of a few outcomes cost nearly as much as batches of dozens.
GATHER = 0.005
SPENT = "the credit was already spent"


async def create(conn: AsyncConnection, message: Message, now: datetime,
                 channels: tuple[str, ...] = ("sms", "email"), check: dict[str, Any] | None = None) -> int:
    """Load what `plan` needs, insert its deliveries (a unique key per event or lot
    or campaign run, kind, channel and customer) and return how many were new."""
    contact = await load_contact(conn, message.merchant_id, message.customer_id)
    if contact is None:
        return 0
    policy = await load_policy(conn, message.merchant_id)
    stopped = await opted_out(conn, [contact.phone_e164] if contact.phone_e164 else [])
    templates = {}
    for channel in channels:
        custom = await load_template(conn, message.merchant_id, message.kind, channel, contact.locale)
        if custom is not None:
            templates[channel] = custom
    created = 0
    for p in plan(message, contact, policy, templates, stopped, now, channels):
        values = {
            "delivery_id": f"dl_{uuid.uuid4().hex}", "dedupe_key": p.dedupe_key, "merchant_id": message.merchant_id,
            "customer_id": message.customer_id, "kind": message.kind, "channel": p.channel, "status": p.status,
            "to_addr": p.to, "subject": p.subject, "body": p.body, "encoding": p.encoding, "segments": p.segments,
            "attempts": 0, "scheduled_for": p.scheduled_for, "next_attempt_at": p.scheduled_for,
            "provider_message_id": "", "error": p.error, "created_at": now, **(check or {}),
        }
        new = (await conn.execute(insert_ignore(conn, D, values))).rowcount or 0
        if new:
            DELIVERIES.labels(message.kind, p.channel, p.status).inc()
        created += new
    return created


# What a send and its outcome need of a claimed delivery.
CLAIMED = ("id", "delivery_id", "merchant_id", "customer_id", "kind", "channel", "to_addr", "subject", "body",
           "attempts", "check_currency", "check_expires_at")


def claim_statement(postgres: bool) -> ReturningUpdate[Any]:
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
        pick = pick.order_by(column, D.c.id).limit(limit)
        if postgres:
            pick = pick.with_for_update(skip_locked=True)
        return select(pick.subquery().c.id)

    picked = select(union_all(first("SENDING", D.c.lease_until), first("SCHEDULED", D.c.next_attempt_at))
                    .subquery().c.id).limit(limit).subquery()
    # PostgreSQL: `id = ANY(array)`, so the rows are fetched by primary key (with `IN` the
    # planner may hash-join against a scan of the whole table).
    chosen = (D.c.id == any_(cast(select(func.array_agg(picked.c.id)).scalar_subquery(), ARRAY(BigInteger())))
              if postgres
              else D.c.id.in_(select(picked.c.id)))
    return (update(D).where(chosen)
            .values(status="SENDING", lease_until=bindparam("lease_until", type_=D.c.lease_until.type),
                    attempts=D.c.attempts + 1).returning(*(D.c[c] for c in CLAIMED)))


# PostgreSQL: all of a batch's outcomes in one statement, the new values as arrays joined by id
# (columns an outcome does not set are NULL in their array and keep the row's value).
_PG_FINISH = text("""
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
_FINISH_COLUMNS = ("status", "error", "sent_at", "provider_message_id", "next_attempt_at")


class HeldConnection:
    """One connection kept for a loop's single-statement writes (a claim, a batch of
    outcomes), so each skips the pool checkout. On
    PostgreSQL it is in autocommit: the statement is its own transaction, with no
    BEGIN and COMMIT round trips. On SQLite each use is a write transaction.
    After any error the connection is dropped and the next use opens a fresh one
    (the database may have restarted under it)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: AsyncConnection | None = None
        self.driver: Any = None  # PostgreSQL: conn's asyncpg connection, for `fetch`

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        if self.conn is None:
            conn = await self.db.engine.connect()
            if self.db.is_postgres:
                self.conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                self.conn = await conn.execution_options(cashback_write=True)
        try:
            async with self.conn.begin():  # no BEGIN is sent in autocommit
                yield self.conn
        except BaseException:
            await self.close()
            raise

    async def fetch(self, stmt: CompiledStatement, params: dict[str, Any]) -> list[Any]:
        """PostgreSQL: run `stmt` on the asyncpg connection, outside any transaction (so
        it commits by itself); asyncpg prepares it once per connection."""
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


Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class Sender:
    """Claims due deliveries under a lease, sends them, and records the outcome.

    `run` keeps `concurrency` sends in flight and claims a little ahead of them (at
    most `ahead` claimed-but-unfinished rows), and the outcomes are written by one
    finisher in batches (one transaction for all the sends that completed meanwhile)
    instead of a transaction per message. A claimed row waiting for a worker, or an
    outcome waiting for its batch, is still SENDING under its lease, exactly like a
    send in flight."""

    def __init__(self, db: Database, router: SmsRouter, email: EmailProvider, wallet: WalletGateway | None,
                 clock: Callable[[], datetime] = utcnow, max_attempts: int = MAX_ATTEMPTS,
                 concurrency: int = 32, lease: timedelta = LEASE) -> None:
        self.db, self.router, self.email, self.wallet, self.clock = db, router, email, wallet, clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        # `run` claims ahead, up to this many claimed-but-unfinished sends: a claim takes
        # about as long as a send, so slots would sit empty waiting for it otherwise.
        self.ahead = 3 * concurrency
        self.gate = asyncio.Semaphore(concurrency)
        self.claim_stmt = claim_statement(db.is_postgres)
        if db.is_postgres:  # `run`'s fast path: on its held connections, straight to asyncpg
            self.driver_claim = CompiledStatement(self.claim_stmt, db.engine.dialect)
            self.driver_finish = CompiledStatement(_PG_FINISH, db.engine.dialect)

    async def claim(self, limit: int, held: HeldConnection | None = None) -> list[dict[str, Any]]:
        """Lease up to `limit` due deliveries (one statement, on `held` if given)."""
        now = self.clock()
        params = {"now": now, "lease_until": now + self.lease, "limit": limit}
        if held is not None and self.db.is_postgres:
            return [dict(r) for r in await held.fetch(self.driver_claim, params)]
        async with (held.statement if held else self.db.write)() as conn:
            return [dict(r) for r in (await conn.execute(self.claim_stmt, params)).mappings().all()]

    async def send_due(self, limit: int = 100) -> int:
        """One round: claim up to `limit`, send them (`concurrency` at a time), record the outcomes."""
        batch = await self.claim(limit)

        async def one(row: dict[str, Any]) -> tuple[dict[str, Any], SendResult]:
            async with self.gate:
                return row, await self.attempt(row)

        await self.finish_many(list(await asyncio.gather(*(one(row) for row in batch))))
        return len(batch)

    async def run(self, idle: float = 0.5, until_idle: bool = False) -> None:
        """Send continuously with `concurrency` in flight; sleep `idle` when nothing is
        due (or return, with `until_idle`, once nothing is due or in flight).

        `concurrency` workers take claimed rows from a queue and send them; one claimer
        keeps that queue topped up (claimed-but-unfinished sends up to `ahead`); one
        finisher records the outcomes."""
        ready: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # claimed, waiting for a worker
        done: asyncio.Queue[tuple[dict[str, Any], SendResult]] = asyncio.Queue()
        recording: list[tuple[dict[str, Any], SendResult]] = []  # the batch the finisher is writing
        room = asyncio.Event()  # a send ended: there may be room to claim more
        busy = [0]  # sends in flight
        refill = max(1, self.concurrency // 2)
        # The claimer and the finisher each keep one connection (no checkout per transaction).
        claims, finishes = HeldConnection(self.db), HeldConnection(self.db)

        async def worker() -> None:
            while True:
                row = await ready.get()
                busy[0] += 1
                try:
                    done.put_nowait((row, await self.attempt(row)))
                finally:
                    busy[0] -= 1
                    # Wake the claimer only when it has something to do: room for a claim, or idle.
                    waiting = ready.qsize()
                    if self.ahead - busy[0] - waiting >= refill or not (busy[0] or waiting):
                        room.set()

        async def claimer() -> None:
            while True:
                room.clear()
                want = self.ahead - busy[0] - ready.qsize()
                if want < refill:
                    await room.wait()
                    continue
                rows = await self._claim_or_nothing(want, claims)
                for row in rows:
                    ready.put_nowait(row)
                if rows:
                    continue
                if until_idle:
                    while busy[0] or ready.qsize():
                        room.clear()
                        await room.wait()
                    return
                await asyncio.sleep(idle)

        async def finisher() -> None:
            while True:
                recording[:] = [await done.get()]
                if done.qsize() < self.concurrency // 2:
                    await asyncio.sleep(GATHER)  # let more outcomes join: fewer, bigger writes
                recording.extend(done.get_nowait() for _ in range(done.qsize()))
                while True:
                    try:
                        await self.finish_many(recording, finishes)
                        break
                    except Exception as exc:  # the database is away: keep the outcomes, try again
                        log.warning("recording outcomes failed; retrying",
                                    extra={"error": type(exc).__name__, "deliveries": len(recording)})
                        await asyncio.sleep(1.0)
                for _ in range(len(recording)):
                    done.task_done()
                recording.clear()

        writer = asyncio.create_task(finisher())
        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
        try:
            await claimer()
            await done.join()
        finally:
            # Sends still in flight and claimed rows not yet started stay SENDING and go again
            # when their lease runs out (as after a crash); outcomes already known are recorded
            # now rather than left to the lease.
            for task in [*workers, writer]:
                task.cancel()
            await asyncio.wait([*workers, writer])
            await claims.close()
            await finishes.close()
            leftover = recording + [done.get_nowait() for _ in range(done.qsize())]
            if leftover:
                await self.finish_many(leftover)

    async def _claim_or_nothing(self, limit: int, held: HeldConnection) -> list[dict[str, Any]]:
        try:
            return await self.claim(limit, held)
        except Exception as exc:  # the database is away: treat as nothing due, ask again later
            log.warning("claiming deliveries failed", extra={"error": type(exc).__name__})
            return []

    async def attempt(self, row: dict[str, Any]) -> SendResult:
        try:
            return await self._send(row)
        except Exception as exc:
            log.exception("send failed", extra={"delivery_id": row["delivery_id"]})
            return SendResult(Outcome.RETRY, error=f"{type(exc).__name__}")

    async def _send(self, row: dict[str, Any]) -> SendResult:
        if row["kind"] == "expiry_warning" and not await self._still_expiring(row):
            return SendResult(Outcome.SUPPRESS, error=SPENT)
        try:
            if row["channel"] == "sms":
                provider = self.router.for_number(row["to_addr"])
                return await provider.send(OutboundSms(row["delivery_id"], row["to_addr"], row["body"]))
            return await self.email.send(OutboundEmail(row["delivery_id"], row["to_addr"], row["subject"],
                                                       row["body"]))
        except Exception as exc:
            # Providers map what they know; anything else may have happened after the message
            # went out, so it is not safe to resend.
            log.exception("provider raised", extra={"delivery_id": row["delivery_id"]})
            return SendResult(Outcome.UNKNOWN, error=f"the provider raised {type(exc).__name__}")

    async def _still_expiring(self, row: dict[str, Any]) -> bool:
        """Checked at send time: is there still available credit expiring by then?"""
        if self.wallet is None or not row["check_currency"]:
            return True
        try:
            bal = await self.wallet.balance(row["merchant_id"], row["customer_id"], row["check_currency"])
        except grpc.aio.AioRpcError as exc:
            raise ConnectionError(f"wallet {exc.code().name}") from exc
        if bal.available.amount_minor <= 0 or not bal.HasField("next_expiry_at"):
            return False
        return ts_from_pb(bal.next_expiry_at, "next_expiry_at") <= row["check_expires_at"] + timedelta(seconds=1)

    def outcome_values(self, row: dict[str, Any], result: SendResult, now: datetime) -> dict[str, Any]:
        """The columns a send's result sets on its delivery."""
        values: dict[str, Any] = {"lease_until": None, "error": result.error}
        if result.outcome is Outcome.SENT:
            values.update(status="SENT", sent_at=now, provider_message_id=result.provider_message_id)
        elif result.outcome is Outcome.RETRY and row["attempts"] < self.max_attempts:
            delay = max(backoff_seconds(row["attempts"]), result.retry_after or 0)
            values.update(status="SCHEDULED", next_attempt_at=now + timedelta(seconds=delay))
        elif result.outcome is Outcome.RETRY:
            values.update(status="DEAD", error=f"gave up after {row['attempts']} attempts: {result.error}")
        elif result.outcome is Outcome.SUPPRESS:
            values.update(status="SUPPRESSED")
        elif result.outcome is Outcome.UNKNOWN:
            values.update(status="DEAD", error=f"{result.error}; not resent, to avoid a duplicate: check the "
                                               f"provider for {row['delivery_id']}")
        else:
            values.update(status="FAILED")
        return values

    async def finish(self, row: dict[str, Any], result: SendResult) -> None:
        await self.finish_many([(row, result)])

    async def finish_many(self, outcomes: list[tuple[dict[str, Any], SendResult]],
                          held: HeldConnection | None = None) -> None:
        """Record many sends' outcomes in one transaction (only rows still SENDING):
        on PostgreSQL one UPDATE for the batch, elsewhere one executemany UPDATE per set
        of columns; plus provider opt-outs. On `held` when it is one statement."""
        if not outcomes:
            return
        now = self.clock()
        finished = []
        for row, result in outcomes:
            values = self.outcome_values(row, result, now)
            values["id"] = row["id"]
            finished.append((row, values))
        # The provider said the recipient opted out (Twilio 21610): record it for every future message.
        stopped = {row["to_addr"]: row["merchant_id"] for row, result in outcomes
                   if result.outcome is Outcome.SUPPRESS and row["channel"] == "sms" and result.error != SPENT}
        records = [values for _, values in finished]
        # `held` runs one statement as its own transaction: opt-outs (rare) need a real one.
        if held is not None and not stopped and self.db.is_postgres:
            await held.fetch(self.driver_finish, self._pg_arrays(records))
        else:
            await self._record_in_transaction(held.statement if held and not stopped else self.db.write,
                                              records, stopped, now)
        counts = Counter((row["kind"], row["channel"], values["status"]) for row, values in finished)
        for labels, n in counts.items():
            DELIVERIES.labels(*labels).inc(n)
        for row, values in finished:
            log.info("delivery finished", extra={"delivery_id": row["delivery_id"], "status": values["status"],
                                                 "attempts": row["attempts"]})

    @staticmethod
    def _pg_arrays(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
        return {c: [v.get(c) for v in records] for c in ("id", *_FINISH_COLUMNS)}

    async def _record_in_transaction(self, tx: Transaction, records: list[dict[str, Any]], stopped: dict[str, str],
                                     now: datetime) -> None:
        async with tx() as conn:
            await self._record(conn, records)
            for phone, merchant_id in stopped.items():
                await conn.execute(insert_ignore(conn, t.optouts, {
                    "phone_e164": phone, "merchant_id": merchant_id, "created_at": now}))
                await conn.execute(update(t.contacts).where(t.contacts.c.phone_e164 == phone)
                                   .values(sms_opt_in=False, updated_at=now))

    async def _record(self, conn: AsyncConnection, outcomes: list[dict[str, Any]]) -> None:
        if self.db.is_postgres:
            await conn.execute(_PG_FINISH, self._pg_arrays(outcomes))
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for values in outcomes:
            groups.setdefault(tuple(sorted(values)), []).append({f"b_{k}": v for k, v in values.items()})
        for columns, params in groups.items():
            stmt = (update(D).where(D.c.id == bindparam("b_id"), D.c.status == "SENDING")
                    .values({c: bindparam(f"b_{c}") for c in columns if c != "id"}))
            await conn.execute(stmt, params)
