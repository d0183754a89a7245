"""gRPC to rules, wallet and notify with the signed-in user's ops key.

One channel per service for the whole process; each call carries the session's key,
and each request names the session's merchant, so the services decide what the key
may see (a key for m1 gets PERMISSION_DENIED for m2, whatever the console asks)."""

from __future__ import annotations

from typing import Any

import grpc
from cashback.notify.v1 import notify_pb2_grpc
from cashback.rules.v1 import rules_pb2_grpc
from cashback.wallet.v1 import wallet_pb2_grpc
from google.rpc import error_details_pb2, status_pb2

from cashback_kit.client import bearer, open_channel
from cashback_kit.config import Settings

STUBS = {"rules": rules_pb2_grpc.RulesServiceStub, "wallet": wallet_pb2_grpc.WalletServiceStub,
         "notify": notify_pb2_grpc.NotifyServiceStub}


class ServiceError(Exception):
    """A refused or failed call: the status code, the message, and field -> problem."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or {}

    @classmethod
    def from_rpc(cls, exc: grpc.aio.AioRpcError) -> ServiceError:
        fields: dict[str, str] = {}
        for key, value in exc.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                for detail in status_pb2.Status.FromString(value).details:
                    bad = error_details_pb2.BadRequest()
                    if detail.Unpack(bad):
                        fields.update({v.field: v.description for v in bad.field_violations})
        return cls(exc.code().name, exc.details() or exc.code().name, fields)


class Services:
    def __init__(self, targets: dict[str, str]) -> None:
        # TLS to the services follows the same CASHBACK_TLS_* variables as the services' own clients.
        tls = Settings.from_env("rules")
        self.channels = {name: open_channel(target, tls) for name, target in targets.items()}
        self.stubs = {name: STUBS[name](channel) for name, channel in self.channels.items()}

    def channel(self, service: str) -> grpc.aio.Channel:
        return self.channels[service]

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def call(self, key: str, service: str, method: str, request: Any, deadline: float = 30) -> Any:
        try:
            return await getattr(self.stubs[service], method)(request, metadata=bearer(key), timeout=deadline)
        except grpc.aio.AioRpcError as exc:
            raise ServiceError.from_rpc(exc) from None
