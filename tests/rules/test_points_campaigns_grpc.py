"""Campaigns that pay points, on rules alone over real gRPC: each award line
says its unit, the score's total stays credit, refunds take points back in
proportion, and a simulation reports a points draft's cost in points."""

from __future__ import annotations

from datetime import timedelta

from cashback.rules.v1 import rules_pb2

from tests.rules.builders import T0, campaign, line, money, order, ts
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")
POINTS = rules_pb2.REWARD_UNIT_POINTS


async def test_a_points_award_is_in_points_beside_credit_and_a_refund_takes_points_back_in_proportion(stub) -> None:
    for c in (
        campaign("cash", percent_bps=200),
        campaign("pts", percent_bps=500, reward_unit=POINTS, max_per_order=400),
    ):
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    score = (
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order("o1", line("a", 10_000))), metadata=SVC)
    ).score
    lines = {a.campaign_id: (a.unit, a.amount.currency_code, a.amount.amount_minor) for a in score.awards}
    assert lines == {"cash": (rules_pb2.REWARD_UNIT_UNSPECIFIED, "SAR", 200), "pts": (POINTS, "PTS", 400)}
    assert (score.total.amount_minor, score.points_total) == (200, 400)
    assert "capped at 400 points per order" in next(a.explanation for a in score.awards if a.campaign_id == "pts")
    reversal = (
        await stub.ReverseOrder(
            rules_pb2.ReverseOrderRequest(
                merchant_id="m1", order_id="o1", refund_id="r1", refunded_amount=money(2_500)
            ),
            metadata=SVC,
        )
    ).reversal
    assert (reversal.total.amount_minor, reversal.points_total) == (50, 100)
    assert {a.campaign_id: (a.unit, a.amount.currency_code) for a in reversal.awards} == {
        "cash": (rules_pb2.REWARD_UNIT_UNSPECIFIED, "SAR"),
        "pts": (POINTS, "PTS"),
    }


async def test_a_simulated_points_draft_costs_points_not_credit(stub) -> None:
    for i, amount in enumerate((10_000, 30_000)):
        await stub.ScoreOrder(
            rules_pb2.ScoreOrderRequest(order=order(f"o{i}", line("a", amount), placed_at=T0 + timedelta(hours=i))),
            metadata=SVC,
        )
    draft = campaign("draft", percent_bps=1000, reward_unit=POINTS)
    req = rules_pb2.SimulateCampaignRequest(campaign=draft, to=ts(T0 + timedelta(days=1)))
    getattr(req, "from").CopyFrom(ts(T0))
    sim = (await stub.SimulateCampaign(req, metadata=OPS)).simulation
    assert (sim.total_points, sim.total_cashback.amount_minor, sim.orders_matched) == (4_000, 0, 2)


async def test_the_campaign_report_says_a_points_campaigns_cost_in_points_and_keeps_it_out_of_the_money(stub) -> None:
    # 50% in points dwarfs 2% in credit: counted as money, the points campaigns would head the report.
    for c in (
        campaign("cash", percent_bps=200),
        campaign("pts-big", percent_bps=5_000, reward_unit=POINTS),
        campaign("pts-small", percent_bps=1_000, reward_unit=POINTS),
    ):
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    for i, amount in enumerate((10_000, 30_000)):
        await stub.ScoreOrder(
            rules_pb2.ScoreOrderRequest(order=order(f"o{i}", line("a", amount), placed_at=T0 + timedelta(hours=i))),
            metadata=SVC,
        )
    await stub.ReverseOrder(
        rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id="o0", refund_id="r1", refunded_amount=money(10_000)),
        metadata=SVC,
    )
    req = rules_pb2.GetCampaignReportRequest(merchant_id="m1", currency_code="SAR", to=ts(T0 + timedelta(days=1)))
    getattr(req, "from").CopyFrom(ts(T0))
    report = await stub.GetCampaignReport(req, metadata=OPS)
    rows = [
        (c.campaign_id, c.reward_unit, c.cost.amount_minor, c.points, c.gmv.amount_minor, c.orders)
        for c in report.campaigns
    ]
    # o0 was refunded in full: only o1's 300.00 SAR is kept, by every campaign.
    assert rows == [
        ("cash", rules_pb2.REWARD_UNIT_UNSPECIFIED, 600, 0, 30_000, 2),
        ("pts-big", POINTS, 0, 15_000, 30_000, 2),
        ("pts-small", POINTS, 0, 3_000, 30_000, 2),
    ]
    assert report.points_total == 18_000
