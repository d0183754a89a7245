"""Wires the rules service: database, servicer, background jobs."""

from __future__ import annotations

from cashback.rules.v1 import rules_pb2_grpc
from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts

SERVICE_NAME = "cashback.rules.v1.RulesService"


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    # Until the rules issue lands, the generated base servicer answers UNIMPLEMENTED.
    servicer = rules_pb2_grpc.RulesServiceServicer()
    return ServiceParts(SERVICE_NAME, servicer, rules_pb2_grpc.add_RulesServiceServicer_to_server)
