"""ListCustomers: the merchant's customers for a promotion's audience, by RFM
segment, tier and inactivity. One statement per page (adapters/customer_list_repo.py);
the tier is decided here by the domain's `effective_tier` from the spends that
statement summed, so tiers are computed in one place for scoring and listing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cashback_kit import paging
from cashback_kit.db import Database
from cashback_kit.errors import Violations
from cashback_kit.validation import check_text
from cashback_services.rules.adapters import campaign_repo, customer_list_repo
from cashback_services.rules.domain.rfm import SEGMENTS
from cashback_services.rules.domain.tiers import effective_tier
from cashback_services.rules.service_layer.cache import policy_from_json

MAX_FILTER_VALUES = 100
MAX_INACTIVE_DAYS = 36_500


@dataclass(frozen=True)
class CustomerSummary:
    customer_id: str
    segment: str
    tier: str
    last_order_at: datetime | None
    order_count: int


@dataclass(frozen=True)
class AudienceFilter:
    segments: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    inactive_days: int = 0


def check_filter(f: AudienceFilter) -> None:
    v = Violations()
    v.check(len(f.segments) <= MAX_FILTER_VALUES, "segments", f"at most {MAX_FILTER_VALUES} segments")
    for i, s in enumerate(f.segments):
        v.check(s in SEGMENTS, f"segments[{i}]", f"unknown segment {s[:64]!r}; one of {', '.join(SEGMENTS)}")
    v.check(len(f.tiers) <= MAX_FILTER_VALUES, "tiers", f"at most {MAX_FILTER_VALUES} tiers")
    for i, tier in enumerate(f.tiers):
        v.check(bool(tier.strip()), f"tiers[{i}]", "a tier name, not empty")
        check_text(v, f"tiers[{i}]", tier, max_chars=128)
    v.check(0 <= f.inactive_days <= MAX_INACTIVE_DAYS, "inactive_days", f"0 (any) to {MAX_INACTIVE_DAYS} days")
    v.raise_if_any("invalid customer filter")


def _after(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError("bad position")
    return raw


class Audience:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db, self.now = db, now

    async def list(
        self, merchant_id: str, f: AudienceFilter, page_size: int, token: str
    ) -> tuple[list[CustomerSummary], str]:
        """A page of customers matching `f`, and the token of the next (empty at the end).
        The statement reads `page_size` customers by segment and inactivity; those of
        another tier are dropped after it, so a page may be short while more follow."""
        check_filter(f)
        size = paging.page_size(page_size)
        query = paging.scope("ListCustomers", merchant_id, sorted(f.segments), sorted(f.tiers), f.inactive_days)
        after = paging.read(token, query, _after) or ""
        now = self.now()
        async with self.db.read() as conn:
            policy = policy_from_json(await campaign_repo.tier_policy_json(conn, merchant_id))
        windows = policy.windows if policy.currency else []
        lines = await customer_list_repo.page(
            self.db,
            merchant_id,
            after,
            size + 1,
            segments=list(f.segments),
            idle_since=now - timedelta(days=f.inactive_days) if f.inactive_days else None,
            since=policy.since(now) if policy.currency else [],
            currency=policy.currency or "",
            now=now,
        )
        more = len(lines) > size
        lines = lines[:size]
        out = []
        for line in lines:
            tier = effective_tier(line.manual_tier, policy, dict(zip(windows, line.spends, strict=True)))
            if f.tiers and tier not in f.tiers:
                continue
            out.append(CustomerSummary(line.customer_id, line.segment, tier, line.last_order_at, line.order_count))
        return out, paging.issue(query, lines[-1].customer_id) if more else ""
