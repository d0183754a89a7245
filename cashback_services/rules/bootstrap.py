"""Wires the rules service: database, servicer, background jobs."""

from __future__ import annotations

from cashback.rules.v1 import rules_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.pb import utcnow
from cashback_kit.server import ServiceParts
from cashback_services.rules.adapters.score_repo import ScoringPool
from cashback_services.rules.entrypoints.rfm_worker import rfm_refresher
from cashback_services.rules.entrypoints.servicer import RulesServicer
from cashback_services.rules.service_layer.cache import MerchantCache
from cashback_services.rules.service_layer.campaigns import Campaigns
from cashback_services.rules.service_layer.customers import Customers
from cashback_services.rules.service_layer.history import OrderHistory
from cashback_services.rules.service_layer.refunds import Refunds
from cashback_services.rules.service_layer.scoring import Scoring
from cashback_services.rules.service_layer.segments import Segments
from cashback_services.rules.service_layer.simulate import Simulator

SERVICE_NAME = "cashback.rules.v1.RulesService"


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    cache = MerchantCache()
    scoring_pool = ScoringPool(db)
    segments = Segments(db, utcnow)
    servicer = RulesServicer(
        campaigns=Campaigns(db, utcnow),
        scoring=Scoring(db, cache, utcnow, scoring_pool),
        refunds=Refunds(db, utcnow),
        customers=Customers(db, cache),
        simulator=Simulator(db),
        now=utcnow,
        history=OrderHistory(db, utcnow),
        segments=segments,
    )
    parts = ServiceParts(SERVICE_NAME, servicer, rules_pb2_grpc.add_RulesServiceServicer_to_server)
    parts.on_stop.append(scoring_pool.close)
    parts.background.append(rfm_refresher(segments))
    return parts
