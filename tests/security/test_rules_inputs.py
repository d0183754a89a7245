"""Issue 15, point 9 (rules): what rules stores is checked (no control or bidi
characters, bounded lengths and counts, amounts far inside int64), every violation
at once, nothing written; errors carry ErrorInfo reasons. The real rules service
on PostgreSQL over real gRPC."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from google.protobuf.field_mask_pb2 import FieldMask

from tests.rules.builders import campaign, line, money, order, ts
from tests.security.conftest import rich_details
from tests.support.servers import auth, running_service

OPS, SVC = auth("ops"), auth("service")


@pytest.fixture
async def stub(pg_url: str):
    async with running_service("rules", database_url=pg_url) as svc:
        yield rules_pb2_grpc.RulesServiceStub(svc.channel)


async def _refused(call, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT) -> tuple[str, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() is code, err.value.details()
    info, fields = rich_details(err.value)
    return info.reason, fields


async def test_a_campaign_with_control_characters_huge_lists_and_an_int64_budget_is_refused_whole(stub) -> None:
    bad = campaign("c1", percent_bps=1000, budget=2**62, description="line one\x00",
                   include_skus=["ok", "x" * 1_000_000], tier_percent_bps={"gold\r\n": 500})
    bad.name = "Black\u202eFriday"
    bad.max_per_order.CopyFrom(money(2**61))
    _, fields = await _refused(stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=bad), metadata=OPS))
    assert {"campaign.name", "campaign.description", "campaign.include_skus[1]", "campaign.budget.amount_minor",
            "campaign.max_per_order.amount_minor"} <= set(fields)
    assert any(f.startswith("campaign.tier_percent_bps[") for f in fields)
    reason, _ = await _refused(stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="c1"),
                                                metadata=OPS), grpc.StatusCode.NOT_FOUND)
    assert reason == "CAMPAIGN_NOT_FOUND"  # nothing was stored


async def test_an_update_that_would_store_a_nul_is_refused_and_keeps_the_version(stub) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("c1", percent_bps=1000)),
                              metadata=OPS)
    patch = campaign("c1", description="fine\x00then not")
    _, fields = await _refused(stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(
        campaign=patch, update_mask=FieldMask(paths=["description"])), metadata=OPS))
    assert fields == ["campaign.description"]
    got = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="c1"), metadata=OPS)
    assert got.campaign.version == 1


async def test_an_order_with_control_characters_in_what_rules_stores_is_refused_and_records_nothing(stub) -> None:
    o = order("o1", line("sku\x00", 10_000, categories=("shoes\x1b[2J",)))
    o.coupon_codes.append("SAVE\u202e10")
    o.placed_at.CopyFrom(ts(datetime.now(UTC)))
    _, fields = await _refused(stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=o), metadata=SVC))
    assert {"order.lines[0].sku", "order.lines[0].category_ids[0]", "order.coupon_codes[0]"} <= set(fields)
    profile = await stub.GetCustomerProfile(rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id="c1"),
                                            metadata=OPS)
    assert profile.profile.order_count == 0


async def test_tier_names_are_checked_like_every_stored_string(stub) -> None:
    _, fields = await _refused(stub.SetCustomerTier(rules_pb2.SetCustomerTierRequest(
        merchant_id="m1", customer_id="c1", tier="gold\x07"), metadata=OPS))
    assert fields == ["tier"]
    _, fields = await _refused(stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=[
        rules_pb2.Tier(name="vip\x00", min_spend=money(2**62), window_days=30)]), metadata=OPS))
    assert {"tiers[0].name", "tiers[0].min_spend.amount_minor"} <= set(fields)


async def test_rules_errors_carry_a_reason_callers_can_branch_on(stub) -> None:
    await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("c1", percent_bps=1000)),
                              metadata=OPS)
    await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
        merchant_id="m1", campaign_id="c1", status=rules_pb2.CAMPAIGN_STATUS_ENDED), metadata=OPS)
    reason, _ = await _refused(stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
        merchant_id="m1", campaign_id="c1", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE), metadata=OPS),
        grpc.StatusCode.FAILED_PRECONDITION)
    assert reason == "CAMPAIGN_ENDED"
    reason, _ = await _refused(stub.ReverseOrder(rules_pb2.ReverseOrderRequest(
        merchant_id="m1", order_id="never", refund_id="r1", refunded_amount=money(100)), metadata=SVC),
        grpc.StatusCode.NOT_FOUND)
    assert reason == "ORDER_NOT_SCORED"
    reason, _ = await _refused(stub.CreateCampaign(rules_pb2.CreateCampaignRequest(
        campaign=campaign("c1", percent_bps=2000)), metadata=OPS), grpc.StatusCode.ALREADY_EXISTS)
    assert reason == "IDEMPOTENCY_KEY_REUSED"
