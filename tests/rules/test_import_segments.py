"""RFM segments over real gRPC on PostgreSQL, from imported history: scores by
quintiles, the segment map, ListSegments, and recomputation after an import
(by the rules process's own background job)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2

from cashback_services.rules.domain.rfm import SEGMENTS, grid, segment_of
from tests.rules.builders import campaign, line, order
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")


def test_the_segment_map_names_one_segment_for_every_score_and_uses_all_eleven() -> None:
    cells = grid()
    assert len(cells) == 125 and {s for *_, s in cells} == set(SEGMENTS)
    assert segment_of(5, 5, 5) == "champions" and segment_of(1, 1, 1) == "lost"
    assert segment_of(1, 5, 5) == "cant_lose" and segment_of(5, 1, 1) == "recent_customers"
    assert segment_of(3, 3, 3) == "need_attention" and segment_of(2, 1, 2) == "hibernating"


def _past(order_id: str, customer_id: str, amount: int, days_ago: float) -> rules_pb2.Order:
    return order(order_id, line("past-order", amount), customer_id=customer_id,
                 placed_at=datetime.now(UTC) - timedelta(days=days_ago))


def _history() -> list[rules_pb2.Order]:
    """48 ordinary customers spread over the year; `star` buys often, big and
    lately; `faded` once, small, nearly a year ago; `gone` before the window."""
    out = [_past(f"star-{i}", "star", 900_000, 1 + i) for i in range(20)]
    out.append(_past("faded-1", "faded", 500, 360))
    out.append(_past("gone-1", "gone", 50_000, 400))
    for k in range(48):
        out += [_past(f"c{k}-{j}", f"c{k}", 10_000 * (k % 7 + 1), 7 * k + 30 * j) for j in range(k % 5 + 1)]
    return out


async def _import(stub, orders: list[rules_pb2.Order]) -> None:  # type: ignore[no-untyped-def]
    await stub.ImportOrders(rules_pb2.ImportOrdersRequest(merchant_id="m1", orders=orders), metadata=OPS)


async def _segments_after(stub, when: datetime) -> rules_pb2.ListSegmentsResponse:  # type: ignore[no-untyped-def]
    """ListSegments once scores computed from `when` on are there (the job polls every 2 s);
    `when` is after an import returned, so they include it."""
    for _ in range(100):
        got = await stub.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id="m1"), metadata=OPS)
        if got.HasField("computed_at") and got.computed_at.ToDatetime(tzinfo=UTC) >= when:
            return got
        await asyncio.sleep(0.2)
    raise AssertionError("segments were not recomputed within 20 s of the import")


async def _rfm(stub, customer_id: str) -> rules_pb2.CustomerProfile:  # type: ignore[no-untyped-def]
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=customer_id)
    return (await stub.GetCustomerProfile(req, metadata=OPS)).profile


async def test_imported_history_makes_the_best_customer_champions_and_a_faded_one_lost(stub) -> None:
    history = _history()
    before = await stub.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id="m1"), metadata=OPS)
    assert not before.HasField("computed_at") and [s.customers for s in before.segments] == [0] * 11
    await _import(stub, history)
    listed = await _segments_after(stub, datetime.now(UTC))

    star, faded, gone = await _rfm(stub, "star"), await _rfm(stub, "faded"), await _rfm(stub, "gone")
    assert (star.rfm.recency, star.rfm.frequency, star.rfm.monetary, star.rfm.segment) == (5, 5, 5, "champions")
    assert (faded.rfm.recency, faded.rfm.frequency, faded.rfm.monetary, faded.rfm.segment) == (1, 1, 1, "lost")
    assert not gone.HasField("rfm")  # no order in the last 365 days

    assert [s.segment for s in listed.segments] == list(SEGMENTS)
    assert (listed.window_days, listed.currency_code) == (365, "SAR")
    assert sum(s.customers for s in listed.segments) == 50  # all but `gone`
    year_ago = datetime.now(UTC) - timedelta(days=365)
    in_window = [o for o in history if o.placed_at.ToDatetime(tzinfo=UTC) >= year_ago]
    assert sum(s.spend.amount_minor for s in listed.segments) == sum(o.lines[0].unit_price.amount_minor
                                                                     for o in in_window)
    profiles = [await _rfm(stub, c) for c in [f"c{k}" for k in range(48)] + ["star", "faded"]]
    assert Counter(p.rfm.segment for p in profiles) == {s.segment: s.customers for s in listed.segments
                                                        if s.customers}


async def test_a_new_import_is_scored_a_few_seconds_later_as_a_recent_customer(stub) -> None:
    await _import(stub, _history())
    await _segments_after(stub, datetime.now(UTC))
    await _import(stub, [_past("newbie-1", "newbie", 100, 0.1)])
    listed = await _segments_after(stub, datetime.now(UTC))
    newbie = await _rfm(stub, "newbie")
    assert (newbie.rfm.recency, newbie.rfm.segment) == (5, "recent_customers")
    assert sum(s.customers for s in listed.segments) == 51


async def test_a_champions_only_campaign_pays_only_champions_and_says_why_not(stub) -> None:
    await _import(stub, _history())
    await _segments_after(stub, datetime.now(UTC))
    req = rules_pb2.CreateCampaignRequest(campaign=campaign("vip", percent_bps=1000, customer_segments=["champions"]))
    await stub.CreateCampaign(req, metadata=OPS)
    champions = [c for c in [f"c{k}" for k in range(48)] + ["star", "faded"]
                 if (await _rfm(stub, c)).rfm.segment == "champions"]
    assert "star" in champions

    async def score(order_id: str, customer_id: str) -> rules_pb2.Score:
        o = order(order_id, line("a", 10_000), customer_id=customer_id, placed_at=datetime.now(UTC))
        return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score

    for c in champions:
        assert (await score(f"now-{c}", c)).total.amount_minor == 1_000
    faded, nobody = await score("now-faded", "faded"), await score("now-nobody", "nobody")
    assert faded.total.amount_minor == 0 and nobody.total.amount_minor == 0
    assert [(s.code, s.reason) for s in faded.skipped] == [
        (rules_pb2.SKIP_REASON_SEGMENT, "only for customers in segment champions; this customer is in lost")]
    assert nobody.skipped[0].reason.endswith("this customer has no segment (no recent order)")
    quote = await stub.QuoteOrder(rules_pb2.QuoteOrderRequest(order=order(
        "q1", line("a", 10_000), customer_id="star", placed_at=datetime.now(UTC))), metadata=SVC)
    assert quote.score.total.amount_minor == 1_000


async def test_a_campaign_naming_an_unknown_segment_is_refused(stub) -> None:
    req = rules_pb2.CreateCampaignRequest(campaign=campaign("x", percent_bps=100, customer_segments=["vips"]))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateCampaign(req, metadata=OPS)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "campaign.customer_segments[0]" in (err.value.details() or "")
