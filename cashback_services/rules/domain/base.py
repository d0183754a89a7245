"""The cashback base of an order: net merchandise per line.

Each line earns on unit_price × quantity − line_discount, less its share of the
order discount and of what was paid with wallet credit (no cashback on
cashback). Shipping and tax earn nothing. The two deductions are prorated
together with Money.allocate, which splits exactly (the shares sum to the
deduction) and, because the deduction is capped at the merchandise total, never
pushes a line below zero: a discount that also covered shipping cannot make the
base negative."""

from __future__ import annotations

from cashback_kit.money import Money
from cashback_services.rules.domain.model import Line, OrderIn


def merchandise(order: OrderIn) -> Money:
    """Σ line nets less the order discount: what the goods cost the customer
    (the amount refunds are measured against and spend/GMV count)."""
    total = Money.zero(order.currency)
    for line in order.lines:
        total = total + line.net
    return (total - order.order_discount).max(Money.zero(order.currency))


def line_bases(order: OrderIn) -> list[Money]:
    nets = [line.net for line in order.lines]
    total = sum((n.minor for n in nets), 0)
    deduction = min(order.order_discount.minor + order.wallet_paid.minor, total)
    if total <= 0 or deduction <= 0:
        return nets
    shares = Money(order.currency, deduction).allocate([n.minor for n in nets])
    return [n - s for n, s in zip(nets, shares, strict=True)]


def line_is_eligible(line: Line, include_skus: frozenset[str], include_categories: frozenset[str],
                     exclude_skus: frozenset[str], exclude_categories: frozenset[str]) -> bool:
    if include_skus or include_categories:
        if line.sku not in include_skus and not include_categories.intersection(line.category_ids):
            return False
    return line.sku not in exclude_skus and not exclude_categories.intersection(line.category_ids)
