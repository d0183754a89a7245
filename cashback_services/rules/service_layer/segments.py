"""RFM segments: recomputing a merchant's scores, the segments' counts, a
customer's scores. Scores are computed in SQL (adapters/rfm_repo.py); this
decides when: a merchant whose import made them stale (once the import
pauses for `quiet`), and every merchant
once its scores are older than `refresh_every` (recency moves with the clock,
and scored orders count too)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cashback_kit.db import Database
from cashback_kit.money import Money
from cashback_services.rules.adapters import rfm_repo
from cashback_services.rules.domain.rfm import DEFAULT_WINDOW_DAYS, SEGMENTS, grid


@dataclass(frozen=True)
class SegmentLine:
    segment: str
    customers: int
    spend: Money | None  # None when no currency is known yet


@dataclass(frozen=True)
class SegmentsView:
    lines: list[SegmentLine]
    computed_at: datetime | None
    window_days: int
    currency: str


@dataclass(frozen=True)
class CustomerRfm:
    recency: int
    frequency: int
    monetary: int
    segment: str


class Segments:
    def __init__(self, db: Database, now: Callable[[], datetime], *, window_days: int = DEFAULT_WINDOW_DAYS,
                 refresh_every: timedelta = timedelta(hours=6), quiet: timedelta = timedelta(seconds=2)) -> None:
        self.db, self.now, self.window_days, self.refresh_every = db, now, window_days, refresh_every
        self.quiet = quiet  # after an import, before recomputing (the next call of a long import may follow)
        self._grid = grid()

    async def recompute(self, merchant_id: str) -> int | None:
        """Customers scored; None if another process is computing this merchant."""
        return await rfm_repo.recompute(self.db, merchant_id, self.now(), self.window_days, self._grid)

    async def refresh_due(self) -> int:
        """Recomputes the merchants that are due; how many were."""
        done = 0
        now = self.now()
        for merchant_id in await rfm_repo.due(self.db, now - self.refresh_every, now - self.quiet):
            if await self.recompute(merchant_id) is not None:
                done += 1
        return done

    async def list(self, merchant_id: str) -> SegmentsView:
        run, counts = await rfm_repo.summary(self.db, merchant_id)
        currency = run.currency if run is not None else ""
        lines = [SegmentLine(s, counts.get(s, (0, 0))[0],
                             Money(currency, counts.get(s, (0, 0))[1]) if currency else None) for s in SEGMENTS]
        return SegmentsView(lines, run.computed_at if run else None,
                            run.window_days if run else self.window_days, currency)

    async def of_customer(self, merchant_id: str, customer_id: str) -> CustomerRfm | None:
        row = await rfm_repo.customer_scores(self.db, merchant_id, customer_id)
        return CustomerRfm(int(row[0]), int(row[1]), int(row[2]), row[3]) if row is not None else None
