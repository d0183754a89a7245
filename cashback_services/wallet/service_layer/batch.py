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
themselves, and a lone call waits for nobody. The queue, its writer and the
run-alone fallback are cashback_kit.group_commit's, which rules' event groups
share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cashback_kit.db import Database
from cashback_kit.errors import DomainError
from cashback_kit.group_commit import GroupCommit, answer
from cashback_services.wallet.adapters.repository import State, Want, locked
from cashback_services.wallet.metrics import group_committed


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


class Batcher(GroupCommit[Call]):
    name = "write group"

    def __init__(self, db: Database, clock: Callable[[], datetime], committed: Callable[[State], None],
                 max_items: int = 256, writers: int = 1) -> None:
        super().__init__(max_items, writers)
        self.db = db
        self.clock = clock
        self.committed = committed

    def grouped(self, calls: int, alone: bool) -> None:
        group_committed(calls, alone=alone)

    async def commit(self, calls: list[Call]) -> None:
        outcomes = await self._in_one_transaction(calls)
        for call, (value, error) in zip(calls, outcomes, strict=True):
            answer(call, value, error)

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
