"""Wires the rules service: database, servicer, background jobs."""

from __future__ import annotations

from cashback.rules.v1 import rules_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.pb import utcnow
from cashback_kit.server import ServiceParts
from cashback_services.rules.service.cache import MerchantCache
from cashback_services.rules.service.campaigns import Campaigns
from cashback_services.rules.service.customers import Customers
from cashback_services.rules.service.refunds import Refunds
from cashback_services.rules.service.scoring import Scoring
from cashback_services.rules.service.simulate import Simulator
from cashback_services.rules.servicer import RulesServicer

SERVICE_NAME = "cashback.rules.v1.RulesService"


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    cache = MerchantCache()
    servicer = RulesServicer(
        campaigns=Campaigns(db, utcnow),
        scoring=Scoring(db, cache, utcnow),
        refunds=Refunds(db, utcnow),
        customers=Customers(db, cache),
        simulator=Simulator(db),
        now=utcnow,
    )
    return ServiceParts(SERVICE_NAME, servicer, rules_pb2_grpc.add_RulesServiceServicer_to_server)
