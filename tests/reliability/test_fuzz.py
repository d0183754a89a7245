"""Bad input on every RPC of the three services (running as real processes):
hypothesis builds requests from the descriptors, with extreme and malformed
values. No answer may be INTERNAL or UNKNOWN, and a refused call changes no row
of the service it was sent to. The wallet's auditor is clean afterwards."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cashback.notify.v1 import notify_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings

from cashback_kit.client import bearer
from cashback_kit.procs import ServiceProcess, start_process
from cashback_services.wallet.auditor import audit_database
from tests.reliability.figures import record
from tests.reliability.protofuzz import strategy
from tests.support.keys import TEST_KEYS, process_env

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("CASHBACK_FUZZ_EXAMPLES", "25"))
SERVICES = {"rules": rules_pb2, "wallet": wallet_pb2, "notify": notify_pb2}
# Rows that other work may add while a refused call runs (notify following the wallet's stream).
BACKGROUND_TABLES = {"notify_inbox", "notify_deliveries", "notify_cursor", "notify_apscheduler_jobs"}
BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


def rpcs() -> list[tuple[str, str]]:
    return [(svc, m.name) for svc, mod in SERVICES.items() for s in mod.DESCRIPTOR.services_by_name.values()
            for m in s.methods]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pg_cluster) -> Iterator[tuple[dict[str, ServiceProcess], Path]]:
    root = tmp_path_factory.mktemp("fuzz")
    env = process_env(root, WALLET_SWEEP_INTERVAL_SECONDS="0", CASHBACK_LOG_LEVEL="WARNING")
    procs = {"rules": start_process("rules", env)}
    procs["wallet"] = start_process("wallet", {**env, "RULES_TARGET": procs["rules"].target})
    # Notify is PostgreSQL only (issue 14): until the others follow, it alone gets the cluster.
    notify_db = pg_cluster.url(pg_cluster.create_database())
    procs["notify"] = start_process("notify", {**env, "WALLET_TARGET": procs["wallet"].target,
                                               "NOTIFY_DATABASE_URL": notify_db})
    try:
        yield procs, root
    finally:
        for p in procs.values():
            p.terminate()
        violations = asyncio.run(audit_database(f"sqlite+aiosqlite:///{root / 'wallet.db'}"))
        record("fuzz-audit", violations=len(violations))
        assert not violations, [str(v) for v in violations]


def row_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in tables if t not in BACKGROUND_TABLES}


def call(channel: grpc.Channel, service: str, method: str, request: object) -> grpc.StatusCode:
    desc = SERVICES[service].DESCRIPTOR.services_by_name[f"{service.capitalize()}Service"].methods_by_name[method]
    path = f"/{desc.containing_service.full_name}/{method}"
    response_cls = GetMessageClass(desc.output_type)
    md = bearer(TEST_KEYS["ops_all"])
    try:
        if desc.server_streaming:
            stream = channel.unary_stream(path, request_serializer=lambda m: m.SerializeToString(),
                                          response_deserializer=response_cls.FromString)(request, metadata=md,
                                                                                         timeout=0.5)
            for _ in stream:
                break
            stream.cancel()
        else:
            channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=response_cls.FromString)(request, metadata=md, timeout=30)
    except grpc.RpcError as exc:
        code = exc.code()
        if desc.server_streaming and code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
            return grpc.StatusCode.OK
        assert code not in BAD, f"{method} answered {code.name}: {exc.details()} for {request!r:.500}"
        return code
    return grpc.StatusCode.OK


@pytest.mark.parametrize(("service", "method"), rpcs(), ids=lambda x: x)
def test_no_request_gets_internal_or_unknown_and_a_refused_one_changes_nothing(stack, service, method):
    procs, root = stack
    desc = SERVICES[service].DESCRIPTOR.services_by_name[f"{service.capitalize()}Service"].methods_by_name[method]
    db = root / f"{service}.db"

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy(desc.input_type))
    def fuzz(request: object) -> None:
        before = row_counts(db)
        with grpc.insecure_channel(procs[service].target,
                                   options=[("grpc.max_send_message_length", 16 << 20)]) as ch:
            code = call(ch, service, method, request)
        if code is not grpc.StatusCode.OK:
            assert row_counts(db) == before, f"a refused {method} ({code.name}) changed rows"

    fuzz()
    record("fuzz", rpc=f"{service}.{method}", cases=EXAMPLES)


def test_a_message_over_the_size_limit_is_refused(stack):
    procs, _ = stack
    big = rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m1", name="x" * (5 << 20)))
    with grpc.insecure_channel(procs["rules"].target, options=[("grpc.max_send_message_length", 16 << 20)]) as ch:
        code = call(ch, "rules", "CreateCampaign", big)
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
