"""Wires the wallet service: database, servicer, background jobs."""

from __future__ import annotations

from cashback.wallet.v1 import wallet_pb2_grpc
from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts

SERVICE_NAME = "cashback.wallet.v1.WalletService"


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    # Until the wallet issue lands, the generated base servicer answers UNIMPLEMENTED.
    servicer = wallet_pb2_grpc.WalletServiceServicer()
    return ServiceParts(SERVICE_NAME, servicer, wallet_pb2_grpc.add_WalletServiceServicer_to_server)
