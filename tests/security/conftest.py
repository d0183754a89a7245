"""An in-process kit server on 127.0.0.1 (real grpc.aio, real interceptor) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from cashback.wallet.v1 import wallet_pb2_grpc
from google.rpc import error_details_pb2, status_pb2

from cashback_kit.auth import KeyRing
from cashback_kit.config import Settings
from cashback_kit.hardening import Hardening
from cashback_kit.server import RunningServer, start_server
from tests.security.kit_server import parts


@asynccontextmanager
async def kit_server(keys_file: Path, **hardening: object) -> AsyncIterator[tuple[RunningServer, str]]:
    settings = Settings.from_env("wallet", {"WALLET_ADDR": "127.0.0.1:0", "CASHBACK_API_KEYS_FILE": str(keys_file)})
    running = await start_server(settings, parts(), KeyRing.from_file(keys_file), Hardening.for_tests(**hardening))
    try:
        yield running, f"127.0.0.1:{running.port}"
    finally:
        await running.stop(0)


@pytest.fixture
def server_at(keys_file: Path) -> Callable[..., object]:
    """`async with server_at(max_streams_per_key=2) as (running, target): …`"""
    return lambda **hardening: kit_server(keys_file, **hardening)


def wallet_stub(target: str) -> tuple[grpc.aio.Channel, wallet_pb2_grpc.WalletServiceStub]:
    channel = grpc.aio.insecure_channel(target)
    return channel, wallet_pb2_grpc.WalletServiceStub(channel)


def rich_details(err: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, list[str]]:
    """The ErrorInfo and the BadRequest field paths of a failed call's rich status."""
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    info, fields = error_details_pb2.ErrorInfo(), []
    for detail in status_pb2.Status.FromString(raw).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
        detail.Unpack(info)
    return info, fields
