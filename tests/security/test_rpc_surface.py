"""Issue 15: error reasons (ErrorInfo), all field violations at once, request ids and
client-streaming authentication, over a real grpc.aio server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2

from cashback_kit.auth import WALLET
from cashback_kit.interceptors import ERROR_DOMAIN
from cashback_kit.logs import PiiFilter, configure_logging, json_formatter
from tests.security.conftest import rich_details, wallet_stub
from tests.security.kit_server import IMPORT_METHOD
from tests.support.keys import TEST_KEYS
from tests.support.servers import auth


async def _refusal(call) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def _balance_refusal(target: str, customer_id: str) -> grpc.aio.AioRpcError:
    _, wallet = wallet_stub(target)
    request = wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id=customer_id)
    return await _refusal(wallet.GetBalance(request, metadata=auth("checkout")))


async def test_a_domain_error_carries_its_reason_beside_the_message(server_at):
    async with server_at() as (_, target):
        err = await _balance_refusal(target, "broke")
        info, _ = rich_details(err)
        assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert (info.reason, info.domain) == ("INSUFFICIENT_CREDIT", ERROR_DOMAIN)
        assert info.metadata["customer_id"] == "broke"


async def test_every_field_violation_is_reported_at_once(server_at):
    async with server_at() as (_, target):
        err = await _balance_refusal(target, "bad")
        info, fields = rich_details(err)
        assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert fields == ["customer_id", "currency_code"] and info.reason == "INVALID_ARGUMENT"


async def test_a_malformed_request_id_is_never_echoed(server_at):
    async with server_at() as (_, target):
        _, wallet = wallet_stub(target)
        request = wallet_pb2.GetBalanceRequest(merchant_id="m1", customer_id="bug")
        forged = "x" * 65
        err = await _refusal(wallet.GetBalance(request, metadata=(*auth("checkout"), ("x-request-id", forged))))
        assert err.code() is grpc.StatusCode.INTERNAL and forged not in err.details()
        err = await _refusal(wallet.GetBalance(request, metadata=(*auth("checkout"), ("x-request-id", "req-7"))))
        assert "req-7" in err.details()


async def test_client_streaming_calls_are_authenticated_and_authorised_per_message(server_at):
    async with server_at() as (running, target):
        channel, _ = wallet_stub(target)
        send = channel.stream_unary(
            f"/{WALLET}/{IMPORT_METHOD}",
            request_serializer=wallet_pb2.GetBalanceRequest.SerializeToString,
            response_deserializer=wallet_pb2.GetBalanceResponse.FromString,
        )

        def rows(*merchants: str) -> list[wallet_pb2.GetBalanceRequest]:
            return [wallet_pb2.GetBalanceRequest(merchant_id=m, customer_id=f"c-{m}") for m in merchants]

        servicer = running.parts.servicer
        assert (await _refusal(send(iter(rows("m1"))))).code() is grpc.StatusCode.UNAUTHENTICATED
        assert (await _refusal(send(iter(rows("m1")), metadata=auth("checkout")))).code() \
            is grpc.StatusCode.PERMISSION_DENIED  # not a checkout RPC
        assert servicer.imported == []
        # ops for m1 and m2: a message for m3 stops the stream there.
        err = await _refusal(send(iter(rows("m1", "m3", "m2")), metadata=auth("ops")))
        assert err.code() is grpc.StatusCode.PERMISSION_DENIED and "m3" in err.details()
        assert servicer.imported == ["c-m1"]
        await send(iter(rows("m2")), metadata=auth("ops"))
        assert servicer.imported == ["c-m1", "c-m2"]


async def test_log_lines_name_the_calling_key_by_its_id_never_the_key(server_at):
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(json_formatter("test"))
    handler.addFilter(PiiFilter())
    rpc_log = logging.getLogger("cashback.rpc")
    rpc_log.addHandler(handler)
    try:
        async with server_at() as (_, target):
            await _balance_refusal(target, "broke")
    finally:
        rpc_log.removeHandler(handler)
    line = json.loads(buf.getvalue().splitlines()[-1])
    assert line["message"] == "rpc refused" and line["code"] == "FAILED_PRECONDITION"
    assert line["key_id"] == hashlib.sha256(TEST_KEYS["checkout"].encode()).hexdigest()[:8]
    assert TEST_KEYS["checkout"] not in buf.getvalue()


async def test_a_failed_rpc_logs_a_real_database_error_without_its_values(server_at, pg_url):
    """The interceptor's "rpc failed" line, with its traceback, for a PostgreSQL check
    violation whose DETAIL and parameters carry a phone number and a message body."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    phone, body = "966501234567", "your code is 991"
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE sms (phone text, body text CHECK (length(body) < 5))"))
        with pytest.raises(sa.exc.IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO sms VALUES (:p, :b)"), {"p": phone, "b": body})
    finally:
        await engine.dispose()
    assert phone in str(caught.value.orig.__cause__)  # the DETAIL line names the failing row

    buf = io.StringIO()
    saved = logging.getLogger().handlers[:]
    try:
        configure_logging("wallet", stream=buf)
        async with server_at() as (running, target):
            running.parts.servicer.fail_with = caught.value
            err = await _balance_refusal(target, "c1")
    finally:
        logging.getLogger().handlers[:] = saved
    assert err.code() is grpc.StatusCode.INTERNAL
    failed = next(json.loads(x) for x in buf.getvalue().splitlines() if '"rpc failed"' in x)
    assert "CheckViolationError" in failed["exc_info"] and "DETAIL: <redacted>" in failed["exc_info"]
    assert phone not in buf.getvalue() and body not in buf.getvalue()
