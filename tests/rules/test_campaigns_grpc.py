"""Campaign lifecycle over real gRPC: validation, versions, listing, status,
and the in-memory index seeing changes made by another rules process."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2, status_pb2

from tests.rules.builders import T0, campaign, line, money, order, override
from tests.rules.conftest import FIXED_DATES_BOOTSTRAP
from tests.support.servers import auth, running_service

OPS, SVC = auth("ops"), auth("service")


def violations(err: grpc.aio.AioRpcError) -> set[str]:
    details = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    status = status_pb2.Status.FromString(details)
    out: set[str] = set()
    for d in status.details:
        bad = error_details_pb2.BadRequest()
        d.Unpack(bad)
        out |= {v.field for v in bad.field_violations}
    return out


async def _create(stub, c):  # type: ignore[no-untyped-def]
    return (await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=c), metadata=OPS)).campaign


@pytest.mark.parametrize(("says", "fields", "bad_field"), [
    ("bps above 10000", {"percent_bps": 10001}, "campaign.percent_bps"),
    ("negative bps", {"percent_bps": -1}, "campaign.percent_bps"),
    ("ends before it starts", {"percent_bps": 100, "starts_at": T0, "ends_at": T0 - timedelta(days=1)},
     "campaign.ends_at"),
    ("an unknown time zone", {"percent_bps": 100, "timezone": "Mars/Olympus"}, "campaign.timezone"),
    ("neither percent nor fixed", {}, "campaign.reward"),
    ("a cap in another currency", {"percent_bps": 100, "max_per_order": money(100, "USD")},
     "campaign.max_per_order.currency_code"),
    ("a negative budget", {"percent_bps": 100, "budget": money(-1)}, "campaign.budget.amount_minor"),
    ("an event campaign without event type", {"fixed": money(500), "trigger": rules_pb2.TRIGGER_EVENT},
     "campaign.event_type"),
    ("an unknown channel", {"percent_bps": 100, "channels": [9]}, "campaign.channels[0]"),
    ("an override rate above 10000", {"percent_bps": 100, "rate_overrides": [override(20000, sku="a")]},
     "campaign.rate_overrides[0].percent_bps"),
    ("created as PAUSED", {"percent_bps": 100, "status": rules_pb2.CAMPAIGN_STATUS_PAUSED}, "campaign.status"),
])
async def test_bad_campaigns_are_invalid_argument_with_field_violations_and_store_nothing(
        stub, says, fields, bad_field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _create(stub, campaign("bad", **fields))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, says
    assert bad_field in violations(err.value), (says, violations(err.value))
    listed = await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(merchant_id="m1"), metadata=OPS)
    assert not listed.campaigns


async def test_all_violations_are_reported_together(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _create(stub, campaign("bad", percent_bps=20000, timezone="Nowhere/Here", pending_days=-3))
    assert {"campaign.percent_bps", "campaign.timezone", "campaign.pending_days"} <= violations(err.value)


async def test_create_is_idempotent_by_campaign_id(stub) -> None:
    first = await _create(stub, campaign("ten", percent_bps=1000))
    assert await _create(stub, campaign("ten", percent_bps=1000)) == first
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _create(stub, campaign("ten", percent_bps=2000))
    assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS and "ten" in err.value.details()


async def test_updates_make_versions_and_a_scored_order_keeps_its_version(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    first = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order("o1", line("a", 10000))),
                                   metadata=SVC)).score
    upd = rules_pb2.UpdateCampaignRequest(campaign=campaign("ten", percent_bps=2000),
                                          update_mask=FieldMask(paths=["percent_bps"]))
    v2 = (await stub.UpdateCampaign(upd, metadata=OPS)).campaign
    assert v2.version == 2 and v2.percent_bps == 2000
    assert (await stub.UpdateCampaign(upd, metadata=OPS)).campaign.version == 2  # nothing changed: no new version
    second = (await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=order("o2", line("a", 10000))),
                                    metadata=SVC)).score
    assert (first.awards[0].campaign_version, first.total.amount_minor) == (1, 1000)
    assert (second.awards[0].campaign_version, second.total.amount_minor) == (2, 2000)
    old = await stub.GetCampaign(rules_pb2.GetCampaignRequest(merchant_id="m1", campaign_id="ten", version=1),
                                 metadata=OPS)
    assert old.campaign.percent_bps == 1000 and old.campaign.version == 1


async def test_update_refuses_unknown_or_immutable_mask_paths_and_ended_campaigns(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    for path in ("currency_code", "no_such_field", "budget_used"):
        upd = rules_pb2.UpdateCampaignRequest(campaign=campaign("ten", percent_bps=1), update_mask=FieldMask(
            paths=[path]))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.UpdateCampaign(upd, metadata=OPS)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, path
    await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
        merchant_id="m1", campaign_id="ten", status=rules_pb2.CAMPAIGN_STATUS_ENDED), metadata=OPS)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(campaign=campaign("ten", percent_bps=5)),
                                  metadata=OPS)
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_list_pages_with_opaque_tokens_and_filters_by_status(stub) -> None:
    for i in range(5):
        status = rules_pb2.CAMPAIGN_STATUS_ACTIVE if i % 2 == 0 else rules_pb2.CAMPAIGN_STATUS_DRAFT
        await _create(stub, campaign(f"c{i}", percent_bps=100, status=status))
    seen, token = [], ""
    while True:
        page = await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(merchant_id="m1", page_size=2,
                                                                       page_token=token), metadata=OPS)
        seen += [c.campaign_id for c in page.campaigns]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    active = await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(
        merchant_id="m1", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE), metadata=OPS)
    assert [c.campaign_id for c in active.campaigns] == ["c0", "c2", "c4"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListCampaigns(rules_pb2.ListCampaignsRequest(merchant_id="m1", page_token="garbage"),
                                 metadata=OPS)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_campaign_change_made_by_another_rules_process_is_seen_at_once(rules, stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    url = rules.settings.database_url
    async with running_service("rules", database_url=url, bootstrap=FIXED_DATES_BOOTSTRAP) as other:
        other_stub = rules_pb2_grpc.RulesServiceStub(other.channel)
        quote = rules_pb2.QuoteOrderRequest(order=order("q", line("a", 10000)))
        assert (await other_stub.QuoteOrder(quote, metadata=SVC)).score.total.amount_minor == 1000
        await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(
            campaign=campaign("ten", percent_bps=3000), update_mask=FieldMask(paths=["percent_bps"])), metadata=OPS)
        assert (await other_stub.QuoteOrder(quote, metadata=SVC)).score.total.amount_minor == 3000
        await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
            merchant_id="m1", campaign_id="ten", status=rules_pb2.CAMPAIGN_STATUS_PAUSED), metadata=OPS)
        assert (await other_stub.QuoteOrder(quote, metadata=SVC)).score.total.amount_minor == 0


async def test_bad_orders_are_invalid_argument_and_record_nothing(stub) -> None:
    await _create(stub, campaign("ten", percent_bps=1000))
    bad = order("o1", line("a", 10000, quantity=0), line("b", 100, discount=200))
    bad.lines[0].unit_price.currency_code = "USD"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ScoreOrder(rules_pb2.ScoreOrderRequest(order=bad), metadata=SVC)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert {"order.lines[0].quantity", "order.lines[0].unit_price.currency_code",
            "order.lines[1].line_discount"} <= violations(err.value)
    profile = await stub.GetCustomerProfile(rules_pb2.GetCustomerProfileRequest(merchant_id="m1", customer_id="c1"),
                                            metadata=OPS)
    assert profile.profile.order_count == 0


async def test_an_update_naming_an_unprintable_id_is_invalid_argument_naming_the_field(stub) -> None:
    bad = rules_pb2.Campaign(merchant_id="m1", campaign_id="\x00")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(campaign=bad), metadata=OPS)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err.value) == {"campaign.campaign_id"}
