"""`cashbackctl audit-log` against rules, wallet and notify as real processes on
PostgreSQL: ops changes of both services, merged newest first, by key id."""

from __future__ import annotations

import hashlib
import json

import grpc
import pytest
from cashback.notify.v1 import notify_pb2, notify_pb2_grpc
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from typer.testing import CliRunner

from cashback_kit.client import bearer
from cashbackctl.main import app
from tests.support.keys import TEST_KEYS
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
runner = CliRunner()
OPS = bearer(TEST_KEYS["ops"])


def test_audit_log_merges_rules_and_notify_changes_newest_first_naming_the_key_by_its_id(stack: Stack) -> None:
    with grpc.insecure_channel(stack.procs["rules"].target) as rch, \
            grpc.insecure_channel(stack.procs["notify"].target) as nch:
        rules, notify = rules_pb2_grpc.RulesServiceStub(rch), notify_pb2_grpc.NotifyServiceStub(nch)
        rules.CreateCampaign(rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(
            merchant_id="m2", campaign_id="aud-1", name="audit me", currency_code="SAR", percent_bps=300)),
            metadata=OPS, timeout=10)
        notify.UpsertContact(notify_pb2.UpsertContactRequest(contact=notify_pb2.Contact(
            merchant_id="m2", customer_id="c-aud", phone_e164="+966500000001", locale="ar-SA",
            timezone="Asia/Riyadh", sms_opt_in=True)), metadata=OPS, timeout=10)
        rules.SetCampaignStatus(rules_pb2.SetCampaignStatusRequest(
            merchant_id="m2", campaign_id="aud-1", status=rules_pb2.CAMPAIGN_STATUS_ACTIVE), metadata=OPS, timeout=10)
    env = {**stack.client_env(), "COLUMNS": "200"}
    result = runner.invoke(app, ["--merchant", "m2", "--json", "audit-log"], env=env)
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)["events"]
    assert [(e["service"], e["action"]) for e in events] == [
        ("rules", "SetCampaignStatus"), ("notify", "UpsertContact"), ("rules", "CreateCampaign")]
    key_id = hashlib.sha256(TEST_KEYS["ops"].encode()).hexdigest()[:8]
    assert {e["key_id"] for e in events} == {key_id}
    assert TEST_KEYS["ops"] not in result.output
    assert json.loads(events[0]["change_json"]) == {"from": "DRAFT", "to": "ACTIVE"}
    only = runner.invoke(app, ["--merchant", "m2", "--json", "audit-log", "--action", "CreateCampaign"], env=env)
    assert [e["target"] for e in json.loads(only.output)["events"]] == ["aud-1"]
    table = runner.invoke(app, ["--merchant", "m2", "audit-log", "-n", "2"], env=env)
    assert table.exit_code == 0 and "SetCampaignStatus" in table.output and "CreateCampaign" not in table.output


def test_audit_log_names_a_service_it_cannot_reach_and_shows_the_others(stack: Stack) -> None:
    env = {**stack.client_env(), "NOTIFY_ADDR": "127.0.0.1:9", "COLUMNS": "200"}
    result = runner.invoke(app, ["--merchant", "m2", "--json", "audit-log"], env=env)
    assert result.exit_code == 0, result.output
    assert "notify: UNAVAILABLE" in result.stderr
    assert {e["service"] for e in json.loads(result.stdout)["events"]} <= {"rules"}
