"""ImportOrders over real gRPC on PostgreSQL: past orders enter the customer's
history (prior orders, tier spend), earn nothing, use no budget, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2
from google.rpc import error_details_pb2, status_pb2

from tests.rules.builders import campaign, line, money, order
from tests.support.servers import auth

OPS, SVC, CHECKOUT = auth("ops"), auth("service"), auth("checkout")


def past(order_id: str, amount: int = 10_000, *, customer_id: str = "c1", days_ago: int = 30,
         merchant_id: str = "") -> rules_pb2.Order:
    """A past order as the CSV import sends it: one line, placed `days_ago` days ago."""
    o = order(order_id, line("past-order", amount), customer_id=customer_id,
              placed_at=datetime.now(UTC) - timedelta(days=days_ago))
    o.merchant_id = merchant_id
    return o


async def _import(stub, *orders: rules_pb2.Order, merchant_id: str = "m1") -> tuple[int, int]:  # type: ignore[no-untyped-def]
    resp = await stub.ImportOrders(rules_pb2.ImportOrdersRequest(merchant_id=merchant_id, orders=list(orders)),
                                   metadata=OPS)
    return resp.imported, resp.already_present


async def _profile(stub, customer_id: str = "c1") -> rules_pb2.CustomerProfile:  # type: ignore[no-untyped-def]
    req = rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=customer_id)
    return (await stub.GetCustomerProfile(req, metadata=OPS)).profile


async def _score(stub, o: rules_pb2.Order) -> rules_pb2.Score:  # type: ignore[no-untyped-def]
    return (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC)).score


def _violations(exc: grpc.aio.AioRpcError) -> list[str]:
    out: list[str] = []
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    out += [v.field for v in bad.field_violations]
    return out


async def test_imported_orders_count_as_prior_orders_and_earn_nothing_nor_use_budget(stub) -> None:
    created = await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(
        "loyal", percent_bps=500, min_prior_orders=3, budget=1_000_000)), metadata=OPS)
    assert created.campaign.status == rules_pb2.CAMPAIGN_STATUS_ACTIVE
    assert await _import(stub, past("h1"), past("h2"), past("h3")) == (3, 0)
    assert (await _profile(stub)).order_count == 3
    score = await _score(stub, order("o4", line("a", 10_000), placed_at=datetime.now(UTC)))
    assert score.total.amount_minor == 500  # the three imported orders are its earlier orders
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="loyal"), metadata=OPS)
    assert got.campaign.budget_used.amount_minor == 500  # o4 only
    assert (await _profile(stub)).order_count == 4


async def test_an_order_already_scored_or_imported_is_already_present_and_left_unchanged(stub) -> None:
    scored = order("o1", line("a", 10_000), placed_at=datetime.now(UTC))
    first = await _score(stub, scored)
    assert await _import(stub, past("o1", 99_999), past("h2")) == (1, 1)
    assert await _import(stub, past("o1"), past("h2"), past("h3")) == (1, 2)
    assert (await _profile(stub)).order_count == 3
    # The scored order keeps its score: a replay returns it, not the imported content.
    assert await _score(stub, scored) == first


async def test_scoring_an_imported_order_id_is_already_exists_and_says_why(stub) -> None:
    assert await _import(stub, past("h1")) == (1, 0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _score(stub, order("h1", line("a", 10_000), placed_at=datetime.now(UTC)))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "imported" in (err.value.details() or "")
    assert (await _profile(stub)).order_count == 1


async def test_imported_spend_counts_towards_the_tier_window_and_older_spend_does_not(stub) -> None:
    tiers = [rules_pb2.Tier(name="silver", min_spend=money(100_000), window_days=30)]
    await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=tiers), metadata=OPS)
    assert await _import(stub, past("h1", 80_000, days_ago=10), past("h2", 40_000, days_ago=20),
                         past("h3", 500_000, days_ago=90)) == (3, 0)
    p = await _profile(stub)
    assert (p.tier, p.spend_in_window.amount_minor, p.order_count) == ("silver", 120_000, 3)


async def test_a_bad_batch_names_every_bad_field_and_imports_nothing(stub) -> None:
    future = past("h4", days_ago=-2)
    no_time = past("h5")
    no_time.ClearField("placed_at")
    negative = past("h6")
    negative.lines[0].unit_price.amount_minor = -1
    batch = [past("h1"), past("h1"), past("h2", merchant_id="m2"), future, no_time, negative]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _import(stub, *batch)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(err.value) == ["orders[1].order_id", "orders[2].merchant_id", "orders[3].placed_at",
                                      "orders[4].placed_at", "orders[5].lines[0].unit_price.amount_minor"]
    assert (await _profile(stub)).order_count == 0
    assert await _import(stub, past("h1")) == (1, 0)  # nothing of the refused batch was written


async def test_an_empty_or_oversized_batch_is_refused(stub) -> None:
    for orders in ([], [past(f"h{i}") for i in range(1001)]):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _import(stub, *orders)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _violations(err.value) == ["orders"]


async def test_only_an_ops_key_of_the_merchant_may_import(stub) -> None:
    req = rules_pb2.ImportOrdersRequest(merchant_id="m1", orders=[past("h1")])
    for key in (CHECKOUT, SVC):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ImportOrders(req, metadata=key)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    other = rules_pb2.ImportOrdersRequest(merchant_id="m3", orders=[past("h1")])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ImportOrders(other, metadata=OPS)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_concurrent_imports_and_scoring_of_the_same_customers_count_every_order_once(stub) -> None:
    customers = [f"c{i}" for i in range(20)]
    orders = [past(f"h{i}", customer_id=customers[i % 20]) for i in range(400)]
    # Four overlapping imports (each order in two of them), in opposite orders, and scoring meanwhile.
    batches = [orders[:200], orders[100:300], orders[200:][::-1], orders[:100] + orders[300:]]
    scored = [order(f"live{i}", line("a", 1_000), customer_id=c, placed_at=datetime.now(UTC))
              for i, c in enumerate(customers)]
    results = await asyncio.gather(*(_import(stub, *b) for b in batches), *(_score(stub, o) for o in scored))
    imports = results[:4]
    assert sum(n for n, _ in imports) == 400 and sum(n + k for n, k in imports) == 800  # type: ignore[misc]
    counts = [(await _profile(stub, c)).order_count for c in customers]
    assert counts == [21] * 20  # 20 imported + 1 scored each


async def test_a_refund_of_an_imported_order_takes_nothing_back_and_in_full_stops_it_counting(stub) -> None:
    assert await _import(stub, past("h1", 10_000), past("h2", 10_000)) == (2, 0)

    async def refund(refund_id: str, order_id: str, amount: int) -> rules_pb2.Reversal:
        req = rules_pb2.ReverseOrderRequest(merchant_id="m1", order_id=order_id, refund_id=refund_id,
                                            refunded_amount=money(amount))
        return (await stub.ReverseOrder(req, metadata=SVC)).reversal

    partial = await refund("r1", "h1", 4_000)
    assert partial.total.amount_minor == 0 and not partial.awards
    assert (await _profile(stub)).order_count == 2
    await refund("r2", "h1", 6_000)
    assert (await _profile(stub)).order_count == 1
