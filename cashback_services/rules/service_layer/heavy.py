"""Heavy per-merchant work (SimulateCampaign, the campaign report) kept off the
hot path (issue 15, point 2): at most `per_merchant` running at once for one
merchant and `total` in the process (RESOURCE_EXHAUSTED past either, at once:
nothing queues behind a merchant's own simulations), and the CPU part run in a
worker thread, so the event loop keeps answering QuoteOrder/ScoreOrder of every
merchant while it runs. The thread's share of the GIL is what it costs them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from cashback_kit.errors import ResourceExhausted

T = TypeVar("T")
# How many orders the replay takes between looks at the clock.
CHECK_EVERY = 256


class HeavyWork:
    def __init__(self, per_merchant: int, total: int, seconds: float) -> None:
        self.per_merchant, self.total, self.seconds = per_merchant, total, seconds
        self._running: Counter[str] = Counter()

    @asynccontextmanager
    async def slot(self, merchant_id: str, what: str) -> AsyncIterator[None]:
        """A place for one heavy call of `merchant_id`, or RESOURCE_EXHAUSTED."""
        if self._running[merchant_id] >= self.per_merchant:
            raise ResourceExhausted(f"{what}: this merchant already runs {self.per_merchant} at once; retry when "
                                    "it is done", reason="HEAVY_WORK_BUSY")
        if sum(self._running.values()) >= self.total:
            raise ResourceExhausted(f"{what}: the service runs {self.total} at once; retry shortly",
                                    reason="HEAVY_WORK_BUSY")
        self._running[merchant_id] += 1
        try:
            yield
        finally:
            self._running[merchant_id] -= 1
            if not self._running[merchant_id]:
                del self._running[merchant_id]

    async def off_loop(self, fn: Callable[..., T], *args: object) -> T:
        """fn(*args, deadline) in a worker thread; fn checks the deadline (a
        time.monotonic() value) itself, since a thread cannot be stopped from outside."""
        return await asyncio.to_thread(fn, *args, time.monotonic() + self.seconds)


def past(deadline: float, what: str) -> None:
    """Raise when a replay in a worker thread has run past its time budget."""
    if time.monotonic() > deadline:
        raise ResourceExhausted(f"{what} ran past its time budget; ask for a shorter window",
                                reason="HEAVY_WORK_TIME_BUDGET")
