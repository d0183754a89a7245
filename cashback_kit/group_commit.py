"""Group commit: many calls, one database transaction (the wallet's writes, rules' events).

One Python process doing one transaction per call spends its time on round trips
and commits. So concurrent calls queue here, and a writer takes what is queued --
a group, chosen by `take` -- into one transaction (`commit`, the subclass's), as
TigerBeetle batches transfers. While one group commits the next one fills: under
load groups grow by themselves, and a lone call waits for nobody (no timer).

Each call keeps its single-call semantics: its own answer, set by `commit`; nothing
is answered before the group commits. If the group's transaction fails as a whole
(a key taken by another process at the same moment, a deadlock, a lost connection),
every call in it runs alone, in a group of one, which gives each the answer it would
have had: idempotency makes running them again safe even if the commit's outcome
was unknown. A caller that gives up does not cancel the group."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger("cashback.group_commit")


class Queued(Protocol):
    future: asyncio.Future[Any] | None


C = TypeVar("C", bound=Queued)


class GroupCommit(Generic[C]):
    """The queue and its writers. A subclass says what one group's transaction does
    (`commit`, which answers each call with `answer`), and may choose the groups
    (`take`), count them (`grouped`) and run a failed group's calls one after the
    other instead of at once (`alone_at_once`)."""

    name = "group"  # in the log line of a failed group and the shutdown error
    alone_at_once = True

    def __init__(self, max_items: int = 256, writers: int = 1) -> None:
        self.max_items = max_items
        self.writers = writers  # one measured best: while it commits, the next group fills
        self._queue: deque[C] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, call: C) -> Any:
        call.future = asyncio.get_running_loop().create_future()
        self._queue.append(call)
        if len(self._tasks) < self.writers:  # writers run while there is work, and no longer
            self._tasks.add(asyncio.create_task(self._writer()))
        return await asyncio.shield(call.future)

    def take(self, queue: deque[C]) -> list[C]:
        """The next group: up to max_items calls in arrival order."""
        return [queue.popleft() for _ in range(min(self.max_items, len(queue)))]

    async def commit(self, calls: list[C]) -> None:
        """One transaction for the group; answers every call, or raises to fail the group."""
        raise NotImplementedError

    def grouped(self, calls: int, alone: bool) -> None:
        """A group committed (alone=False) or failed and ran its calls alone."""

    async def _writer(self) -> None:
        me = asyncio.current_task()
        try:
            while self._queue:
                await self.run(self.take(self._queue))
        finally:
            # Leave the set in the same step that saw the queue empty, so a call
            # queued from now on starts a writer of its own.
            self._tasks.discard(me)  # type: ignore[arg-type]

    async def run(self, calls: list[C]) -> None:
        try:
            await self.commit(calls)
        except asyncio.CancelledError:
            for call in calls:
                answer(call, None, ConnectionAbortedError(f"the {self.name} writer is shutting down"))
            raise
        except Exception as exc:  # the group as a whole: every call runs alone instead
            if len(calls) == 1:
                answer(calls[0], None, exc)
                return
            log.warning("%s failed; its calls run alone", self.name,
                        extra={"calls": len(calls), "error": type(exc).__name__})
            self.grouped(len(calls), alone=True)
            if self.alone_at_once:
                await asyncio.gather(*(self.run([call]) for call in calls))
            else:
                for call in calls:
                    await self.run([call])
            return
        self.grouped(len(calls), alone=False)


def answer(call: Queued, value: Any, error: BaseException | None) -> None:
    """Settle a call's future once (a later answer to the same call is ignored)."""
    future = call.future
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
