"""Every RPC × role × merchant against the three services as processes: only the
combinations the contract (docs/api.md, Roles) allows get past the edge. The allowed table is written
out here from the contract, not imported from the code it checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from cashback_kit.client import bearer
from cashback_kit.procs import ServiceProcess, start_process
from tests.reliability.test_fuzz import SERVICES, rpcs
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import PgCluster

pytestmark = pytest.mark.e2e

CHECKOUT = {"QuoteOrder", "AwardOrder", "AwardEvent", "GetBalance", "AuthorizeRedemption", "CaptureRedemption",
            "VoidRedemption", "RefundOrder", "TransferCredit",
            "ConvertCredit"}
APP = {"GetBalance", "ListTransactions", "QuoteOrder", "GetContact"}
# Service-to-service: the wallet calling rules, notify reading the wallet and rules' customer list (all merchants).
SERVICE = {("rules", m) for m in ("ScoreOrder", "ScoreEvent", "ReverseOrder", "QuoteOrder", "GetCampaign",
                                  "GetCustomerProfile")} | \
          {("wallet", m) for m in ("StreamEvents", "GetBalance", "ListBalances", "ListExpiringCredits",
                                   "ListTransactions")} | {("rules", "ListCustomers")}  # a promotion's audience
KEY_MERCHANTS = {"ops": {"m1", "m2"}, "ops_all": None, "checkout": {"m1"}, "app": {"m1"}, "service": None}


def allowed(role: str, service: str, method: str, merchant: str) -> bool:
    merchants = KEY_MERCHANTS[role]
    if merchants is not None and merchant not in merchants:
        return False
    if role in ("ops", "ops_all"):
        return True
    if role == "checkout":
        return method in CHECKOUT and service in ("rules", "wallet")
    if role == "app":
        return method in APP
    return (service, method) in SERVICE


def request_for(desc, merchant: str) -> Message:
    msg = GetMessageClass(desc)()
    if "merchant_id" in desc.fields_by_name:
        msg.merchant_id = merchant
        return msg
    for f in desc.fields:
        if f.message_type is not None and "merchant_id" in f.message_type.fields_by_name:
            getattr(msg, f.name).merchant_id = merchant
            return msg
    return msg


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster) -> Iterator[dict[str, ServiceProcess]]:
    root: Path = tmp_path_factory.mktemp("access")
    env = process_env(root, pg_cluster.new_database_url("access"), WALLET_SWEEP_INTERVAL_SECONDS="0",
                      CASHBACK_LOG_LEVEL="WARNING")
    procs = {"rules": start_process("rules", env)}
    procs["wallet"] = start_process("wallet", {**env, "RULES_TARGET": procs["rules"].target})
    procs["notify"] = start_process("notify", {**env, "WALLET_TARGET": procs["wallet"].target})
    yield procs
    for p in procs.values():
        p.terminate()


def code_of(target: str, service: str, method: str, request: Message, key: str | None) -> grpc.StatusCode:
    desc = SERVICES[service].DESCRIPTOR.services_by_name[f"{service.capitalize()}Service"].methods_by_name[method]
    path = f"/{desc.containing_service.full_name}/{method}"
    out = GetMessageClass(desc.output_type).FromString
    md = bearer(key) if key else ()
    with grpc.insecure_channel(target) as ch:
        try:
            if desc.server_streaming:
                for _ in ch.unary_stream(path, response_deserializer=out,
                                         request_serializer=lambda m: m.SerializeToString())(request, metadata=md,
                                                                                             timeout=0.3):
                    break
            else:
                ch.unary_unary(path, response_deserializer=out,
                               request_serializer=lambda m: m.SerializeToString())(request, metadata=md, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("service", "method"), rpcs(), ids=lambda x: x)
def test_only_the_contracts_role_and_merchant_combinations_get_through(stack, service, method):
    desc = SERVICES[service].DESCRIPTOR.services_by_name[f"{service.capitalize()}Service"].methods_by_name[method]
    target = stack[service].target
    assert code_of(target, service, method, request_for(desc.input_type, "m1"), None) is \
        grpc.StatusCode.UNAUTHENTICATED
    denied = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}
    for role in KEY_MERCHANTS:
        for merchant in ("m1", "m3"):
            code = code_of(target, service, method, request_for(desc.input_type, merchant), TEST_KEYS[role])
            if allowed(role, service, method, merchant):
                assert code not in denied, f"{role} on {merchant} should reach {method}, got {code.name}"
            else:
                assert code is grpc.StatusCode.PERMISSION_DENIED, f"{role} on {merchant} reached {method}: {code.name}"
