"""Bad input on every RPC of the three services (running as real processes):
hypothesis builds requests from the descriptors, with extreme and malformed
values. No answer may be INTERNAL or UNKNOWN, and a refused call changes no row
of the service it was sent to. The wallet's auditor is clean afterwards."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from cashback.common.v1 import common_pb2
from cashback.notify.v1 import notify_pb2
from cashback.rules.v1 import rules_pb2
from cashback.wallet.v1 import wallet_pb2
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashback_kit.client import bearer
from cashback_kit.procs import ServiceProcess, start_process
from cashback_services.wallet.auditor import audit_database
from tests.reliability.figures import record
from tests.reliability.protofuzz import HOSTILE_TEMPLATES, strategy
from tests.support.keys import TEST_KEYS, process_env
from tests.support.pgcluster import PgCluster

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
def stack(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster
          ) -> Iterator[tuple[dict[str, ServiceProcess], SyncConnection]]:
    root = tmp_path_factory.mktemp("fuzz")
    database = pg_cluster.create_database("fuzz")
    env = process_env(root, pg_cluster.url(database), WALLET_SWEEP_INTERVAL_SECONDS="0", CASHBACK_LOG_LEVEL="WARNING")
    procs = {"rules": start_process("rules", env)}
    procs["wallet"] = start_process("wallet", {**env, "RULES_TARGET": procs["rules"].target})
    procs["notify"] = start_process("notify", {**env, "WALLET_TARGET": procs["wallet"].target})
    conn = SyncConnection(pg_cluster.dsn(database))
    try:
        yield procs, conn
    finally:
        conn.close()
        for p in procs.values():
            p.terminate()
        violations = asyncio.run(audit_database(pg_cluster.url(database)))
        record("fuzz-audit", violations=len(violations))
        assert not violations, [str(v) for v in violations]


class SyncConnection:
    """One asyncpg connection driven from this synchronous test on its own loop."""

    def __init__(self, dsn: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._conn = self._loop.run_until_complete(asyncpg.connect(dsn))

    def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        return self._loop.run_until_complete(self._conn.fetch(sql, *args))

    def close(self) -> None:
        self._loop.run_until_complete(self._conn.close())
        self._loop.close()


def row_counts(conn: SyncConnection, service: str) -> dict[str, int]:
    """Rows in each of the service's tables (all three share one database; a
    service's tables are named after it)."""
    tables = [r[0] for r in conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                       "AND tablename LIKE $1 ORDER BY 1", f"{service}\\_%")
              if r[0] not in BACKGROUND_TABLES]
    counts = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
    return {r[0]: r[1] for r in conn.fetch(counts)}


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
    procs, conn = stack
    desc = SERVICES[service].DESCRIPTOR.services_by_name[f"{service.capitalize()}Service"].methods_by_name[method]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy(desc.input_type))
    def fuzz(request: object) -> None:
        before = row_counts(conn, service)
        with grpc.insecure_channel(procs[service].target,
                                   options=[("grpc.max_send_message_length", 16 << 20)]) as ch:
            code = call(ch, service, method, request)
        if code is not grpc.StatusCode.OK:
            assert row_counts(conn, service) == before, f"a refused {method} ({code.name}) changed rows"

    fuzz()
    record("fuzz", rpc=f"{service}.{method}", cases=EXAMPLES)


def test_a_message_over_the_size_limit_is_refused(stack):
    procs, _ = stack
    big = rules_pb2.CreateCampaignRequest(campaign=rules_pb2.Campaign(merchant_id="m1", name="x" * (5 << 20)))
    with grpc.insecure_channel(procs["rules"].target, options=[("grpc.max_send_message_length", 16 << 20)]) as ch:
        code = call(ch, "rules", "CreateCampaign", big)
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED


@settings(max_examples=max(EXAMPLES // 3, 7), deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(body=st.sampled_from(HOSTILE_TEMPLATES),
       kind=st.sampled_from([notify_pb2.MESSAGE_KIND_CREDITED, notify_pb2.MESSAGE_KIND_REMINDER]),
       channel=st.sampled_from([notify_pb2.CHANNEL_SMS, notify_pb2.CHANNEL_EMAIL]),
       locale=st.sampled_from(["fa", "ar", "en"]))
def test_a_hostile_template_is_refused_whole_and_changes_nothing(stack, body, kind, channel, locale):
    procs, conn = stack
    request = notify_pb2.SetTemplateRequest(template=notify_pb2.Template(
        merchant_id="m1", kind=kind, channel=channel, locale=locale, subject="s", body=body))
    before = row_counts(conn, "notify")
    with grpc.insecure_channel(procs["notify"].target) as ch:
        code = call(ch, "notify", "SetTemplate", request)
    assert code is grpc.StatusCode.INVALID_ARGUMENT, body
    assert row_counts(conn, "notify") == before


@settings(max_examples=max(EXAMPLES // 3, 7), deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(days_back=st.integers(2, 400), order_no=st.integers(0, 10**9))
def test_a_backdated_order_is_refused_and_changes_nothing(stack, days_back, order_no):
    procs, conn = stack
    order = rules_pb2.Order(merchant_id="m1", order_id=f"fuzz-back-{order_no}", customer_id="c-back",
                            currency_code="SAR", lines=[rules_pb2.OrderLine(
                                sku="s", unit_price=common_pb2.Money(currency_code="SAR", amount_minor=10_000),
                                quantity=1)])
    order.placed_at.FromDatetime(datetime.now(UTC) - timedelta(days=days_back))
    before = {s: row_counts(conn, s) for s in ("wallet", "rules")}
    with grpc.insecure_channel(procs["wallet"].target) as ch:
        code = call(ch, "wallet", "AwardOrder", wallet_pb2.AwardOrderRequest(order=order))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert {s: row_counts(conn, s) for s in ("wallet", "rules")} == before
