"""The sender loop: claims due deliveries under a lease, sends them, and records
the outcomes (the delivery state machine is domain/delivery_state.py, the SQL
adapters/claims.py).

A sender that dies mid-send leaves its deliveries SENDING; when the lease runs
out another sender takes them again. Those in-flight deliveries are the only
ones that can be sent twice (if the first send reached the provider before the
crash), except through Kavenegar, whose localid makes a resend a no-op. A send
whose request went out and got no answer (UNKNOWN) is never resent: the
delivery goes DEAD with that error, for a person to check (Kavenegar settles
such a send by asking for its status instead)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cashback_kit.db import CompiledStatement, Database
from cashback_kit.errors import DomainError
from cashback_kit.pb import utcnow
from cashback_services.notify.adapters.claims import (
    FINISH,
    HeldConnection,
    claim_statement,
    finish_arrays,
    record_stops,
)
from cashback_services.notify.adapters.providers.base import EmailProvider, SmsRouter
from cashback_services.notify.adapters.wallet_client import WalletGateway
from cashback_services.notify.domain.delivery_state import OPTED_OUT, SPENT, RetryPolicy, outcome_values
from cashback_services.notify.domain.outcomes import OutboundEmail, OutboundSms, Outcome, SendResult
from cashback_services.notify.metrics import DELIVERIES

log = logging.getLogger("cashback.notify.sender")
LEASE = timedelta(seconds=60)
# How long the finisher waits for more outcomes to join a small batch (they stay SENDING, under
# their lease, meanwhile). Each write is a round trip and a statement for the database to plan
# and commit, so batches of a few outcomes cost nearly as much as batches of dozens.
GATHER = 0.005

class Sender:
    """Claims due deliveries under a lease, sends them, and records the outcome.

    `run` keeps `concurrency` sends in flight and claims a little ahead of them (at
    most `ahead` claimed-but-unfinished rows), and the outcomes are written by one
    finisher in batches (one transaction for all the sends that completed meanwhile)
    instead of a transaction per message. A claimed row waiting for a worker, or an
    outcome waiting for its batch, is still SENDING under its lease, exactly like a
    send in flight."""

    def __init__(self, db: Database, router: SmsRouter, email: EmailProvider, wallet: WalletGateway | None,
                 clock: Callable[[], datetime] = utcnow, retry: RetryPolicy | None = None,
                 concurrency: int = 32, lease: timedelta = LEASE) -> None:
        self.db, self.router, self.email, self.wallet, self.clock = db, router, email, wallet, clock
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        # `run` claims ahead, up to this many claimed-but-unfinished sends: a claim takes
        # about as long as a send, so slots would sit empty waiting for it otherwise.
        self.ahead = 3 * concurrency
        self.gate = asyncio.Semaphore(concurrency)
        self.claim_stmt = claim_statement()
        # `run`'s fast path: on its held connections, straight to asyncpg.
        self.driver_claim = CompiledStatement(self.claim_stmt, db.engine.dialect)
        self.driver_finish = CompiledStatement(FINISH, db.engine.dialect)

    async def claim(self, limit: int, held: HeldConnection | None = None) -> list[dict[str, Any]]:
        """Lease up to `limit` due deliveries (one statement, on `held` if given)."""
        now = self.clock()
        params = {"now": now, "lease_until": now + self.lease, "limit": limit}
        if held is not None:
            return [dict(r) for r in await held.fetch(self.driver_claim, params)]
        async with self.db.write() as conn:
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
        if row.get("stopped"):
            return SendResult(Outcome.SUPPRESS, error=OPTED_OUT)
        if not row["body"].strip():
            # A delivery whose template failed (then requeued) has no text: never send it empty.
            return SendResult(Outcome.FAILED, error="nothing to send: the message has no text (its template "
                              "failed when it was made; fix the template)")
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
        except DomainError as exc:
            raise ConnectionError(f"wallet: {type(exc).__name__}") from exc
        if bal.available.minor <= 0 or bal.next_expiry_at is None:
            return False
        return bal.next_expiry_at <= row["check_expires_at"] + timedelta(seconds=1)

    def outcome_values(self, row: dict[str, Any], result: SendResult, now: datetime) -> dict[str, Any]:
        """The columns a send's result sets on its delivery."""
        return outcome_values(row, result, now, self.retry)

    async def finish(self, row: dict[str, Any], result: SendResult) -> None:
        await self.finish_many([(row, result)])

    async def finish_many(self, outcomes: list[tuple[dict[str, Any], SendResult]],
                          held: HeldConnection | None = None) -> None:
        """Record many sends' outcomes in one transaction (only rows still SENDING):
        one UPDATE for the batch, plus provider opt-outs. On `held` when it is one statement."""
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
                   if result.outcome is Outcome.SUPPRESS and row["channel"] == "sms"
                   and result.error not in (SPENT, OPTED_OUT)}
        records = [values for _, values in finished]
        # `held` runs one statement as its own transaction: opt-outs (rare) need a real one.
        if held is not None and not stopped:
            await held.fetch(self.driver_finish, finish_arrays(records))
        else:
            async with self.db.write() as conn:
                await conn.execute(FINISH, finish_arrays(records))
                await record_stops(conn, stopped, now)
        counts = Counter((row["kind"], row["channel"], values["status"]) for row, values in finished)
        for labels, n in counts.items():
            DELIVERIES.labels(*labels).inc(n)
        for row, values in finished:
            log.info("delivery finished", extra={"delivery_id": row["delivery_id"], "status": values["status"],
                                                 "attempts": row["attempts"]})
