"""Wires the rules service: database, servicer, background jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cashback.rules.v1 import rules_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.pb import utcnow
from cashback_kit.server import ServiceParts
from cashback_services.rules.adapters.score_repo import ScoringPool
from cashback_services.rules.entrypoints.rfm_worker import rfm_refresher
from cashback_services.rules.entrypoints.servicer import RulesServicer
from cashback_services.rules.limits import RulesLimits
from cashback_services.rules.service_layer.cache import MerchantCache
from cashback_services.rules.service_layer.campaigns import Campaigns
from cashback_services.rules.service_layer.customers import Customers
from cashback_services.rules.service_layer.history import OrderHistory
from cashback_services.rules.service_layer.refunds import Refunds
from cashback_services.rules.service_layer.scoring import Scoring
from cashback_services.rules.service_layer.segments import Segments
from cashback_services.rules.service_layer.simulate import Simulator

SERVICE_NAME = "cashback.rules.v1.RulesService"


async def bootstrap(settings: Settings, db: Database, limits: RulesLimits | None = None,
                    now: Callable[[], datetime] = utcnow) -> ServiceParts:
    """`now`: the service's clock (tests that move the wallet's clock by hand pass the same one)."""
    limits = limits or RulesLimits()
    cache = MerchantCache()
    scoring_pool = ScoringPool(db)
    segments = Segments(db, now, window_days=limits.rfm_window_days, refresh_every=limits.rfm_refresh)
    servicer = RulesServicer(
        campaigns=Campaigns(db, now),
        scoring=Scoring(db, cache, now, scoring_pool),
        refunds=Refunds(db, now),
        customers=Customers(db, cache),
        simulator=Simulator(db, limits),
        now=now,
        limits=limits,
        history=OrderHistory(db, now),
        segments=segments,
    )
    parts = ServiceParts(SERVICE_NAME, servicer, rules_pb2_grpc.add_RulesServiceServicer_to_server)
    parts.background.append(rfm_refresher(segments))
    return parts
