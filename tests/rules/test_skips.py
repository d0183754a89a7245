"""The cached skip list (cashback_services/rules/service_layer/skips.py) gives byte for byte the
Score the full evaluation gives: every campaign judged, in campaign order,
then what settle() refused (and the shorter answers, that list cut) -- on random catalogues, orders and customers, and
again from the cache for a second order with the same attributes."""

from __future__ import annotations

from datetime import timedelta

from cashback.rules.v1 import rules_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback_services.rules.adapters.codec import cut, score_to_pb
from cashback_services.rules.domain.evaluate import qualify, settle
from cashback_services.rules.domain.index import CampaignIndex
from cashback_services.rules.domain.model import Profile, SkippedDetail, Usage
from cashback_services.rules.domain.tiers import TierPolicy
from cashback_services.rules.service_layer.cache import Snapshot
from cashback_services.rules.service_layer.scoring import _judge, _order_score
from cashback_services.rules.service_layer.skips import SkipList
from tests.rules.domain_builders import T0, dline, dorder, rule, sar

CATS = ("a", "b", "c", "d")
SKUS = ("s1", "s2", "s3")

rules_st = st.lists(st.fixed_dictionaries({}, optional={
    "include_categories": st.frozensets(st.sampled_from(CATS), min_size=1, max_size=2),
    "include_skus": st.frozensets(st.sampled_from(SKUS), min_size=1, max_size=2),
    "channels": st.frozensets(st.sampled_from((1, 2, 3)), min_size=1, max_size=2),
    "payment_methods": st.frozensets(st.sampled_from(("card", "cash")), min_size=1),
    "coupon_codes": st.frozensets(st.sampled_from(("x", "y")), min_size=1),
    "customer_tiers": st.frozensets(st.sampled_from(("gold", "silver")), min_size=1),
    "min_prior_orders": st.integers(0, 3),
    "min_order": st.integers(0, 5_000).map(sar),
    "max_per_order": st.integers(0, 300).map(sar),
    "budget": st.integers(0, 500).map(sar),
    "starts_at": st.integers(-3, 3).map(lambda h: T0 + timedelta(hours=h)),
    "currency": st.sampled_from(("SAR", "IRR")),
    "exclusive": st.booleans(),
}), max_size=25)

orders_st = st.tuples(
    st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3_000), st.sampled_from(CATS)), min_size=1, max_size=4),
    st.sampled_from((1, 2, 3)), st.sampled_from(("card", "cash", "CARD")),
    st.lists(st.sampled_from(("x", "X", "z")), max_size=2),
    st.integers(-4, 4),
)
profiles_st = st.builds(Profile, tier=st.sampled_from(("", "gold", "silver")), prior_orders=st.integers(0, 4))


def reference(snap: Snapshot, order, profile, usage):  # type: ignore[no-untyped-def]
    candidates, skipped = qualify(order, snap.index.order_rules(), profile, snap.index.shortlist(order))
    out = settle(candidates, usage(candidates), order.placed_at, order.currency)
    out.skipped[:0] = skipped
    return score_to_pb(out, merchant_id=order.merchant_id, customer_id=order.customer_id, order_id=order.order_id)


@settings(max_examples=150, deadline=None)
@given(specs=rules_st, order_specs=st.lists(st.tuples(orders_st, profiles_st), min_size=1, max_size=6),
       spent=st.integers(0, 600))
def test_the_cached_skip_list_gives_the_full_evaluations_score(specs, order_specs, spent) -> None:
    rules = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        currency = spec.pop("currency", "SAR")
        r = rule(f"c{i}", seq=i, **spec)
        rules.append(r if currency == "SAR" else type(r)(**{**r.__dict__, "currency": currency}))
    index = CampaignIndex.build(rules)
    snap = Snapshot(1, index, TierPolicy(), SkipList(index.order_rules(), index.every_line))

    def usage(candidates):  # type: ignore[no-untyped-def]
        return {c.rule.campaign_id: Usage(budget_used=spent) for c in candidates}

    # Several orders through one snapshot (and twice each): later ones are
    # answered from what earlier ones put in the cache.
    # Each order also at other hours (across campaign start instants), with other coupons and channels.
    variants = [((lines, ch, payment, cp, h), profile)
                for (lines, channel, payment, coupons, hours), profile in order_specs
                for h in (hours, -4, 0, 4) for cp in (coupons, ["x"]) for ch in (channel, 3)]
    for (lines, channel, payment, coupons, hours), profile in variants * 2:
        order = dorder(*(dline(sku, price, categories=(cat,)) for sku, price, cat in lines), channel=channel,
                       payment=payment, coupons=tuple(coupons), placed_at=T0 + timedelta(hours=hours, minutes=30))
        want = reference(snap, order, profile, usage).SerializeToString(deterministic=True)
        candidates, judged = _judge(snap, order, profile)
        out = settle(candidates, usage(candidates), order.placed_at, order.currency)
        got = _order_score(snap, order, profile, judged, out)
        assert _canonical(got) == want
        # The shorter answers are the full one cut, without building the full one.
        for detail in (SkippedDetail.MATCHABLE, SkippedDetail.NONE):
            short = _order_score(snap, order, profile, judged, out, detail)
            assert _canonical(short) == _canonical(cut(want, detail))


def _canonical(score: bytes) -> bytes:
    """The bytes protobuf itself writes for the same Score."""
    return rules_pb2.Score.FromString(score).SerializeToString(deterministic=True)
