"""Customer tiers by spend in a window (rolling days or the calendar month),
and the proration of reversals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import jdatetime

from cashback_kit.money import Money, Rounding, div_round


class TierWindow(StrEnum):
    ROLLING_DAYS = "rolling_days"  # the `window_days` days before the order
    CALENDAR_MONTH = "calendar_month"  # since the 1st of the order's month, 00:00 in the policy's zone


class MonthCalendar(StrEnum):
    GREGORIAN = "gregorian"
    SOLAR_HIJRI = "solar_hijri"  # Iran's months: 1 Farvardin, 1 Ordibehesht, ...


def usual_calendar(timezone: str) -> MonthCalendar:
    """The months people count in that zone: Iran's are Solar Hijri."""
    return MonthCalendar.SOLAR_HIJRI if timezone in ("Asia/Tehran", "Iran") else MonthCalendar.GREGORIAN


# A spend window's key: a rolling window is keyed by its days (1 to 3650), the
# calendar month by 0, so the longest rolling window is max(keys) and a policy
# of calendar-month tiers only has max(keys) == MONTH.
MONTH = 0


@dataclass(frozen=True)
class TierDef:
    name: str
    min_spend: Money
    window_days: int  # 0 for a calendar-month tier
    window: TierWindow = TierWindow.ROLLING_DAYS

    @property
    def window_key(self) -> int:
        return MONTH if self.window is TierWindow.CALENDAR_MONTH else self.window_days


@dataclass(frozen=True)
class TierPolicy:
    tiers: tuple[TierDef, ...] = ()
    timezone: str = "UTC"  # where a calendar month starts
    calendar: MonthCalendar = MonthCalendar.GREGORIAN  # which months

    @property
    def currency(self) -> str | None:
        return self.tiers[0].min_spend.currency if self.tiers else None

    @property
    def windows(self) -> list[int]:
        """The window keys the tiers use, ascending (MONTH first)."""
        return sorted({t.window_key for t in self.tiers})

    @property
    def main_window(self) -> int:
        """The window a profile reports spend in: the longest rolling one, else the month."""
        return max(self.windows, default=MONTH)

    def window_start(self, key: int, at: datetime) -> datetime:
        """Where window `key` starts for an order placed at `at` (aware)."""
        if key != MONTH:
            return at - timedelta(days=key)
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone).date()
        first = local.replace(day=1)
        if self.calendar is MonthCalendar.SOLAR_HIJRI:
            first = jdatetime.date.fromgregorian(date=local).replace(day=1).togregorian()
        return datetime(first.year, first.month, first.day, tzinfo=zone)

    def since(self, at: datetime) -> list[datetime]:
        """The start of each window (in `windows` order) for an order placed at `at`."""
        return [self.window_start(k, at) for k in self.windows]


def effective_tier(manual: str, policy: TierPolicy, spend_by_window: dict[int, int]) -> str:
    """The manual tier wins; otherwise the highest tier whose spend threshold
    the customer reached within that tier's window (ties: the later listed)."""
    if manual:
        return manual
    best: TierDef | None = None
    for t in policy.tiers:
        if spend_by_window.get(t.window_key, 0) >= t.min_spend.minor:
            if best is None or t.min_spend.minor >= best.min_spend.minor:
                best = t
    return best.name if best else ""


def reversal_delta(award: int, already_reversed: int, merchandise: int, refunded_total: int) -> int:
    """How much more of an award to take back once `refunded_total` of the
    order's `merchandise` has been refunded (this refund included).

    Computed on the running total, rounded half-up, minus what earlier refunds
    took: the parts of several partial refunds always add up to the award when
    the order is refunded in full, with no cent lost or taken twice."""
    if merchandise <= 0:
        return 0
    target = award if refunded_total >= merchandise else div_round(award * refunded_total, merchandise,
                                                                    Rounding.HALF_UP)
    return max(0, min(target, award) - already_reversed)
