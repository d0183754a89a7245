"""Cron as cron means it. In a standard 5-field cron expression day-of-week 0
and 7 are Sunday and 6 is Saturday; APScheduler 3.11's CronTrigger numbers days
from Monday = 0 ("day_of_week: number or name of weekday (0-6 or
mon,tue,wed,thu,fri,sat,sun)", and CronTrigger.from_crontab's docstring warns of
the mismatch, kept in 3.x for compatibility, fixed in 4.x), so "0 10 * * 6"
handed to it as is runs on Sundays. `apscheduler_fields` rewrites the
day-of-week field with day names, which both agree on.

One difference stays: when both day-of-month and day-of-week are restricted,
cron runs on either, APScheduler only on days matching both."""

from __future__ import annotations

NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_BY_NAME = {n: i for i, n in enumerate(NAMES)}


class CronError(ValueError):
    pass


def _day(token: str) -> int:
    t = token.strip().lower()
    if t in _BY_NAME:
        return _BY_NAME[t]
    if not t.isdigit() or not 0 <= int(t) <= 7:
        raise CronError(f"day of week {token!r} is not 0-7 or sun-sat")
    return int(t) % 7


def cron_days(field: str) -> list[int]:
    """The days (0 = Sunday … 6 = Saturday) a cron day-of-week field selects."""
    days: set[int] = set()
    for item in field.split(","):
        rng, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"step {step_text!r} must be a positive whole number")
            step = int(step_text)
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _day(a), _day(b)
            if b.strip() == "7":
                hi = 7
            if hi < lo:
                raise CronError(f"range {rng!r} runs backwards")
        else:
            lo = hi = _day(rng)
            if step_text:
                hi = 6
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return sorted(days)


def apscheduler_fields(cron: str) -> dict[str, str]:
    """CronTrigger keyword arguments meaning what the 5-field cron expression means."""
    fields = cron.split()
    if len(fields) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    minute, hour, day, month, dow = fields
    out = {"minute": minute, "hour": hour, "day": day, "month": month}
    if dow != "*":
        out["day_of_week"] = ",".join(NAMES[d] for d in cron_days(dow))
    return out
