"""Campaign.max_prior_orders: first-order ("at most N earlier orders") offers,
in the domain and over real gRPC with imported history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2

from cashback_services.rules.domain.evaluate import precheck
from cashback_services.rules.domain.model import Profile, SkipCode
from tests.rules.builders import campaign, line, order
from tests.rules.domain_builders import dline, dorder, rule
from tests.support.servers import auth

OPS, SVC = auth("ops"), auth("service")


def test_a_first_order_rule_passes_no_earlier_order_and_says_why_it_skips_one() -> None:
    first = rule(max_prior_orders=0)
    assert precheck(first, dorder(dline("a", 1000)), Profile(prior_orders=0)) is None
    skip = precheck(first, dorder(dline("a", 1000)), Profile(prior_orders=1))
    assert skip is not None and skip.code is SkipCode.TOO_MANY_PRIOR_ORDERS
    assert skip.reason == "only for a customer's first order; this customer has an earlier order"


def test_at_most_two_earlier_orders_pays_the_first_three_orders_only() -> None:
    up_to_two = rule(max_prior_orders=2)
    assert [precheck(up_to_two, dorder(dline("a", 1000)), Profile(prior_orders=n)) is None for n in range(5)] == [
        True, True, True, False, False]
    skip = precheck(up_to_two, dorder(dline("a", 1000)), Profile(prior_orders=3))
    assert skip is not None
    assert skip.reason == "only for customers with at most 2 earlier orders; this customer has 3 earlier orders"


def test_no_upper_bound_when_max_prior_orders_is_unset() -> None:
    assert precheck(rule(), dorder(dline("a", 1000)), Profile(prior_orders=10_000)) is None


async def _create(stub, c: rules_pb2.Campaign) -> rules_pb2.Campaign:  # type: ignore[no-untyped-def]
    return (await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)).campaign


async def _score(stub, order_id: str, customer_id: str) -> rules_pb2.Score:  # type: ignore[no-untyped-def]
    o = order(order_id, line("a", 10_000), customer_id=customer_id, placed_at=datetime.now(UTC))
    return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score


async def test_a_first_order_campaign_pays_a_brand_new_customer_and_not_an_imported_one(stub) -> None:
    welcome = await _create(stub, campaign("welcome", percent_bps=1500, max_prior_orders=0))
    assert welcome.HasField("max_prior_orders") and welcome.max_prior_orders == 0
    past = order("old-1", line("past-order", 25_000), customer_id="known",
                 placed_at=datetime.now(UTC) - timedelta(days=200))
    imported = await stub.ImportOrders(rules_pb2.ImportOrdersRequest(merchant_id="m1", orders=[past]), metadata=OPS)
    assert imported.imported == 1

    new = await _score(stub, "n1", "brand-new")
    assert new.total.amount_minor == 1_500
    known = await _score(stub, "k1", "known")
    assert known.total.amount_minor == 0
    assert [(s.campaign_id, s.code) for s in known.skipped] == [
        ("welcome", rules_pb2.SKIP_REASON_TOO_MANY_PRIOR_ORDERS)]
    assert known.skipped[0].reason == "only for a customer's first order; this customer has an earlier order"
    # The new customer's second order is no longer a first order.
    assert (await _score(stub, "n2", "brand-new")).total.amount_minor == 0


async def test_max_prior_orders_below_zero_or_below_min_prior_orders_is_refused(stub) -> None:
    for bad in (campaign("a", percent_bps=100, max_prior_orders=-1),
                campaign("b", percent_bps=100, min_prior_orders=3, max_prior_orders=2)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _create(stub, bad)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "campaign.max_prior_orders" in (err.value.details() or "")


async def test_an_update_keeps_max_prior_orders_unless_the_mask_names_it(stub) -> None:
    await _create(stub, campaign("welcome", percent_bps=1500, max_prior_orders=0))

    async def update(patch: rules_pb2.Campaign, *paths: str) -> rules_pb2.Campaign:
        req = rules_pb2.UpdateCampaignRequest(campaign=patch)
        req.update_mask.paths.extend(paths)
        return (await stub.UpdateCampaign(req, metadata=OPS)).campaign

    renamed = await update(rules_pb2.Campaign(merchant_id="m1", campaign_id="welcome", name="Welcome!"), "name")
    assert renamed.HasField("max_prior_orders") and renamed.max_prior_orders == 0
    cleared = await update(rules_pb2.Campaign(merchant_id="m1", campaign_id="welcome"), "max_prior_orders")
    assert not cleared.HasField("max_prior_orders")
    assert (await _score(stub, "o1", "c9")).total.amount_minor == 1_500
    assert (await _score(stub, "o2", "c9")).total.amount_minor == 1_500  # no upper bound any more
