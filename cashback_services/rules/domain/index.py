"""An in-memory index of one merchant's active campaigns, so scoring an order
touches only the campaigns that can apply to it instead of all of them.

Dimensions: trigger, currency, channel, payment method (empty list = any),
and an inverted index SKU/category -> campaigns with an include list, plus the
campaigns that apply to every line. The window is checked per shortlisted
campaign (a comparison of two instants is cheaper than maintaining interval
structures that change as time passes)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from cashback_services.rules.domain.model import OrderIn, Rule, Trigger

_ANY = ""  # key for "no restriction" in the channel/payment maps
_EMPTY: frozenset[str] = frozenset()


@dataclass
class CampaignIndex:
    rules: list[Rule] = field(default_factory=list)
    by_id: dict[str, Rule] = field(default_factory=dict)
    _currency: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _channel: dict[object, set[str]] = field(default_factory=lambda: defaultdict(set))
    _payment: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _sku: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _category: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _all_lines: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, rules: list[Rule]) -> CampaignIndex:
        index = cls()
        # Oldest first: skipped lists and tie-breaks come out in a stable order.
        for rule in sorted(rules, key=lambda r: r.seq):
            index.rules.append(rule)
            index.by_id[rule.campaign_id] = rule
            if rule.trigger is not Trigger.ORDER:
                continue
            cid = rule.campaign_id
            index._currency[rule.currency].add(cid)
            for ch in rule.channels or (_ANY,):
                index._channel[ch].add(cid)
            for pm in rule.payment_methods or (_ANY,):
                index._payment[pm].add(cid)
            if not rule.has_line_filter:
                index._all_lines.add(cid)
            for sku in rule.include_skus:
                index._sku[sku].add(cid)
            for cat in rule.include_categories:
                index._category[cat].add(cid)
        return index

    def order_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.trigger is Trigger.ORDER]

    def event_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.trigger is Trigger.EVENT]

    @property
    def every_line(self) -> set[str]:
        """Order campaigns with no include list (they cover every line)."""
        return self._all_lines

    def line_matches(self, order: OrderIn, among: frozenset[str]) -> set[str]:
        """Campaigns in `among` whose include list names a SKU or category of
        the order: per line, the small posting lists, each intersected with
        `among` (Python iterates the smaller set), so the cost does not grow
        with the number of campaigns that match nothing here."""
        out: set[str] = set()
        for line in order.lines:
            out |= among & self._sku.get(line.sku, _EMPTY)
            for cat in line.category_ids:
                out |= among & self._category.get(cat, _EMPTY)
        return out

    def shortlist(self, order: OrderIn) -> set[str]:
        """Ids of the order campaigns that could pay on this order."""
        ids = set(self._currency.get(order.currency, ()))
        if not ids:
            return ids
        ids &= self._channel.get(_ANY, set()) | self._channel.get(order.channel, set())
        ids &= self._payment.get(_ANY, set()) | self._payment.get(order.payment_method.lower(), set())
        if not ids:
            return ids
        lines = set(self._all_lines)
        for line in order.lines:
            lines |= self._sku.get(line.sku, set())
            for cat in line.category_ids:
                lines |= self._category.get(cat, set())
        return ids & lines
