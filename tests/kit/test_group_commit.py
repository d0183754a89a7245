"""cashback_kit.group_commit on its own: groups form while one commits, a failed group's calls run
alone, each call gets its own answer. (The wallet's writes and rules' events run on it against
PostgreSQL in tests/wallet and tests/rules.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from cashback_kit.group_commit import GroupCommit, answer


@dataclass
class Item:
    value: int
    future: asyncio.Future[Any] | None = None


class Doubler(GroupCommit[Item]):
    """Answers each call with twice its value; a group holding a 13 fails as a whole, and 13 alone fails."""

    def __init__(self) -> None:
        super().__init__(max_items=4)
        self.groups: list[list[int]] = []
        self.counted: list[tuple[int, bool]] = []

    async def commit(self, calls: list[Item]) -> None:
        self.groups.append([c.value for c in calls])
        await asyncio.sleep(0.01)  # the transaction: meanwhile the next group fills
        if any(c.value == 13 for c in calls):
            raise RuntimeError("unlucky group")
        for c in calls:
            answer(c, c.value * 2, None)

    def grouped(self, calls: int, alone: bool) -> None:
        self.counted.append((calls, alone))


async def test_calls_queued_while_a_group_commits_form_the_next_groups_of_at_most_max_items() -> None:
    q = Doubler()
    results = await asyncio.gather(*(q.submit(Item(i)) for i in range(9)))
    assert results == [2 * i for i in range(9)]
    assert q.groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert q.counted == [(4, False), (4, False), (1, False)]


async def test_a_failed_group_runs_its_calls_alone_and_only_the_bad_one_fails() -> None:
    q = Doubler()
    results = await asyncio.gather(*(q.submit(Item(i)) for i in (1, 13, 2)), return_exceptions=True)
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], RuntimeError)
    assert q.groups[0] == [1, 13, 2] and sorted(q.groups[1:]) == [[1], [2], [13]]
    assert (3, True) in q.counted


async def test_a_caller_that_gives_up_does_not_cancel_the_group() -> None:
    q = Doubler()
    first = asyncio.ensure_future(q.submit(Item(5)))
    second = asyncio.ensure_future(q.submit(Item(6)))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == 12
    assert q.groups == [[5, 6]]
    with pytest.raises(asyncio.CancelledError):
        await first
