"""The worked examples from our merchants' playbooks, as one table.

Each row is a merchant's sentence: the campaigns they set up, who the customer
is, the order (or event), and the cashback they expect. Every row runs against
the real rules service over gRPC, on PostgreSQL. SAR amounts are
in halalas (500 SAR = 50000); toman amounts use IRR (exponent 0) as written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cashback.rules.v1 import rules_pb2

from tests.rules.builders import T0, campaign, line, money, order, override
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")
WEB, APP = rules_pb2.CHANNEL_WEB, rules_pb2.CHANNEL_APP
RIYADH = ZoneInfo("Asia/Riyadh")
LAUNCH_START = datetime(2026, 3, 1, tzinfo=RIYADH)  # "1 to 7 March", local dates
LAUNCH_END = LAUNCH_START + timedelta(days=7)
TIERED = {"silver": 500, "gold": 1000, "platinum": 1500}
MONTHLY_TIERS = [("1pct", 1_000_000, 30), ("3pct", 5_000_000, 30)]


def sar(amount: float) -> int:
    return round(amount * 100)


@dataclass
class Example:
    says: str
    campaigns: list[rules_pb2.Campaign]
    order: rules_pb2.Order | None = None
    expect: int = 0
    tier: str = ""  # manual tier of the customer
    tier_policy: list[tuple[str, int, int]] = field(default_factory=list)
    earlier_spend: int = 0  # IRR the customer already spent this month
    events: list[str] = field(default_factory=list)  # review event ids, in order

    def __str__(self) -> str:
        return self.says


def tiered(cap: int) -> rules_pb2.Campaign:
    return campaign("tiers", percent_bps=0, tier_percent_bps=TIERED, max_per_order=cap)


def mada(cap: int) -> rules_pb2.Campaign:
    return campaign("mada", percent_bps=700, payment_methods=["mada"], max_per_order=cap)


def review_reward() -> rules_pb2.Campaign:
    return campaign("review", trigger=rules_pb2.TRIGGER_EVENT, event_type="product_review", fixed=sar(5))


def monthly_tiers() -> rules_pb2.Campaign:
    return campaign("monthly", currency="IRR", percent_bps=0, tier_percent_bps={"1pct": 100, "3pct": 300})


def appliances() -> rules_pb2.Campaign:
    return campaign("appliances", currency="IRR", percent_bps=0,
                    rate_overrides=[override(100, category_id="vacuum"), override(200, category_id="washer")])


def irr(sku: str, price: int, categories: tuple[str, ...] = ()) -> rules_pb2.OrderLine:
    return line(sku, price, categories=categories, currency="IRR")


def irr_order(*lines: rules_pb2.OrderLine) -> rules_pb2.Order:
    return order("o-final", *lines, currency="IRR")


EXAMPLES = [
    Example("10% cashback, order of 500 -> 50",
            [campaign("ten", percent_bps=1000)], order("o", line("tv", sar(500))), sar(50)),
    Example("20% on the creams department, min order 100: 150 creams + 50 other -> 30",
            [campaign("creams", percent_bps=2000, min_order=sar(100), include_category_ids=["creams"])],
            order("o", line("cream", sar(150), categories=("creams",)), line("soap", sar(50))), sar(30)),
    Example("tiers silver 5% / gold 10% / platinum 15%, cap 100: gold, 500 -> 50",
            [tiered(sar(100))], order("o", line("tv", sar(500))), sar(50), tier="gold"),
    Example("tiers silver 5% / gold 10% / platinum 15%, cap 100: platinum, 1,000 -> 100 (capped)",
            [tiered(sar(100))], order("o", line("tv", sar(1000))), sar(100), tier="platinum"),
    Example("7% when paying with mada, cap 30: 300 by mada -> 21",
            [mada(sar(30))], order("o", line("tv", sar(300)), payment_method="mada"), sar(21)),
    Example("7% when paying with mada, cap 30: 1,000 by mada -> 30",
            [mada(sar(30))], order("o", line("tv", sar(1000)), payment_method="MADA"), sar(30)),
    Example("7% when paying with mada, cap 30: 300 by card -> 0",
            [mada(sar(30))], order("o", line("tv", sar(300)), payment_method="card"), 0),
    Example("fixed 50 for orders of at least 1,000: 999.99 -> 0",
            [campaign("big", fixed=sar(50), min_order=sar(1000))], order("o", line("tv", sar(999.99))), 0),
    Example("fixed 50 for orders of at least 1,000: 1,000 -> 50",
            [campaign("big", fixed=sar(50), min_order=sar(1000))], order("o", line("tv", sar(1000))), sar(50)),
    Example("15 fixed on app orders only: app -> 15",
            [campaign("app", fixed=sar(15), channels=[APP])], order("o", line("tv", sar(80)), channel=APP), sar(15)),
    Example("15 fixed on app orders only: web -> 0",
            [campaign("app", fixed=sar(15), channels=[APP])], order("o", line("tv", sar(80)), channel=WEB), 0),
    Example("15% for one launch week: an order on the last evening -> 15%",
            [campaign("launch", percent_bps=1500, starts_at=LAUNCH_START, ends_at=LAUNCH_END, timezone="Asia/Riyadh")],
            order("o", line("tv", sar(100)), placed_at=LAUNCH_END - timedelta(minutes=1)), sar(15)),
    Example("15% for one launch week: an order one day after the end -> 0",
            [campaign("launch", percent_bps=1500, starts_at=LAUNCH_START, ends_at=LAUNCH_END, timezone="Asia/Riyadh")],
            order("o", line("tv", sar(100)), placed_at=LAUNCH_END + timedelta(days=1)), 0),
    Example("5 fixed for a product review: one review -> 5",
            [review_reward()], events=["review-1"], expect=sar(5)),
    Example("5 fixed for a product review: the same review sent twice pays once -> 5",
            [review_reward()], events=["review-1", "review-1"], expect=sar(5)),
    Example("5 fixed for a product review: two reviews -> 10",
            [review_reward()], events=["review-1", "review-2"], expect=sar(10)),
    Example("monthly tiers 1% from 1,000,000 / 3% from 5,000,000 toman: spent 1,200,000, buys 500,000 -> 5,000",
            [monthly_tiers()], irr_order(irr("phone", 500_000)), 5_000, tier_policy=MONTHLY_TIERS,
            earlier_spend=1_200_000),
    Example("monthly tiers 1% from 1,000,000 / 3% from 5,000,000 toman: spent 6,000,000, buys 500,000 -> 15,000",
            [monthly_tiers()], irr_order(irr("phone", 500_000)), 15_000, tier_policy=MONTHLY_TIERS,
            earlier_spend=6_000_000),
    Example("monthly tiers 1% from 1,000,000 / 3% from 5,000,000 toman: spent 200,000, buys 500,000 -> 0",
            [monthly_tiers()], irr_order(irr("phone", 500_000)), 0, tier_policy=MONTHLY_TIERS,
            earlier_spend=200_000),
    Example("appliances vacuum 1% / washing machine 2%: vacuum 1,000,000 + washer 2,000,000 -> 50,000",
            [appliances()], irr_order(irr("v1", 1_000_000, categories=("vacuum",)),
                                      irr("w1", 2_000_000, categories=("washer",)),
                                      irr("cable", 100_000, categories=("accessories",))), 50_000),
    Example("appliance rates on top of the 3% monthly tier: washer 2,000,000 -> 40,000 + 60,000 = 100,000",
            [appliances(), monthly_tiers()], irr_order(irr("w1", 2_000_000, categories=("washer",))), 100_000,
            tier_policy=MONTHLY_TIERS, earlier_spend=5_000_000),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.says for e in EXAMPLES])
async def test_worked_example(stub, example: Example) -> None:
    if example.tier_policy:
        tiers = [rules_pb2.Tier(name=n, min_spend=money(m, "IRR"), window_days=w) for n, m, w in example.tier_policy]
        await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=tiers), metadata=OPS)
    if example.tier:
        await stub.SetCustomerTier(rules_pb2.SetCustomerTierRequest(merchant_id="m1", customer_id="c1",
                                                                    tier=example.tier), metadata=OPS)
    if example.earlier_spend:
        earlier = order("o-earlier", irr("x", example.earlier_spend), currency="IRR",
                        placed_at=T0 - timedelta(days=10))
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=earlier), metadata=SVC)
    for c in example.campaigns:
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    earned = 0
    for event_id in example.events:
        req = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id="c1", event_type="product_review",
                                          event_id=event_id)
        req.occurred_at.FromDatetime(T0)
        await stub.ScoreEvent(req, metadata=SVC)
    if example.events:
        # What the campaign paid in all: a replayed review must not pay again.
        got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="review"),
                                     metadata=OPS)
        earned = got.campaign.budget_used.amount_minor
    if example.order is not None:
        score = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=example.order), metadata=SVC)).score
        earned = score.total.amount_minor
        # A campaign that did not pay says why.
        paid = {a.campaign_id for a in score.awards}
        assert {s.campaign_id for s in score.skipped} == {c.campaign_id for c in example.campaigns} - paid
        assert all(s.reason for s in score.skipped)
    assert earned == example.expect, example.says
