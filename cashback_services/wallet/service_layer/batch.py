"""Group commit for credit writes: many calls, one database transaction.

One Python process doing one database transaction per call spends its time on
round trips and commits, not on the ledger. So concurrent credit writes
(AdjustBalance credits, AwardOrder and AwardEvent after rules has scored them)
queue here, and a writer takes everything queued -- up to `max_items` -- into
one transaction, TigerBeetle's "many transfers per request". It is the same
aggregate path as a single write, over several customers at once:

  BEGIN; one statement locks every customer of the group (in key order, so two
  groups never deadlock) and loads their aggregates with the group's
  idempotency records and award rows; each call runs in arrival order on its
  customer -- a call that is refused (a key reused for a different request, a
  bad expiry) is refused alone and changes nothing; one statement writes
  everything; COMMIT.

Each call keeps its single-call semantics: its own idempotency key (a key
used twice in one group is answered from the first use), its own outcome, its
own events. Nothing is acknowledged before the group commits. If the group's
transaction fails as a whole (a unique key taken by another process at the same
moment, a lost connection), every call in it runs alone, in a group of one,
which gives each the answer it would have had -- idempotency makes running them
again safe even if the commit's outcome was unknown.

While one group commits, the next one fills: under load groups grow by
themselves, and a lone call waits for nobody."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cashback_kit.db import Database
from cashback_kit.errors import DomainError
from cashback_services.wallet.adapters.repository import AwardKey, IdemKey, Key, State, Want, locked
from cashback_services.wallet.metrics import group_committed

log = logging.getLogger("cashback.wallet.batch")


@dataclass
class Call:
    customer: Key
    run: Callable[[State], Any]  # decides on the group's state; raises DomainError to refuse
    idem: IdemKey | None = None
    award: AwardKey | None = None
    future: asyncio.Future[Any] | None = field(default=None, compare=False)


def _changes(state: State) -> int:
    return (sum(c.changes() for c in state.customers.values()) + len(state.new_outcomes) + len(state.new_awards)
            + len(state.changed_awards) + len(state.new_refunds))


class Batcher:
    def __init__(self, db: Database, clock: Callable[[], datetime], committed: Callable[[State], None],
                 max_items: int = 256, writers: int = 1) -> None:
        # One writer measured best: while it commits, the next group fills, and groups stay large.
        self.db = db
        self.clock = clock
        self.committed = committed
        self.max_items = max_items
        self.writers = writers
        self._queue: deque[Call] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, call: Call) -> Any:
        call.future = asyncio.get_running_loop().create_future()
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

    async def _run(self, calls: list[Call]) -> None:
        try:
            outcomes = await self._in_one_transaction(calls)
        except asyncio.CancelledError:
            for call in calls:
                _settle(call, None, ConnectionAbortedError("the wallet is shutting down"))
            raise
        except Exception as exc:  # the group as a whole: every call runs alone instead
            if len(calls) == 1:
                _settle(calls[0], None, exc)
                return
            log.warning("write group failed; its calls run alone",
                        extra={"calls": len(calls), "error": type(exc).__name__})
            group_committed(len(calls), alone=True)
            await asyncio.gather(*(self._run([call]) for call in calls))
            return
        group_committed(len(calls))
        for call, (value, error) in zip(calls, outcomes, strict=True):
            _settle(call, value, error)

    async def _in_one_transaction(self, calls: list[Call]) -> list[tuple[Any, BaseException | None]]:
        want = Want(customers=tuple(sorted({c.customer for c in calls})),
                    idem=tuple(sorted({c.idem for c in calls if c.idem})),
                    awards=tuple(sorted({c.award for c in calls if c.award})))
        outcomes: list[tuple[Any, BaseException | None]] = []
        async with locked(self.db, self.clock(), want) as state:
            for customer in state.customers.values():
                customer.release_due_holds()
            for call in calls:
                before = _changes(state)
                try:
                    outcomes.append((call.run(state), None))
                except DomainError as exc:
                    if _changes(state) != before:
                        raise  # refused half-way: never commit half a call
                    outcomes.append((None, exc))
        self.committed(state)
        return outcomes


def _settle(call: Call, value: Any, error: BaseException | None) -> None:
    future = call.future
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
