"""Why every other campaign did not pay, without judging 1,000 campaigns per call.

A score lists every active order campaign of the merchant that did not pay
(CONTRACT: `skipped`). The index shortlists the few campaigns that could pay
on an order; all the others fail on a condition of the order as a whole
(currency, window, channel, payment method, coupon, tier, prior orders) or
cover none of its lines. Those reasons depend only on a handful of the order's
and customer's attributes, so for one snapshot of the merchant's campaigns they
are worked out once per distinct combination -- the window as the interval
between campaign start/end instants the order falls in -- and kept as the
serialized `Skipped` entries, in campaign order, with their offsets.

Per call, the shortlisted campaigns are cut out of that byte string (a slice
per shortlisted campaign, not a step per campaign) and their own outcome is
spliced in, which gives exactly the bytes `score_to_pb` would have produced for
the full list: tests/rules/test_skips.py checks that on random catalogues."""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from cashback_services.rules.adapters.codec import skipped_entry
from cashback_services.rules.domain.evaluate import _no_lines, precheck
from cashback_services.rules.domain.model import OrderIn, Profile, Rule, SkipOut


@dataclass(frozen=True)
class _Entry:
    blob: bytes  # every campaign's skipped entry, in campaign order
    offsets: list[int]  # where each starts (and the end)
    live: frozenset[str]  # those passing precheck
    live_every_line: frozenset[str]  # ... that cover every line


@dataclass
class SkipList:
    """For one snapshot: the order campaigns in order, and the skipped entries of
    all of them per combination of the attributes precheck() reads."""

    rules: list[Rule]
    every_line: set[str]  # the campaigns with no include list (CampaignIndex.every_line)
    max_entries: int = 64
    position: dict[str, int] = field(init=False)
    _bounds: list[datetime] = field(init=False)
    _coupons: frozenset[str] = field(init=False)
    _cache: OrderedDict[tuple[object, ...], _Entry] = field(init=False)

    def __post_init__(self) -> None:
        self.position = {r.campaign_id: i for i, r in enumerate(self.rules)}
        self._bounds = sorted({t for r in self.rules for t in (r.starts_at, r.ends_at) if t is not None})
        self._coupons = frozenset(c for r in self.rules for c in r.coupon_codes)
        self._cache = OrderedDict()

    def _key(self, order: OrderIn, profile: Profile | None) -> tuple[object, ...]:
        coupons = frozenset(c.lower() for c in order.coupon_codes) & self._coupons
        # Within one interval between consecutive start/end instants, every
        # campaign's window says the same about the order.
        interval = bisect_right(self._bounds, order.placed_at)
        who = None if profile is None else (profile.tier, profile.prior_orders, profile.segment)
        return (order.currency, interval, order.channel, order.payment_method.lower(), coupons, who)

    def _all(self, order: OrderIn, profile: Profile | None) -> _Entry:
        key = self._key(order, profile)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        offsets = [0]
        parts = []
        live = set()
        for rule in self.rules:
            skip = precheck(rule, order, profile)
            if skip is None:
                live.add(rule.campaign_id)
            entry = skipped_entry(skip or _no_lines(rule))
            parts.append(entry)
            offsets.append(offsets[-1] + len(entry))
        hit = _Entry(b"".join(parts), offsets, frozenset(live), frozenset(live & self.every_line))
        self._cache[key] = hit
        if len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return hit

    def live(self, order: OrderIn, profile: Profile | None) -> tuple[frozenset[str], frozenset[str]]:
        """The campaigns that pass precheck() for this order and customer (any
        customer, with no profile) -- the only ones worth judging line by line
        (for the others the cached entry already says why) -- and those of them
        that cover every line."""
        entry = self._all(order, profile)
        return entry.live, entry.live_every_line

    def serialized(self, order: OrderIn, profile: Profile, judged: dict[str, SkipOut | None]) -> bytes:
        """The `skipped` entries for every order campaign, in campaign order:
        those in `judged` by their own outcome -- a SkipOut, or None when the
        campaign is a candidate -- the rest from the cache."""
        entry = self._all(order, profile)
        blob, offsets = entry.blob, entry.offsets
        out: list[bytes] = []
        start = 0
        for pos in sorted(self.position[cid] for cid in judged):
            out.append(blob[offsets[start]:offsets[pos]])
            own = judged[self.rules[pos].campaign_id]
            if own is not None:
                out.append(skipped_entry(own))
            start = pos + 1
        out.append(blob[offsets[start]:])
        return b"".join(out)
