"""Issue 15, point 10 (rules): every ops mutation records the calling key's id
(never the key), the time and what changed; ListAuditEvents shows a merchant's
rows to ops keys of that merchant. The real rules service on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import text

from tests.rules.builders import campaign, money
from tests.support.keys import TEST_KEYS
from tests.support.servers import auth, running_service

OPS, OPS_ALL = auth("ops"), auth("ops_all")


def _key_id(role: str) -> str:
    return hashlib.sha256(TEST_KEYS[role].encode()).hexdigest()[:8]


async def _events(stub, merchant_id: str = "m1", **kw) -> list[common_pb2.AuditEvent]:
    got = await stub.ListAuditEvents(rules_pb2.ListAuditEventsRequest(merchant_id=merchant_id, **kw), metadata=OPS)
    return list(got.events)


async def test_every_ops_change_in_rules_names_the_key_by_its_id_and_says_what_changed(pg_url: str) -> None:
    async with running_service("rules", database_url=pg_url) as rules:
        stub = rules_pb2_grpc.RulesServiceStub(rules.channel)
        before = datetime.now(UTC)
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", percent_bps=1000)),
                                  metadata=OPS)
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign("ten", percent_bps=1000)),
                                  metadata=OPS)  # a replay changes nothing, so records nothing
        await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(
            campaign=campaign("ten", percent_bps=2500), update_mask=FieldMask(paths=["percent_bps"])),
            metadata=OPS_ALL)
        with pytest.raises(grpc.aio.AioRpcError):  # refused: nothing changed, nothing recorded
            await stub.UpdateCampaign(rules_pb2.UpdateCampaignRequest(
                campaign=campaign("ten", percent_bps=20_000), update_mask=FieldMask(paths=["percent_bps"])),
                metadata=OPS)
        await stub.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
            merchant_id="m1", campaign_id="ten", status=rules_pb2.CAMPAIGN_STATUS_PAUSED), metadata=OPS)
        await stub.UpsertTierPolicy(rules_pb2.UpsertTierPolicyRequest(merchant_id="m1", tiers=[
            rules_pb2.Tier(name="gold", min_spend=money(100_000), window_days=365)]), metadata=OPS)
        await stub.SetCustomerTier(rules_pb2.SetCustomerTierRequest(merchant_id="m1", customer_id="c1", tier="gold"),
                                   metadata=OPS)
        await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(
            campaign=campaign("other", merchant_id="m2", percent_bps=100)), metadata=OPS)
        events = await _events(stub)
        assert [(e.action, e.target) for e in events] == [
            ("SetCustomerTier", "c1"), ("UpsertTierPolicy", "tier_policy"), ("SetCampaignStatus", "ten"),
            ("UpdateCampaign", "ten"), ("CreateCampaign", "ten")]
        assert [e.key_id for e in events] == [_key_id("ops")] * 3 + [_key_id("ops_all"), _key_id("ops")]
        assert all(e.role == "ops" and e.merchant_id == "m1" for e in events)
        assert all(before <= e.at.ToDatetime(tzinfo=UTC) <= datetime.now(UTC) for e in events)
        changes = [json.loads(e.change_json) for e in events]
        assert changes[0] == {"tier": "gold"}
        assert changes[1]["tiers"][0]["name"] == "gold"
        assert changes[2] == {"from": "ACTIVE", "to": "PAUSED"}
        assert changes[3] == {"version": 2, "percent_bps": 2500}
        assert changes[4]["version"] == 1 and changes[4]["percent_bps"] == 1000
        # Never the key itself, anywhere in the table.
        async with rules.db.read() as conn:
            dump = json.dumps([list(r) for r in (await conn.execute(text("SELECT * FROM rules_audit"))).all()],
                              default=str)
        assert TEST_KEYS["ops"] not in dump and TEST_KEYS["ops_all"] not in dump
        # Another merchant's rows are theirs; only its own ops keys may read them.
        assert [e.action for e in await _events(stub, "m2")] == ["CreateCampaign"]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListAuditEvents(rules_pb2.ListAuditEventsRequest(merchant_id="m3"), metadata=OPS)
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListAuditEvents(rules_pb2.ListAuditEventsRequest(merchant_id="m1"), metadata=auth("service"))
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_audit_events_page_newest_first_and_a_token_of_another_merchant_is_refused(pg_url: str) -> None:
    async with running_service("rules", database_url=pg_url) as rules:
        stub = rules_pb2_grpc.RulesServiceStub(rules.channel)
        for i in range(5):
            await stub.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=campaign(f"c{i}", percent_bps=100)),
                                      metadata=OPS)
        seen, token = [], ""
        while True:
            page = await stub.ListAuditEvents(rules_pb2.ListAuditEventsRequest(
                merchant_id="m1", page_size=2, page_token=token), metadata=OPS)
            seen += [e.target for e in page.events]
            token = page.next_page_token
            if not token:
                break
        assert seen == ["c4", "c3", "c2", "c1", "c0"]
        first = await stub.ListAuditEvents(rules_pb2.ListAuditEventsRequest(merchant_id="m1", page_size=2),
                                           metadata=OPS)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListAuditEvents(rules_pb2.ListAuditEventsRequest(
                merchant_id="m2", page_token=first.next_page_token), metadata=OPS)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        only = await _events(stub, action="SetCampaignStatus")
        assert only == []
