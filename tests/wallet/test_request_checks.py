"""Every wallet request is checked whole before anything is read or written (issue 15):
a NUL byte in any string field of any RPC is INVALID_ARGUMENT naming that field (never
INTERNAL from the database), ids are bounded, and a request with several problems gets
them all in one answer, amounts shown with their currency. Real gRPC, real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2 as pb
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from cashback_kit.auth import is_repeated
from tests.support.servers import ServiceHandle, auth, running_service
from tests.wallet.grpc_helpers import OPS, balance, money, stub, violations

SERVICE = pb.DESCRIPTOR.services_by_name["WalletService"]


def _described(err: grpc.aio.AioRpcError) -> dict[str, str]:
    status = status_pb2.Status.FromString(dict(err.trailing_metadata() or ())["grpc-status-details-bin"])
    out: dict[str, str] = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.update({v.field: v.description for v in bad.field_violations})
    return out


@pytest.fixture
async def wallet_server(pg_url: str) -> AsyncIterator[ServiceHandle]:
    async with running_service("wallet", database_url=pg_url) as svc:
        yield svc


def _string_paths(message: Message, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Message, Any]]:
    """(path as the violations name it, the message holding it, its field) for every string
    field of `message`'s type, with one element in each repeated message field on the way."""
    for fd in message.DESCRIPTOR.fields:
        path = f"{prefix}{fd.name}"
        if fd.type == FieldDescriptor.TYPE_STRING:
            yield (f"{path}[0]" if is_repeated(fd) else path), message, fd
        elif fd.message_type is not None and depth < 3 and not fd.message_type.GetOptions().map_entry:
            if is_repeated(fd):
                yield from _string_paths(getattr(message, fd.name).add(), f"{path}[0].", depth + 1)
            else:
                yield from _string_paths(getattr(message, fd.name), f"{path}.", depth + 1)


def _nul_requests() -> Iterator[Any]:
    for method in SERVICE.methods:
        request_type = pb.DESCRIPTOR.message_types_by_name[method.input_type.name]
        probe = _pb_class(request_type)()
        for path, _, _ in list(_string_paths(probe)):
            if path == "page_token":  # refused by the kit's paging (tests/kit/test_shared_ideas_grpc.py)
                continue
            yield pytest.param(method.name, request_type.name, path, id=f"{method.name}:{path}")


def _pb_class(descriptor: Any) -> type[Message]:
    return getattr(pb, descriptor.name)


def _with_nul(request_name: str, path: str) -> Message:
    request = getattr(pb, request_name)()
    for p, holder, fd in _string_paths(request):
        if p == path:
            if is_repeated(fd):
                getattr(holder, fd.name).append("a\x00b")
            else:
                setattr(holder, fd.name, "a\x00b")
            return request
    raise AssertionError(path)


@pytest.mark.parametrize(("rpc", "request_name", "path"), list(_nul_requests()))
async def test_a_nul_byte_in_any_string_field_is_invalid_argument_naming_it(
    wallet_server: ServiceHandle, rpc: str, request_name: str, path: str,
) -> None:
    call = getattr(stub(wallet_server.channel), rpc)
    request = _with_nul(request_name, path)
    every_merchant = auth("ops_all")  # past the merchant check, whatever the request names
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        if SERVICE.methods_by_name[rpc].server_streaming:
            async for _ in call(request, metadata=every_merchant):
                pass
        else:
            await call(request, metadata=every_merchant)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    assert path in violations(refused.value)


async def test_a_refused_write_lists_every_violation_at_once_with_amounts_in_their_currency(
    wallet_server: ServiceHandle,
) -> None:
    s = stub(wallet_server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await s.AuthorizeRedemption(pb.AuthorizeRedemptionRequest(
            merchant_id="m1", customer_id="c 1", order_id="o" * 65, idempotency_key="",
            amount=money(-250)), metadata=OPS)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(refused.value) == ["order_id", "customer_id", "idempotency_key", "amount.amount_minor"]
    assert _described(refused.value)["amount.amount_minor"] == "must be positive (got -2.50 SAR)"
    with pytest.raises(grpc.aio.AioRpcError) as adjust:
        await s.AdjustBalance(pb.AdjustBalanceRequest(
            merchant_id="m1", customer_id="c1", idempotency_key="k1", reason="x" * 1001,
            amount=money(0, "IRR")), metadata=OPS)
    assert violations(adjust.value) == ["reason", "amount.amount_minor"]
    assert (await balance(s)).available.amount_minor == 0  # nothing was written
