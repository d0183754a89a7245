"""Every statement ScoreOrder and ScoreEvent send, recorded: four, BEGIN and
COMMIT included (BEGIN, read-lock-and-load, write, COMMIT), and a campaign with
no budget is never locked or updated by the orders it pays."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cashback.rules.v1 import rules_pb2
from sqlalchemy import event, text

from cashback_kit.db import Database
from tests.rules.builders import T0, campaign, line, money, order
from tests.support.servers import ServiceHandle, auth
from tests.support.sql import recorded

OPS, SVC = auth("ops"), auth("service")


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement, as its first words: the engine's and the driver's (the
    kit's recorder), plus the transactions the engine opens itself, which it
    does not send as statements of their own."""
    with recorded(db) as seen:
        opened: list[str] = []

        def begin(_conn: Any) -> None:
            opened.append("BEGIN (engine)")

        def commit(_conn: Any) -> None:
            opened.append("COMMIT (engine)")

        event.listen(db.engine.sync_engine, "begin", begin)
        event.listen(db.engine.sync_engine, "commit", commit)
        out: list[str] = []
        try:
            yield out
        finally:
            event.remove(db.engine.sync_engine, "begin", begin)
            event.remove(db.engine.sync_engine, "commit", commit)
        out.extend(sql for sql, _ in seen)
        out.extend(opened)


async def _row_versions(rules: ServiceHandle, campaign_id: str) -> tuple[str, str, int]:
    """The campaign row's xmin and xmax: an UPDATE or a FOR UPDATE lock changes them."""
    async with rules.db.read() as conn:
        row = (await conn.execute(text(
            "SELECT xmin::text, xmax::text, budget_used FROM rules_campaigns WHERE campaign_id = :c"),
            {"c": campaign_id})).one()
    return row[0], row[1], int(row[2])


async def _setup(stub) -> None:  # type: ignore[no-untyped-def]
    tiers = [rules_pb2.Tier(name="silver", min_spend=money(100_000), window_days=30)]
    await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=tiers), metadata=OPS)
    for c in (campaign("capped", percent_bps=500, budget=1_000_000, max_awards_per_customer_per_day=5),
              campaign("open", percent_bps=100, max_per_customer=50_000),
              campaign("silver", percent_bps=200, customer_tiers=["silver"])):
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)
    review = campaign("review", fixed=250)
    review.trigger, review.event_type = rules_pb2.TRIGGER_EVENT, "review"
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=review), metadata=OPS)
    # The customer reaches silver with a first order; the snapshot is built by now.
    await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order("o0", line("tv", 150_000))), metadata=SVC)


async def test_score_order_is_four_statements_and_a_replay_three_that_lock_nothing(rules, stub) -> None:
    await _setup(stub)
    o = order("o1", line("mug", 30_000), placed_at=T0 + timedelta(days=1))
    with statements(rules.db) as sent:
        score = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score
    # A silver customer (spend read with the lock) earns from all three campaigns.
    assert sorted(a.campaign_id for a in score.awards) == ["capped", "open", "silver"]
    assert [s.split()[0] for s in sent] == ["BEGIN", "SELECT", "WITH", "COMMIT"], sent
    assert "rules_score_load" in sent[1]
    async with rules.db.read() as conn:
        count = (await conn.execute(text("SELECT order_count FROM rules_customers WHERE customer_id = 'c1'"))).one()
    with statements(rules.db) as sent:
        again = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score
    assert again == score
    # The load finds the stored score before it locks (or counts) the customer.
    assert [s.split()[0] for s in sent] == ["BEGIN", "SELECT", "COMMIT"], sent
    async with rules.db.read() as conn:
        assert (await conn.execute(text("SELECT order_count FROM rules_customers WHERE customer_id = 'c1'"))).one() \
            == count


async def test_score_event_is_four_statements(rules, stub) -> None:
    await _setup(stub)
    ev = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id="c1", event_type="review", event_id="e1")
    ev.occurred_at.CopyFrom(order().placed_at)
    with statements(rules.db) as sent:
        score = (await stub.ScoreEvent(ev, metadata=SVC)).score
    assert score.total.amount_minor == 250
    assert [s.split()[0] for s in sent] == ["BEGIN", "SELECT", "WITH", "COMMIT"], sent


async def test_orders_never_lock_or_update_a_campaign_without_a_budget_yet_it_reports_what_it_paid(
        rules, stub) -> None:
    await _setup(stub)
    open_before, capped_before = await _row_versions(rules, "open"), await _row_versions(rules, "capped")
    for i in range(5):
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order(f"n{i}", line("mug", 10_000),
                                                                      customer_id=f"c{i}")), metadata=SVC)
    assert await _row_versions(rules, "open") == open_before  # never updated, never locked
    capped_after = await _row_versions(rules, "capped")
    assert capped_after[2] == capped_before[2] + 5 * 500  # the budget counter moves, exactly
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="open"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 1_500 + 5 * 100  # from the award rows
    listed = await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(merchant_id="m1"), metadata=OPS)
    paid = {c.campaign_id: c.budget_used.amount_minor for c in listed.campaigns}
    # Nobody was silver before their order: that campaign paid nothing.
    assert paid == {"capped": 7_500 + 2_500, "open": 2_000, "silver": 0, "review": 0}
