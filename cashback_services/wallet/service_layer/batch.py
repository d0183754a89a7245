"""Group commit: many writes, one database transaction.

One Python process doing one database transaction per call spends its time on
round trips and commits, not on the ledger. So concurrent writes (credits and
debits, holds, captures and voids, awards after rules has scored them) queue
here, and a writer takes everything queued -- up to `max_items` -- into one
transaction, TigerBeetle's "many transfers per request". It is the same
aggregate path as a single write, over several customers at once:

  BEGIN; one statement locks every customer of the group (in key order, so two
  groups never deadlock) and loads their aggregates with everything the
  group's calls asked for (Want.merge); each call runs in arrival order on its
  customer -- a call that is refused (a key reused for a different request, a
  bad expiry, a capture of a voided hold) is refused alone and changes nothing,
  and one refused for want of credit keeps only its idempotency record, as
  alone; one statement writes everything; COMMIT.

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
from cashback_services.wallet.adapters.repository import State, Want, locked
from cashback_services.wallet.metrics import group_committed

log = logging.getLogger("cashback.wallet.batch")


@dataclass
class Call:
    want: Want  # what this call needs loaded
    # Decides on the group's state: returns the answer, or raises DomainError to
    # refuse having changed nothing, or returns a DomainError to refuse keeping
    # what it recorded (the idempotency record of a refusal).
    run: Callable[[State], Any]
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
        outcomes: list[tuple[Any, BaseException | None]] = []
        async with locked(self.db, self.clock(), Want.merge([c.want for c in calls])) as state:
            for customer in state.customers.values():
                customer.release_due_holds()
            for call in calls:
                before = _changes(state)
                try:
                    value = call.run(state)
                    outcomes.append((None, value) if isinstance(value, DomainError) else (value, None))
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
