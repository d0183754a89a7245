"""Group commit for credit writes: many calls, one database transaction.

One Python process doing one database transaction per call spends its time on
round trips and commits, not on the ledger. So concurrent credit writes
(AdjustBalance credits, AwardOrder and AwardEvent after rules has scored them)
queue here, and a writer takes everything queued -- up to `max_items` -- into
one transaction, TigerBeetle's "many transfers per request":

  1. lock every customer of the group with one SELECT ... FOR UPDATE, in key
     order (two groups, or a group and a single write, never deadlock), and
     read their balance rows with one more statement;
  2. settle the few customers that have something due (expired holds, lots to
     mature or expire), exactly as a single write would;
  3. read the idempotency records and award rows of the whole group at once;
  4. run each call in arrival order against its customer's Book, with inserts
     going to a shared buffer -- a call that is refused (a key reused for a
     different request, a bad expiry) is refused alone and writes nothing;
  5. write the buffer with one multi-row INSERT per table and the balance rows
     with one UPDATE, then commit.

Each call keeps its single-call semantics: its own idempotency key (a key
used twice in one group is answered from the first use), its own outcome, its
own events. Nothing is acknowledged before the group commits. If the group's
transaction fails as a whole (a unique key taken by another process at the same
moment, a lost connection), it is rolled back and every call in it runs alone
through the single-call path, which gives each the answer it would have had --
idempotency makes running them again safe even if the commit's outcome was
unknown.

While one group commits, the next one fills: under load groups grow by
themselves, and a lone call waits for nobody."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from cashback_kit.db import keys_in
from cashback_kit.errors import DomainError
from cashback_services.wallet import operations as ops
from cashback_services.wallet import tables as t
from cashback_services.wallet.book import Book, WriteBuffer, flush_balances
from cashback_services.wallet.domain.ledger import HoldStatus, LotStatus
from cashback_services.wallet.metrics import group_committed, ledger_committed

if TYPE_CHECKING:
    from cashback_services.wallet.service import WalletService

log = logging.getLogger("cashback.wallet.batch")

Key = tuple[str, str]  # (merchant_id, customer_id)


@dataclass
class Group:
    """What the calls of one group share: the idempotency records and award rows
    read for the whole group (and those its calls add)."""

    idempotency: dict[tuple[str, str, str], dict[str, Any] | None] = field(default_factory=dict)
    awards: dict[tuple[str, str, str], dict[str, Any] | None] = field(default_factory=dict)


Run = Callable[[Book, Group], Awaitable[Any]]


@dataclass
class _Call:
    customer: Key
    run: Run
    alone: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]
    idempotency: tuple[str, str, str] | None = None
    award: tuple[str, str, str] | None = None


class Batcher:
    def __init__(self, service: WalletService, max_items: int = 256, writers: int = 1) -> None:
        # One writer measured best (bench target 3: 1,071/s against 814/s with two):
        # while it commits, the next group fills, and groups stay large.
        self.service = service
        self.max_items = max_items
        self.writers = writers
        self._queue: deque[_Call] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(
        self, customer: Key, run: Run, alone: Callable[[], Awaitable[Any]], *,
        idempotency: tuple[str, str, str] | None = None, award: tuple[str, str, str] | None = None,
    ) -> Any:
        """Run `run` in the next group; `alone` is the same call on the single-call
        path, used if the group fails as a whole."""
        call = _Call(customer, run, alone, asyncio.get_running_loop().create_future(), idempotency, award)
        self._queue.append(call)
        if len(self._tasks) < self.writers:  # writers run while there is work, and no longer
            self._tasks.add(asyncio.create_task(self._writer()))
        return await asyncio.shield(call.future)  # a caller that gives up does not cancel its write

    async def _writer(self) -> None:
        me = asyncio.current_task()
        try:
            while self._queue:
                calls = [self._queue.popleft() for _ in range(min(self.max_items, len(self._queue)))]
                await self._run(calls)
        finally:
            # Leave the set in the same step that saw the queue empty, so a call
            # queued from now on starts a writer of its own.
            self._tasks.discard(me)  # type: ignore[arg-type]

    async def _run(self, calls: list[_Call]) -> None:
        try:
            outcomes, books = await self._in_one_transaction(calls)
        except asyncio.CancelledError:
            for call in calls:
                _settle_future(call.future, None, ConnectionAbortedError("the wallet is shutting down"))
            raise
        except Exception as exc:  # the group as a whole: every call runs alone instead
            log.warning("write group failed; its calls run alone",
                        extra={"calls": len(calls), "error": type(exc).__name__})
            group_committed(len(calls), alone=True)
            await asyncio.gather(*(self._alone(call) for call in calls))
            return
        group_committed(len(calls))
        for book in books:
            ledger_committed(book.posted)
        self.service.notify_changed()
        for call, (value, error) in zip(calls, outcomes, strict=True):
            _settle_future(call.future, value, error)

    @staticmethod
    async def _alone(call: _Call) -> None:
        try:
            value, error = await call.alone(), None
        except Exception as exc:
            value, error = None, exc
        _settle_future(call.future, value, error)

    async def _in_one_transaction(
        self, calls: list[_Call]
    ) -> tuple[list[tuple[Any, BaseException | None]], list[Book]]:
        now = self.service.clock()
        async with self.service.db.write() as conn:
            books = await Book.open_many(conn, [c.customer for c in calls], now)
            for key in await due_customers(conn, list(books), now):
                await ops.settle(books[key])  # written at once, before the group's buffer
            buffer = WriteBuffer()
            for book in books.values():
                book.buffer = buffer
            group = await load_group(conn, calls)
            outcomes: list[tuple[Any, BaseException | None]] = []
            for call in calls:
                before = buffer.size()
                try:
                    outcomes.append((await call.run(books[call.customer], group), None))
                except DomainError as exc:
                    if buffer.size() != before:
                        raise  # refused half-way: never commit half a call
                    outcomes.append((None, exc))
            await buffer.write(conn)
            for book in books.values():
                book.buffer = None
            await flush_balances(conn, list(books.values()))
        return outcomes, list(books.values())


def _settle_future(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def due_customers(conn: AsyncConnection, keys: list[Key], now: datetime) -> set[Key]:
    """The customers among `keys` with something for settle() to do at `now`."""
    if not keys:
        return set()
    lots, holds = t.lots.c, t.holds.c
    q = union(
        select(lots.merchant_id, lots.customer_id).where(
            keys_in(conn, [lots.merchant_id, lots.customer_id], keys),
            or_((lots.status == LotStatus.PENDING.value) & (lots.available_at <= now),
                (lots.status == LotStatus.AVAILABLE.value) & (lots.expires_at <= now))),
        select(holds.merchant_id, holds.customer_id).where(
            keys_in(conn, [holds.merchant_id, holds.customer_id], keys),
            holds.status == HoldStatus.ACTIVE.value, holds.expires_at <= now),
    )
    return {(m, c) for m, c in (await conn.execute(q)).all()}


async def load_group(conn: AsyncConnection, calls: list[_Call]) -> Group:
    """The idempotency records and award rows the group's calls will ask about,
    read with one statement each."""
    group = Group()
    group.idempotency = await _rows_by_key(conn, t.idempotency, ("merchant_id", "scope", "key"),
                                           {c.idempotency for c in calls if c.idempotency})
    group.awards = await _rows_by_key(conn, t.awards, ("merchant_id", "kind", "source_id"),
                                      {c.award for c in calls if c.award})
    return group


async def _rows_by_key(
    conn: AsyncConnection, table: Any, columns: tuple[str, ...], keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], dict[str, Any] | None]:
    """key -> row, or None for a key with no row yet."""
    found: dict[tuple[str, str, str], dict[str, Any] | None] = dict.fromkeys(sorted(keys))
    if keys:
        cols = [table.c[name] for name in columns]
        for row in (await conn.execute(select(table).where(keys_in(conn, cols, sorted(keys))))).mappings():
            found[(row[columns[0]], row[columns[1]], row[columns[2]])] = dict(row)
    return found
