"""ScoreEvent in groups (service_layer/event_groups.py): concurrent events share
transactions, and budgets and per-customer limits stay exact across the events
of one group as across groups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from sqlalchemy import text

from tests.rules.builders import campaign
from tests.support.servers import auth
from tests.support.sql import recorded

pytestmark = pytest.mark.postgres
OPS, SVC = auth("ops"), auth("service")
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(event_id: str, customer_id: str, event_type: str = "review") -> rules_pb2.ScoreEventRequest:
    req = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id=customer_id, event_type=event_type,
                                      event_id=event_id)
    req.occurred_at.FromDatetime(AT)
    return req


async def _event_campaign(stub, campaign_id: str, **fields) -> None:  # type: ignore[no-untyped-def]
    c = campaign(campaign_id, **fields)
    c.trigger, c.event_type = rules_pb2.TRIGGER_EVENT, "review"
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)


async def _burst(rules, stub, events: list[rules_pb2.ScoreEventRequest]) -> tuple[list[rules_pb2.Score], int]:  # type: ignore[no-untyped-def]
    """The scores of events sent all at once, and how many transactions scored them."""
    with recorded(rules.db) as seen:
        answers = await asyncio.gather(*(stub.ScoreEvent(e, metadata=SVC) for e in events))
    return [a.score for a in answers], sum("rules_score_load_events" in sql for sql, _ in seen)


async def test_fifty_concurrent_events_share_transactions_and_never_pay_past_a_nearly_spent_budget(
        rules, stub) -> None:
    await _event_campaign(stub, "rev", fixed=300, budget=5_000)
    # Each event earns 3.00 of a 50.00 budget: 16 full awards, one partial 2.00, then nothing.
    scores, transactions = await _burst(rules, stub, [_event(f"e{i}", f"c{i}") for i in range(50)])
    assert transactions < 50  # grouped: while one group commits, the next one fills
    amounts = sorted((s.total.amount_minor for s in scores), reverse=True)
    assert amounts.count(300) == 16
    assert amounts.count(200) == 1
    assert amounts.count(0) == 33
    assert sum(amounts) == 5_000
    for s in scores:
        if s.total.amount_minor == 0:
            assert [k.code for k in s.skipped] == [rules_pb2.SKIP_REASON_BUDGET_SPENT]
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="rev"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 5_000
    async with rules.db.read() as conn:
        counter = (await conn.execute(text("SELECT budget_used FROM rules_campaigns WHERE campaign_id = 'rev'"))).one()
        paid = (await conn.execute(text("SELECT sum(amount_minor), count(*) FROM rules_event_awards"))).one()
    assert counter[0] == 5_000
    assert tuple(paid) == (5_000, 17)


async def test_concurrent_events_of_the_same_customers_respect_the_per_customer_amount_and_count(
        rules, stub) -> None:
    # 2.50 per review, at most 9.00 and four awards per customer: 2.50 + 2.50 + 2.50 + 1.50, then nothing.
    await _event_campaign(stub, "rev", fixed=250, max_per_customer=900, max_awards_per_customer=4)
    events = [_event(f"e{i}", f"c{i % 3}") for i in range(30)]
    scores, transactions = await _burst(rules, stub, events)
    assert transactions < 30
    for customer in ("c0", "c1", "c2"):
        theirs = sorted((s.total.amount_minor for e, s in zip(events, scores, strict=True)
                         if e.customer_id == customer), reverse=True)
        assert theirs == [250, 250, 250, 150] + [0] * 6, customer
    async with rules.db.read() as conn:
        usage = (await conn.execute(text(
            "SELECT customer_id, amount_minor, award_count FROM rules_customer_usage ORDER BY customer_id"))).all()
        per_day = (await conn.execute(text(
            "SELECT customer_id, award_count FROM rules_customer_day_usage ORDER BY customer_id"))).all()
    assert [tuple(r) for r in usage] == [("c0", 900, 4), ("c1", 900, 4), ("c2", 900, 4)]
    assert [tuple(r) for r in per_day] == [("c0", 4), ("c1", 4), ("c2", 4)]


async def test_an_event_sent_many_times_at_once_pays_once_and_every_copy_gets_its_score(rules, stub) -> None:
    await _event_campaign(stub, "rev", fixed=250, budget=100_000)
    same = _event("review-1", "c1")
    scores, _ = await _burst(rules, stub, [same] * 8 + [_event(f"other{i}", f"c{i}") for i in range(8)])
    assert all(s == scores[0] for s in scores[:8])
    assert scores[0].total.amount_minor == 250
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="rev"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 9 * 250


async def test_an_event_refused_in_a_group_is_refused_alone_and_the_others_are_paid(rules, stub) -> None:
    await _event_campaign(stub, "rev", fixed=250, budget=100_000)
    await stub.ScoreEvent(_event("taken", "c1"), metadata=SVC)
    # The same event_id with other content is ALREADY_EXISTS; the events around it are scored.
    reused = _event("taken", "c2")
    events = [_event(f"e{i}", f"c{i}") for i in range(10)]
    answers = await asyncio.gather(*(stub.ScoreEvent(e, metadata=SVC) for e in [*events[:5], reused, *events[5:]]),
                                   return_exceptions=True)
    refused = answers[5]
    assert isinstance(refused, grpc.aio.AioRpcError)
    assert refused.code() is grpc.StatusCode.ALREADY_EXISTS
    assert [a.score.total.amount_minor for a in answers[:5] + answers[6:]] == [250] * 10  # type: ignore[union-attr]
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="rev"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 11 * 250
