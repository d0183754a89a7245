"""The scoring rules on plain domain values: base, rates, limits, stacking."""

from __future__ import annotations

from datetime import timedelta

from cashback_services.rules.domain.base import line_bases
from cashback_services.rules.domain.evaluate import local_day, qualify, settle
from cashback_services.rules.domain.index import CampaignIndex
from cashback_services.rules.domain.model import Profile, SkipCode, Usage
from cashback_services.rules.domain.tiers import TierDef, TierPolicy, effective_tier, reversal_delta
from tests.rules.domain_builders import T0, dline, dorder, rule, sar


def score(order, rules, profile=Profile(), usage=None):  # type: ignore[no-untyped-def]
    candidates, skipped = qualify(order, rules, profile)
    out = settle(candidates, usage or {}, order.placed_at, order.currency)
    out.skipped[:0] = skipped
    return out


def test_order_discount_and_wallet_paid_are_prorated_over_lines_and_shipping_earns_nothing() -> None:
    order = dorder(dline("a", 30000), dline("b", 10000), discount=2000, wallet=2000)
    assert [b.minor for b in line_bases(order)] == [27000, 9000]
    assert score(order, [rule(percent_bps=1000)]).total.minor == 3600


def test_a_discount_larger_than_the_goods_leaves_a_zero_base_not_a_negative_one() -> None:
    order = dorder(dline("a", 1000), discount=5000)
    assert [b.minor for b in line_bases(order)] == [0]
    out = score(order, [rule()])
    assert out.total.minor == 0 and out.skipped[0].code is SkipCode.ZERO_AMOUNT


def test_min_order_compares_the_whole_order_before_exclusions() -> None:
    r = rule(min_order=sar(10000), exclude_skus=frozenset({"b"}))
    assert score(dorder(dline("a", 4000), dline("b", 6000)), [r]).total.minor == 400


def test_the_most_specific_rate_wins_sku_then_category_then_tier_then_percent() -> None:
    r = rule(percent_bps=100, tier_bps={"gold": 200}, category_bps={"tv": 300}, sku_bps={"oled": 400})
    order = dorder(dline("oled", 10000, categories=("tv",)), dline("lcd", 10000, categories=("tv",)),
                   dline("mug", 10000), dline("pen", 10000))
    assert score(order, [r], Profile(tier="gold")).total.minor == 400 + 300 + 200 + 200
    assert score(order, [r], Profile(tier="")).total.minor == 400 + 300 + 100 + 100


def test_rounding_happens_once_on_the_sum_half_up() -> None:
    # Three lines of 0.05 at 10% are 0.005 each: rounded per line that would be 3 x 0.01.
    order = dorder(dline("a", 5), dline("b", 5), dline("c", 5))
    assert score(order, [rule(percent_bps=1000)]).total.minor == 2  # 0.015 -> 0.02
    assert score(dorder(dline("a", 5)), [rule(percent_bps=1000)]).total.minor == 1  # 0.005 -> 0.01 (half up)


def test_limits_apply_in_order_per_order_cap_then_customer_then_budget_with_partial_awards() -> None:
    r = rule(percent_bps=1000, max_per_order=sar(800), max_per_customer=sar(1000), budget=sar(5000))
    order = dorder(dline("a", 10000))
    assert score(order, [r]).total.minor == 800
    assert score(order, [r], usage={"c": Usage(customer_amount=500)}).total.minor == 500
    assert score(order, [r], usage={"c": Usage(budget_used=4700)}).total.minor == 300
    spent = score(order, [r], usage={"c": Usage(budget_used=5000)})
    assert spent.total.minor == 0 and spent.skipped[0].code is SkipCode.BUDGET_SPENT


def test_award_counts_per_customer_and_per_local_day() -> None:
    r = rule(max_awards_per_customer=2, max_awards_per_day=1)
    order = dorder(dline("a", 10000))
    assert score(order, [r], usage={"c": Usage(customer_count=2)}).skipped[0].code is SkipCode.CUSTOMER_LIMIT
    assert score(order, [r], usage={"c": Usage(customer_day_count=1)}).skipped[0].code is SkipCode.CUSTOMER_LIMIT
    assert score(order, [r], usage={"c": Usage(customer_count=1)}).total.minor == 1000


def test_per_day_counts_use_the_campaign_time_zone() -> None:
    r = rule(timezone="Asia/Riyadh")  # UTC+3: 22:00 UTC is already the next day there
    assert local_day(r, T0.replace(hour=22)) == "2026-03-02"
    assert local_day(rule(), T0.replace(hour=22)) == "2026-03-01"


def test_the_window_includes_its_start_and_excludes_its_end() -> None:
    r = rule(starts_at=T0, ends_at=T0 + timedelta(days=1))
    assert score(dorder(dline("a", 1000), placed_at=T0), [r]).total.minor == 100
    late = score(dorder(dline("a", 1000), placed_at=T0 + timedelta(days=1)), [r])
    assert late.total.minor == 0 and late.skipped[0].code is SkipCode.OUTSIDE_WINDOW


def test_channel_payment_coupon_tier_and_prior_orders_each_say_why_they_skipped() -> None:
    order = dorder(dline("a", 1000), channel=1, payment="card", coupons=("SPRING",))
    cases = [
        (rule(channels=frozenset({2})), SkipCode.CHANNEL),
        (rule(payment_methods=frozenset({"mada"})), SkipCode.PAYMENT_METHOD),
        (rule(coupon_codes=frozenset({"summer"})), SkipCode.COUPON),
        (rule(customer_tiers=frozenset({"gold"})), SkipCode.TIER),
        (rule(min_prior_orders=4), SkipCode.PRIOR_ORDERS),
        (rule(include_skus=frozenset({"zzz"})), SkipCode.NO_ELIGIBLE_LINES),
    ]
    for r, code in cases:
        out = score(order, [r], Profile(prior_orders=3))
        assert out.total.minor == 0 and out.skipped[0].code is code and out.skipped[0].reason
    assert score(order, [rule(coupon_codes=frozenset({"spring"}), min_prior_orders=3)],
                 Profile(prior_orders=3)).total.minor == 100


def test_the_best_exclusive_campaign_pays_alone_ties_go_to_priority_then_age() -> None:
    order = dorder(dline("a", 10000))
    stack = rule("stack", seq=1, percent_bps=100)
    small = rule("small", seq=2, percent_bps=500, exclusive=True)
    big = rule("big", seq=3, percent_bps=800, exclusive=True)
    out = score(order, [stack, small, big])
    assert [a.campaign_id for a in out.awards] == ["big"]
    assert {s.campaign_id: s.code for s in out.skipped} == {"stack": SkipCode.EXCLUSIVE, "small": SkipCode.EXCLUSIVE}
    older = rule("older", seq=4, percent_bps=800, exclusive=True)
    newer = rule("newer", seq=5, percent_bps=800, exclusive=True)
    assert [a.campaign_id for a in score(order, [newer, older]).awards] == ["older"]
    high = rule("high", seq=6, percent_bps=800, exclusive=True, priority=5)
    assert [a.campaign_id for a in score(order, [older, high]).awards] == ["high"]


def test_exclusive_credit_and_points_are_not_compared_by_amount_priority_decides_and_credit_wins_a_tie() -> None:
    order = dorder(dline("a", 10000))
    credit = rule("credit", seq=1, percent_bps=200, exclusive=True)  # 200 minor units
    points = rule("points", seq=2, percent_bps=5000, exclusive=True, points=True)  # 5,000 points: not "more"
    out = score(order, [points, credit])
    assert [(a.campaign_id, a.amount.minor, a.points) for a in out.awards] == [("credit", 200, False)]
    assert [(s.campaign_id, s.code) for s in out.skipped] == [("points", SkipCode.EXCLUSIVE)]
    # Even when the points campaign is the older one: age breaks ties within a unit only.
    older_points = rule("older-points", seq=0, percent_bps=5000, exclusive=True, points=True)
    assert [a.campaign_id for a in score(order, [older_points, credit]).awards] == ["credit"]
    # The merchant's priority says which unit wins.
    first = rule("first", seq=3, percent_bps=100, exclusive=True, points=True, priority=5)
    out = score(order, [credit, first])
    assert [(a.campaign_id, a.points, out.points_total, out.total.minor) for a in out.awards] == [
        ("first", True, 100, 0)
    ]
    # Within each unit the amount still decides: the best points award then meets the best credit award.
    big_credit = rule("big-credit", seq=4, percent_bps=300, exclusive=True)
    more_points = rule("more-points", seq=5, percent_bps=200, exclusive=True, points=True, priority=5)
    out = score(order, [credit, big_credit, first, more_points])
    assert [a.campaign_id for a in out.awards] == ["more-points"]
    assert {s.campaign_id for s in out.skipped} == {"credit", "big-credit", "first"}
    assert [a.campaign_id for a in score(order, [credit, big_credit, points]).awards] == ["big-credit"]


def test_stackable_campaigns_add_up() -> None:
    out = score(dorder(dline("a", 10000)), [rule("x", percent_bps=100), rule("y", fixed=sar(500), percent_bps=None)])
    assert out.total.minor == 600


def test_pending_and_expiry_days_give_available_and_expires_at() -> None:
    out = score(dorder(dline("a", 1000)), [rule(pending_days=14, expires_after_days=90)])
    assert out.awards[0].available_at == T0 + timedelta(days=14)
    assert out.awards[0].expires_at == T0 + timedelta(days=104)
    assert score(dorder(dline("a", 1000)), [rule()]).awards[0].expires_at is None


def test_the_index_shortlists_by_channel_payment_currency_and_lines() -> None:
    rules = [rule("all", seq=1), rule("app", seq=2, channels=frozenset({2})),
             rule("mada", seq=3, payment_methods=frozenset({"mada"})),
             rule("creams", seq=4, include_categories=frozenset({"creams"})),
             rule("sku", seq=5, include_skus=frozenset({"a"}))]
    index = CampaignIndex.build(rules)
    assert index.shortlist(dorder(dline("a", 1000), channel=1, payment="card")) == {"all", "sku"}
    assert index.shortlist(dorder(dline("b", 1000, categories=("creams",)), channel=2, payment="MADA")) == {
        "all", "app", "mada", "creams"}
    # Campaigns left out still appear in skipped, with the reason.
    order = dorder(dline("a", 1000))
    _, skipped = qualify(order, index.order_rules(), Profile(), index.shortlist(order))
    assert {s.campaign_id: s.code for s in skipped} == {
        "app": SkipCode.CHANNEL, "mada": SkipCode.PAYMENT_METHOD, "creams": SkipCode.NO_ELIGIBLE_LINES}


def test_tier_from_policy_is_the_highest_reached_and_a_manual_tier_wins() -> None:
    policy = TierPolicy((TierDef("1pct", sar(100), 30), TierDef("3pct", sar(500), 30)))
    assert effective_tier("", policy, {30: 99}) == ""
    assert effective_tier("", policy, {30: 100}) == "1pct"
    assert effective_tier("", policy, {30: 900}) == "3pct"
    assert effective_tier("vip", policy, {30: 0}) == "vip"


def test_partial_reversals_add_up_to_the_award_exactly() -> None:
    award, merchandise, taken, refunded = 1001, 3000, 0, 0
    for part in (1000, 1000, 1000):
        refunded += part
        taken += reversal_delta(award, taken, merchandise, refunded)
    assert taken == award
