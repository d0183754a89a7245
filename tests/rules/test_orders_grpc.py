"""ScoreOrder, QuoteOrder, ReverseOrder and ScoreEvent over real gRPC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from sqlalchemy import func, select

from tests.rules.builders import T0, campaign, line, money, order
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")


async def _create(stub, c: rules_pb2.Campaign) -> rules_pb2.Campaign:
    return (await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)).campaign


async def _score(stub, o: rules_pb2.Order) -> rules_pb2.Score:
    return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score


async def _reverse(stub, order_id: str, refund_id: str, amount: int) -> rules_pb2.Reversal:
    req = rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id=order_id, refund_id=refund_id,
                                        refunded_amount=money(amount))
    return (await stub.ReverseOrder(req, metadata=SVC)).reversal


async def _row_counts(rules) -> dict[str, int]:
    from cashback_services.rules.adapters import tables

    out = {}
    async with rules.db.read() as conn:
        for t in tables.metadata.sorted_tables:
            out[t.name] = await conn.scalar(select(func.count()).select_from(t))
            if "budget_used" in t.c:
                out["budget_used"] = await conn.scalar(select(func.sum(t.c.budget_used)))
    return out


async def test_score_order_replay_returns_the_stored_score(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000, budget=100_000))
    first = await _score(stub, order("o1", line("a", 50000)))
    # The campaign changes afterwards: a replay must not re-score.
    await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(campaign=campaign("ten", percent_bps=2000)),
                              metadata=OPS)
    again = await _score(stub, order("o1", line("a", 50000)))
    assert again == first
    assert first.total.amount_minor == 5000
    assert first.awards[0].campaign_version == 1


async def test_same_order_id_with_different_content_is_already_exists(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    await _score(stub, order("o1", line("a", 50000)))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _score(stub, order("o1", line("a", 60000)))
    assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert "o1" in err.value.details()


async def test_quote_order_writes_nothing(stub, rules) -> None:
    await _create(stub, campaign("ten", percent_bps=1000, budget=100_000, max_per_customer=10_000))
    before = await _row_counts(rules)
    quote = await stub.QuoteOrder(rules_pb2.QuoteOrderRequest(order=order("q1", line("a", 50000))),
                                  metadata=auth("checkout"))
    assert quote.score.total.amount_minor == 5000
    assert await _row_counts(rules) == before


async def test_reverse_order_prorates_and_returns_budget_and_usage(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000, budget=10_000, max_per_customer=5_000,
                                 max_awards_per_customer=1))
    assert (await _score(stub, order("o1", line("a", 50000)))).total.amount_minor == 5000
    # The per-customer cap and count are used up: a second order earns nothing.
    assert (await _score(stub, order("o2", line("a", 50000)))).total.amount_minor == 0
    part = await _reverse(stub, "o1", "r1", 10000)  # a fifth of the order
    assert part.total.amount_minor == 1000
    assert [a.campaign_id for a in part.awards] == ["ten"]
    assert (await _reverse(stub, "o1", "r1", 10000)) == part  # replay by refund_id
    rest = await _reverse(stub, "o1", "r2", 40000)
    assert rest.total.amount_minor == 4000  # the parts add up to the award exactly
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="ten"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 0
    # Amount and count were given back: the customer can earn again.
    assert (await _score(stub, order("o3", line("a", 20000)))).total.amount_minor == 2000


async def test_reverse_order_refuses_more_than_the_order_and_unknown_orders(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    await _score(stub, order("o1", line("a", 50000)))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _reverse(stub, "o1", "r1", 50001)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _reverse(stub, "nope", "r2", 100)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    await _reverse(stub, "o1", "r3", 100)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _reverse(stub, "o1", "r3", 200)
    assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS


async def test_a_product_review_pays_once_per_review(stub) -> None:
    await _create(stub, campaign("review", trigger=rules_pb2.TRIGGER_EVENT, event_type="product_review", fixed=500))

    async def review(event_id: str) -> rules_pb2.Score:
        req = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id="c1", event_type="product_review",
                                          event_id=event_id)
        req.occurred_at.FromDatetime(T0)
        return (await stub.ScoreEvent(req, metadata=SVC)).score

    first = await review("rev-1")
    assert first.total.amount_minor == 500
    assert await review("rev-1") == first
    assert (await review("rev-2")).total.amount_minor == 500


async def test_campaign_status_controls_scoring(stub) -> None:
    c = await _create(stub, campaign("ten", percent_bps=1000, status=rules_pb2.CAMPAIGN_STATUS_DRAFT))
    assert c.status == rules_pb2.CAMPAIGN_STATUS_DRAFT and c.version == 1
    assert (await _score(stub, order("o1", line("a", 50000)))).total.amount_minor == 0
    await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
        merchant_id="m1", campaign_id="ten", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE), metadata=OPS)
    assert (await _score(stub, order("o2", line("a", 50000)))).total.amount_minor == 5000
    await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
        merchant_id="m1", campaign_id="ten", status=rules_pb2.CAMPAIGN_STATUS_ENDED), metadata=OPS)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
            merchant_id="m1", campaign_id="ten", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE), metadata=OPS)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_the_best_exclusive_award_pays_alone_with_its_pending_and_expiry_dates(stub) -> None:
    await _create(stub, campaign("everyday", percent_bps=200))
    await _create(stub, campaign("vip", percent_bps=1000, stacking=rules_pb2.STACKING_EXCLUSIVE,
                                 pending_days=14, expires_after_days=90))
    await _create(stub, campaign("small", percent_bps=500, stacking=rules_pb2.STACKING_EXCLUSIVE))
    before = datetime.now(UTC)
    score = await _score(stub, order("o1", line("a", 10000)))  # placed at T0, long before it is scored
    after = datetime.now(UTC)
    assert [(a.campaign_id, a.amount.amount_minor) for a in score.awards] == [("vip", 1000)]
    # The return window runs from the award, not from a placed_at in the past.
    available = score.awards[0].available_at.ToDatetime(tzinfo=UTC)
    assert before + timedelta(days=14) <= available <= after + timedelta(days=14)
    assert score.awards[0].expires_at.ToDatetime(tzinfo=UTC) == available + timedelta(days=90)
    assert {s.campaign_id: s.code for s in score.skipped} == {
        "everyday": rules_pb2.SKIP_REASON_EXCLUSIVE, "small": rules_pb2.SKIP_REASON_EXCLUSIVE}


async def test_an_event_id_reused_for_another_customer_is_already_exists(stub) -> None:
    await _create(stub, campaign("review", trigger=rules_pb2.TRIGGER_EVENT, event_type="product_review", fixed=500))
    req = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id="c1", event_type="product_review",
                                      event_id="rev-1")
    await stub.ScoreEvent(req, metadata=SVC)
    req.customer_id = "c2"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ScoreEvent(req, metadata=SVC)
    assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS and "rev-1" in err.value.details()
    # Another event type pays nothing and says why.
    other = rules_pb2.ScoreEventRequest(merchant_id="m1", customer_id="c1", event_type="signup", event_id="s-1")
    score = (await stub.ScoreEvent(other, metadata=SVC)).score
    assert not score.awards and [s.code for s in score.skipped] == [rules_pb2.SKIP_REASON_EVENT_TYPE]


async def test_a_coupon_campaign_pays_only_with_its_code_in_any_case(stub) -> None:
    await _create(stub, campaign("spring", percent_bps=1000, coupon_codes=["SPRING26"]))
    assert (await _score(stub, order("o1", line("a", 10000), coupon_codes=["spring26"]))).total.amount_minor == 1000
    plain = await _score(stub, order("o2", line("a", 10000)))
    assert plain.total.amount_minor == 0 and plain.skipped[0].code == rules_pb2.SKIP_REASON_COUPON


async def test_checkout_can_ask_for_only_the_campaigns_the_order_could_match(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000, budget=1_000))
    await _create(stub, campaign("big-only", percent_bps=500, min_order=1_000_000))
    await _create(stub, campaign("app-only", percent_bps=500, channels=[rules_pb2.CHANNEL_APP]))
    await _create(stub, campaign("books", percent_bps=500, include_category_ids=["books"]))
    await _score(stub, order("spend-it", line("tv", 10_000), customer_id="c0"))  # the budget is spent
    o = order("o1", line("mug", 3_000), customer_id="c1")
    requests = {d: rules_pb2.QuoteOrderRequest(order=o, skipped_detail=d) for d in (
        rules_pb2.SKIPPED_DETAIL_UNSPECIFIED, rules_pb2.SKIPPED_DETAIL_ALL, rules_pb2.SKIPPED_DETAIL_MATCHABLE,
        rules_pb2.SKIPPED_DETAIL_NONE)}
    quotes = {d: (await stub.QuoteOrder(r, metadata=SVC)).score for d, r in requests.items()}
    every = {s.campaign_id: s.code for s in quotes[rules_pb2.SKIPPED_DETAIL_UNSPECIFIED].skipped}
    assert every == {"ten": rules_pb2.SKIP_REASON_BUDGET_SPENT, "big-only": rules_pb2.SKIP_REASON_BELOW_MINIMUM,
                     "app-only": rules_pb2.SKIP_REASON_CHANNEL, "books": rules_pb2.SKIP_REASON_NO_ELIGIBLE_LINES}
    assert quotes[rules_pb2.SKIPPED_DETAIL_ALL] == quotes[rules_pb2.SKIPPED_DETAIL_UNSPECIFIED]
    assert [s.campaign_id for s in quotes[rules_pb2.SKIPPED_DETAIL_MATCHABLE].skipped] == ["big-only", "ten"]
    assert not quotes[rules_pb2.SKIPPED_DETAIL_NONE].skipped
    # ScoreOrder takes the same option; the stored score stays whole, so a replay
    # asking for everything gets the full list.
    scored = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(
        order=o, skipped_detail=rules_pb2.SKIPPED_DETAIL_MATCHABLE), metadata=SVC)).score
    assert [s.campaign_id for s in scored.skipped] == ["big-only", "ten"]
    assert (await _score(stub, o)) == quotes[rules_pb2.SKIPPED_DETAIL_ALL]


async def test_an_unknown_skipped_detail_is_invalid_argument_naming_the_field(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.QuoteOrder(rules_pb2.QuoteOrderRequest(order=order("o1", line("a", 100)), skipped_detail=9),
                              metadata=SVC)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "skipped_detail" in (err.value.details() or "")


async def test_a_campaign_given_a_budget_later_counts_what_it_paid_before_against_it(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    await _score(stub, order("o1", line("a", 10_000), customer_id="c1"))  # pays 10.00
    await _score(stub, order("o2", line("a", 10_000), customer_id="c2"))
    await _reverse(stub, "o2", "r2", 5_000)  # 5.00 of that taken back: 15.00 paid
    await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(
        campaign=campaign("ten", percent_bps=1000, budget=2_000), update_mask={"paths": ["budget"]}), metadata=OPS)
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="ten"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 1_500
    assert (await _score(stub, order("o3", line("a", 10_000), customer_id="c3"))).total.amount_minor == 500
    assert (await _score(stub, order("o4", line("a", 10_000), customer_id="c4"))).total.amount_minor == 0
    # A refund gives budget back to the counter.
    await _reverse(stub, "o1", "r1", 10_000)
    assert (await _score(stub, order("o5", line("a", 10_000), customer_id="c5"))).total.amount_minor == 1_000
