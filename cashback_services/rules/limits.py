"""The rules service's own bounds (issue 15, points 2 and 3), read once at start-up.

RULES_MAX_BACKDATE_SECONDS (86400): how far before the server's clock an order's
placed_at or an event's occurred_at may be; older history is not scored live (it
belongs to the import path of issue 16). RULES_MAX_FUTURE_SECONDS (300): how far
after. RULES_SIMULATION_MAX_ORDERS (20000): the most recorded orders one
SimulateCampaign (or campaign report) reads; a wider window is refused, not cut.
RULES_SIMULATION_SECONDS (10): the wall-clock budget of one simulation's replay.
RULES_SIMULATIONS_PER_MERCHANT (1) and RULES_SIMULATIONS (2): simulations running at
once per merchant and in the process; past them the call is RESOURCE_EXHAUSTED.

RFM segments (docs/segments.md): RULES_RFM_WINDOW_DAYS (365, at most 3650): the
customers scored are those with an order in this many days; RULES_RFM_REFRESH_SECONDS
(21600): a merchant's scores older than this are recomputed (recency moves with the
clock), besides the recomputation a few seconds after an import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

_NO_MOST = 10**12
# variable: (field, default, least, most)
_VARS = {
    "RULES_MAX_BACKDATE_SECONDS": ("max_backdate", 86_400, 0, _NO_MOST),
    "RULES_MAX_FUTURE_SECONDS": ("max_future", 300, 0, _NO_MOST),
    "RULES_SIMULATION_MAX_ORDERS": ("simulation_max_orders", 20_000, 1, _NO_MOST),
    "RULES_SIMULATION_SECONDS": ("simulation_seconds", 10, 1, _NO_MOST),
    "RULES_SIMULATIONS_PER_MERCHANT": ("simulations_per_merchant", 1, 1, _NO_MOST),
    "RULES_SIMULATIONS": ("simulations", 2, 1, _NO_MOST),
    "RULES_RFM_WINDOW_DAYS": ("rfm_window_days", 365, 1, 3650),
    "RULES_RFM_REFRESH_SECONDS": ("rfm_refresh", 21_600, 60, _NO_MOST),
}
_DURATIONS = {"max_backdate", "max_future", "rfm_refresh"}


@dataclass(frozen=True)
class RulesLimits:
    max_backdate: timedelta = timedelta(hours=24)
    max_future: timedelta = timedelta(minutes=5)
    simulation_max_orders: int = 20_000
    simulation_seconds: float = 10.0
    simulations_per_merchant: int = 1
    simulations: int = 2
    rfm_window_days: int = 365
    rfm_refresh: timedelta = timedelta(hours=6)

    @classmethod
    def from_env(cls, e: Mapping[str, str]) -> RulesLimits:
        """The limits from the environment; a bad value stops the start naming its variable."""
        values: dict[str, object] = {}
        for var, (name, default, least, most) in _VARS.items():
            raw = e.get(var, "") or str(default)
            try:
                n = int(raw)
            except ValueError:
                raise ValueError(f"{var} must be a whole number, not {raw[:20]!r}") from None
            if n < least:
                raise ValueError(f"{var} must be at least {least}")
            if n > most:
                raise ValueError(f"{var} must be at most {most}")
            values[name] = timedelta(seconds=n) if name in _DURATIONS else n
        values["simulation_seconds"] = float(values["simulation_seconds"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
