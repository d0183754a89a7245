"""Wires the notify service: database, servicer, background jobs."""

from __future__ import annotations

from cashback.notify.v1 import notify_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts

SERVICE_NAME = "cashback.notify.v1.NotifyService"


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    # Until the notify issue lands, the generated base servicer answers UNIMPLEMENTED.
    servicer = notify_pb2_grpc.NotifyServiceServicer()
    return ServiceParts(SERVICE_NAME, servicer, notify_pb2_grpc.add_NotifyServiceServicer_to_server)
