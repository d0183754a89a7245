"""Customer tiers by rolling spend, and the proration of reversals."""

from __future__ import annotations

from dataclasses import dataclass

from cashback_kit.money import Money, Rounding, div_round


@dataclass(frozen=True)
class TierDef:
    name: str
    min_spend: Money
    window_days: int


@dataclass(frozen=True)
class TierPolicy:
    tiers: tuple[TierDef, ...] = ()

    @property
    def currency(self) -> str | None:
        return self.tiers[0].min_spend.currency if self.tiers else None

    @property
    def windows(self) -> list[int]:
        return sorted({t.window_days for t in self.tiers})


def effective_tier(manual: str, policy: TierPolicy, spend_by_window: dict[int, int]) -> str:
    """The manual tier wins; otherwise the highest tier whose spend threshold
    the customer reached within that tier's window (ties: the later listed)."""
    if manual:
        return manual
    best: TierDef | None = None
    for t in policy.tiers:
        if spend_by_window.get(t.window_days, 0) >= t.min_spend.minor:
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
