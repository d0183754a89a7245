"""All three services as real processes: health, reflection, graceful stop, and the
API-key rules at the edge."""

from __future__ import annotations

import grpc
import pytest
from cashback.rules.v1 import rules_pb2, rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cashback_kit.client import bearer
from tests.support.keys import TEST_KEYS, process_env

pytestmark = pytest.mark.e2e

SERVICES = {
    "rules": "cashback.rules.v1.RulesService",
    "wallet": "cashback.wallet.v1.WalletService",
    "notify": "cashback.notify.v1.NotifyService",
}


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_reports_serving_on_grpc_health(stack, name):
    with grpc.insecure_channel(stack[name].target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        overall = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        own = stub.Check(health_pb2.HealthCheckRequest(service=SERVICES[name]), timeout=5)
    assert overall.status == health_pb2.HealthCheckResponse.SERVING
    assert own.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_lists_its_api_through_reflection(stack, name):
    with grpc.insecure_channel(stack[name].target) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        responses = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                   timeout=5))
    names = {s.name for s in responses[0].list_services_response.service}
    assert SERVICES[name] in names
    assert "grpc.health.v1.Health" in names


def test_a_call_without_a_key_is_unauthenticated(stack):
    with grpc.insecure_channel(stack["wallet"].target) as ch:
        with pytest.raises(grpc.RpcError) as info:
            wallet_pb2_grpc.WalletServiceStub(ch).GetBalance(
                wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="c1", currency_code="SAR"), timeout=5
            )
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_key_of_merchant_a_used_on_merchant_b_is_permission_denied(stack):
    with grpc.insecure_channel(stack["wallet"].target) as ch:
        with pytest.raises(grpc.RpcError) as info:
            wallet_pb2_grpc.WalletServiceStub(ch).GetBalance(
                wallet_pb2.GetBalanceRequest(merchant_id="m2", customer_id="c1", currency_code="SAR"),
                metadata=bearer(TEST_KEYS["checkout"]),
                timeout=5,
            )
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_an_app_key_calling_an_ops_rpc_is_permission_denied(stack):
    with grpc.insecure_channel(stack["rules"].target) as ch:
        with pytest.raises(grpc.RpcError) as info:
            rules_pb2_grpc.RulesServiceStub(ch).CreateCampaign(
                rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m1", name="x")),
                metadata=bearer(TEST_KEYS["app"]),
                timeout=5,
            )
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_sigterm_stops_a_service_cleanly(tmp_path, pg_url):
    from cashback_kit.procs import start_process

    proc = start_process("rules", process_env(tmp_path, pg_url, CASHBACK_SHUTDOWN_GRACE="1"))
    assert proc.terminate() == 0
    assert any('"stopped"' in line for line in proc.log_lines)


def test_metrics_count_rpcs_by_method_and_code(stack):
    import re
    import urllib.request

    test_a_call_without_a_key_is_unauthenticated(stack)
    line = next(x for x in stack["wallet"].log_lines if " metrics on " in x)
    url = re.search(r"(http://\S+)", line).group(1)
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    assert re.search(r'cashback_rpc_total\{code="UNAUTHENTICATED",method="GetBalance"\} [1-9]', body), body[:2000]
    assert "cashback_rpc_seconds_bucket" in body


def test_wallet_metrics_count_committed_ledger_transactions(stack):
    import re
    import urllib.request

    from cashback.common.v1 import common_pb2

    with grpc.insecure_channel(stack["wallet"].target) as ch:
        wallet_pb2_grpc.WalletServiceStub(ch).AdjustBalance(
            wallet_pb2.AdjustBalanceRequest(merchant_id="m1", customer_id="metrics-c", reason="test",
                                            idempotency_key="metrics-1",
                                            amount=common_pb2.Money(currency_code="SAR", amount_minor=100)),
            metadata=bearer(TEST_KEYS["ops"]), timeout=5)
    line = next(x for x in stack["wallet"].log_lines if " metrics on " in x)
    body = urllib.request.urlopen(re.search(r"(http://\S+)", line).group(1), timeout=5).read().decode()
    assert re.search(r'cashback_ledger_transactions_total\{type="adjustment"\} 1\.0', body), body[-3000:]


def test_tracing_is_off_by_default_and_spans_appear_when_configured(tmp_path, pg_url):
    from cashback_kit.procs import start_process

    env = process_env(tmp_path, pg_url)
    for mode, expect in (("off", False), ("console", True)):
        proc = start_process("rules", {**env, "CASHBACK_TRACING": mode})
        with grpc.insecure_channel(proc.target) as ch:
            health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        proc.terminate()
        traced = any('"name": "/grpc.health.v1.Health/Check"' in line for line in proc.log_lines)
        assert traced is expect, f"tracing={mode}"


def test_notify_metrics_show_stream_lag_and_deliveries_by_status(stack):
    import re
    import urllib.request

    line = next(x for x in stack["notify"].log_lines if " metrics on " in x)
    body = urllib.request.urlopen(re.search(r"(http://\S+)", line).group(1), timeout=5).read().decode()
    assert "cashback_notify_stream_lag_seconds" in body and "cashback_notify_stream_cursor" in body
    assert "# TYPE cashback_deliveries_total counter" in body


def test_log_lines_carry_the_callers_request_id(stack):
    import json
    import time

    with grpc.insecure_channel(stack["wallet"].target) as ch, pytest.raises(grpc.RpcError):
        wallet_pb2_grpc.WalletServiceStub(ch).GetBalance(
            wallet_pb2.GetBalanceRequest(merchant_id="m2", customer_id="c1", currency_code="SAR"),
            metadata=(*bearer(TEST_KEYS["checkout"]), ("x-request-id", "req-trace-4711")), timeout=5)
    for _ in range(50):
        lines = [json.loads(x) for x in stack["wallet"].log_lines if "req-trace-4711" in x]
        if lines:
            break
        time.sleep(0.05)
    assert lines and lines[0]["request_id"] == "req-trace-4711" and lines[0]["code"] == "PERMISSION_DENIED"
