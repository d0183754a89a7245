"""Properties of scoring that must hold for any order and any campaign."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from cashback_kit.money import Money
from cashback_services.rules.domain.evaluate import qualify, settle
from cashback_services.rules.domain.model import Profile, Usage
from tests.rules.domain_builders import dline, dorder, rule, sar

SKUS = ["a", "b", "c", "d"]
CATS = ["x", "y", "z"]
amounts = st.integers(min_value=0, max_value=5_000_000)
opt_money = st.none() | st.integers(min_value=1, max_value=2_000_000).map(sar)
lines = st.lists(
    st.builds(lambda sku, price, qty, cats: dline(sku, price, qty, tuple(cats)),
              st.sampled_from(SKUS), st.integers(0, 1_000_000), st.integers(1, 5),
              st.lists(st.sampled_from(CATS), max_size=2, unique=True)),
    min_size=1, max_size=6)
bps = st.integers(min_value=0, max_value=10_000)


def score(order, rules, profile=Profile(), usage=None):  # type: ignore[no-untyped-def]
    candidates, _ = qualify(order, rules, profile)
    return settle(candidates, usage or {}, order.placed_at, "SAR")


@settings(max_examples=300, deadline=None)
@given(lines=lines, rate=bps, sku_rate=bps, fixed=st.booleans(), max_per_order=opt_money,
       max_per_customer=opt_money, budget=opt_money, customer_amount=amounts, budget_used=amounts,
       discount=st.integers(0, 200_000), wallet=st.integers(0, 200_000))
def test_an_award_never_exceeds_its_caps_or_the_budget(lines, rate, sku_rate, fixed, max_per_order,
                                                       max_per_customer, budget, customer_amount, budget_used,
                                                       discount, wallet) -> None:
    r = rule(percent_bps=None if fixed else rate, fixed=sar(1234) if fixed else None, sku_bps={"a": sku_rate},
             max_per_order=max_per_order, max_per_customer=max_per_customer, budget=budget)
    usage = {"c": Usage(budget_used=budget_used, customer_amount=customer_amount)}
    out = score(dorder(*lines, discount=discount, wallet=wallet), [r], usage=usage)
    for award in out.awards:
        assert award.amount.minor > 0
        if max_per_order is not None:
            assert award.amount <= max_per_order
        if max_per_customer is not None:
            assert award.amount.minor <= max_per_customer.minor - customer_amount
        if budget is not None:
            assert award.amount.minor <= budget.minor - budget_used


@settings(max_examples=300, deadline=None)
@given(lines=lines, rate=bps, price=st.integers(0, 1_000_000), qty=st.integers(1, 5),
       by_category=st.booleans(), max_per_order=opt_money)
def test_adding_an_excluded_line_never_changes_the_award(lines, rate, price, qty, by_category, max_per_order) -> None:
    # Holds as stated when nothing is prorated over lines: an order discount or
    # wallet payment spread over more lines, or a whole-order minimum, depends
    # on every line by definition (docs/api-intro.md, scoring semantics).
    r = rule(percent_bps=rate, exclude_skus=frozenset({"excluded"}), exclude_categories=frozenset({"no"}),
             max_per_order=max_per_order)
    extra = dline("other", price, qty, ("no",)) if by_category else dline("excluded", price, qty)
    before = score(dorder(*lines), [r])
    after = score(dorder(*lines, extra), [r])
    assert after.total == before.total


@settings(max_examples=300, deadline=None)
@given(lines=lines, rate=bps, cat_rate=bps, sku_rate=bps)
def test_rounding_happens_once_per_campaign_half_up(lines, rate, cat_rate, sku_rate) -> None:
    r = rule(percent_bps=rate, category_bps={"x": cat_rate}, sku_bps={"b": sku_rate})
    order = dorder(*lines)
    exact = Fraction(0)
    for ln in order.lines:
        line_rate = sku_rate if ln.sku == "b" else cat_rate if "x" in ln.category_ids else rate
        exact += Fraction(ln.net.minor * line_rate, 10_000)
    expected = int(exact + Fraction(1, 2))  # half-up of a non-negative amount, once
    out = score(order, [r])
    assert out.total == Money("SAR", expected)
