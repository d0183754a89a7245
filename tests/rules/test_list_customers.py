"""ListCustomers over real gRPC on PostgreSQL: a promotion's audience by RFM
segment, tier and inactivity, paged by signed keyset tokens, customers known
only from imported history included; bad filters name their field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2

from cashback_kit.errors import InvalidArgument
from cashback_services.rules.domain.rfm import SEGMENTS
from cashback_services.rules.service_layer.audience import AudienceFilter, check_filter
from tests.rules.builders import line, money, order
from tests.support.servers import auth
from tests.support.sql import recorded

OPS, NOTIFY, APP = auth("ops"), auth("notify_service"), auth("app")


def _past(order_id: str, customer_id: str, amount: int, days_ago: float) -> rules_pb2.Order:
    return order(
        order_id,
        line("past-order", amount),
        customer_id=customer_id,
        placed_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


async def _imported(stub) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """30 customers with a spread of histories, imported; each one's segment once computed."""
    orders = []
    for k in range(30):
        orders += [_past(f"c{k:02d}-{j}", f"c{k:02d}", 10_000 * (k % 6 + 1), 11 * k + 25 * j) for j in range(k % 4 + 1)]
    started = datetime.now(UTC)
    await stub.ImportOrders(rules_pb2.ImportOrdersRequest(merchant_id="m1", orders=orders), metadata=OPS)
    for _ in range(100):
        got = await stub.ListSegments(rules_pb2.ListSegmentsRequest(merchant_id="m1"), metadata=OPS)
        if got.HasField("computed_at") and got.computed_at.ToDatetime(tzinfo=UTC) >= started:
            break
        await asyncio.sleep(0.2)
    segments = {}
    for k in range(30):
        profile = (
            await stub.GetCustomerProfile(
                rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id=f"c{k:02d}"), metadata=OPS
            )
        ).profile
        segments[f"c{k:02d}"] = profile.rfm.segment
    return segments


async def _all(stub, metadata=OPS, **filters) -> list[rules_pb2.CustomerSummary]:  # type: ignore[no-untyped-def]
    out: list[rules_pb2.CustomerSummary] = []
    req = rules_pb2.ListCustomersRequest(merchant_id="m1", page_size=4, **filters)
    while True:
        resp = await stub.ListCustomers(req, metadata=metadata)
        out += resp.customers
        if not resp.next_page_token:
            return out
        req.page_token = resp.next_page_token


async def test_a_segment_lists_exactly_its_customers_in_id_order_across_pages(stub) -> None:
    segments = await _imported(stub)
    at_risk = sorted(c for c, s in segments.items() if s == "at_risk")
    assert at_risk, segments  # the history puts some customers there
    listed = await _all(stub, metadata=NOTIFY, segments=["at_risk"])
    assert [c.customer_id for c in listed] == at_risk
    assert all(c.segment == "at_risk" and c.order_count >= 1 and c.HasField("last_order_at") for c in listed)
    both = await _all(stub, segments=["at_risk", "lost"])
    assert [c.customer_id for c in both] == sorted(c for c, s in segments.items() if s in ("at_risk", "lost"))


async def test_every_customer_is_listed_including_one_known_only_by_a_manual_tier(stub) -> None:
    await _imported(stub)
    await stub.SetCustomerTier(
        rules_pb2.SetCustomerTierRequest(merchant_id="m1", customer_id="walk-in", tier="vip"), metadata=OPS
    )
    listed = await _all(stub)
    assert [c.customer_id for c in listed] == sorted([f"c{k:02d}" for k in range(30)] + ["walk-in"])
    walk_in = next(c for c in listed if c.customer_id == "walk-in")
    assert (walk_in.tier, walk_in.order_count, walk_in.segment, walk_in.HasField("last_order_at")) == (
        "vip",
        0,
        "",
        False,
    )


async def test_tiers_follow_the_policy_and_manual_tiers(stub) -> None:
    await _imported(stub)
    policy = rules_pb2.UpsertTierPolicyRequest(merchant_id="m1")
    policy.tiers.add(name="gold", min_spend=money(150_000), window_days=365)
    await stub.UpsertTierPolicy(policy, metadata=OPS)
    await stub.SetCustomerTier(
        rules_pb2.SetCustomerTierRequest(merchant_id="m1", customer_id="c00", tier="gold"), metadata=OPS
    )
    # Spend in the last 365 days: (k % 6 + 1) * 10,000 per order, k % 4 + 1 orders, the j-th 11k + 25j days ago.
    expected = {"c00"} | {
        f"c{k:02d}"
        for k in range(30)
        if sum(10_000 * (k % 6 + 1) for j in range(k % 4 + 1) if 11 * k + 25 * j < 365) >= 150_000
    }
    gold = await _all(stub, tiers=["gold"])
    assert {c.customer_id for c in gold} == expected and all(c.tier == "gold" for c in gold)
    assert len(expected) > 1


async def test_inactive_days_lists_only_customers_without_a_recent_order(stub) -> None:
    await _imported(stub)
    idle = await _all(stub, inactive_days=200)
    # c{k}'s latest order is 11k days ago: idle for 200 days from k = 19 on.
    assert [c.customer_id for c in idle] == [f"c{k:02d}" for k in range(19, 30)]
    cutoff = datetime.now(UTC) - timedelta(days=200)
    assert all(c.last_order_at.ToDatetime(tzinfo=UTC) < cutoff for c in idle)


async def test_bad_filters_and_foreign_tokens_are_refused_naming_the_field(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListCustomers(
            rules_pb2.ListCustomersRequest(merchant_id="m1", segments=["lost", "vips"]), metadata=OPS
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "segments[1]" in str(caught.value.details())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListCustomers(rules_pb2.ListCustomersRequest(merchant_id="m1", inactive_days=-1), metadata=OPS)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await _imported(stub)
    first = await stub.ListCustomers(rules_pb2.ListCustomersRequest(merchant_id="m1", page_size=2), metadata=OPS)
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # the token of another filter
        await stub.ListCustomers(
            rules_pb2.ListCustomersRequest(
                merchant_id="m1", page_size=2, inactive_days=5, page_token=first.next_page_token
            ),
            metadata=OPS,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_only_ops_and_notify_keys_may_list_customers(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListCustomers(rules_pb2.ListCustomersRequest(merchant_id="m1"), metadata=APP)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await stub.ListCustomers(rules_pb2.ListCustomersRequest(merchant_id="m1"), metadata=NOTIFY)).customers == []


def test_the_filter_check_names_each_bad_value() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_filter(AudienceFilter(segments=("champions", "big_spenders"), tiers=("",), inactive_days=40_000))
    fields = {v.field for v in caught.value.violations}
    assert fields == {"segments[1]", "tiers[0]", "inactive_days"}


async def test_a_page_is_one_statement_over_the_customers_whatever_its_size(rules, stub) -> None:
    await _imported(stub)
    policy = rules_pb2.UpsertTierPolicyRequest(merchant_id="m1")
    policy.tiers.add(name="gold", min_spend=money(150_000), window_days=365)
    policy.tiers.add(name="silver", min_spend=money(50_000), window_days=90)
    await stub.UpsertTierPolicy(policy, metadata=OPS)
    counts = []
    for size in (3, 30):
        with recorded(rules.db) as seen:
            got = await stub.ListCustomers(
                rules_pb2.ListCustomersRequest(
                    merchant_id="m1", page_size=size, tiers=["gold", "silver"], segments=list(SEGMENTS), inactive_days=1
                ),
                metadata=NOTIFY,
            )
        reads = [sql for sql, _ in seen if "rules_customers" in sql]
        assert len(reads) == 1 and "LIMIT" in reads[0]  # the page: segments, last order, spend per window
        counts.append(len(seen))
        assert got.customers
    assert counts[0] == counts[1] == 2, counts  # the tier policy, then the page
