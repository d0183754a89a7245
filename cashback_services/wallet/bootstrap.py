"""Wires the wallet service: database, rules client, servicer, and the
background sweeper (one per process; several are safe together)."""

from __future__ import annotations

from cashback.wallet.v1 import wallet_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts
from cashback_services.wallet.adapters.rules_client import GrpcRules
from cashback_services.wallet.entrypoints.servicer import WalletServicer
from cashback_services.wallet.entrypoints.sweeper import sweeper
from cashback_services.wallet.service_layer.handlers import WalletConfig, WalletService

SERVICE_NAME = "cashback.wallet.v1.WalletService"
# Seconds between sweeps; 0 turns the sweeper off (tests that drive it themselves).
SWEEP_INTERVAL_ENV = "WALLET_SWEEP_INTERVAL_SECONDS"
WRITE_BATCH_ENV = "WALLET_WRITE_BATCH"


def wallet_config(settings: Settings) -> WalletConfig:
    raw = settings.wallet_sweep_interval
    try:
        interval = float(raw)
    except ValueError as exc:
        raise ValueError(f"{SWEEP_INTERVAL_ENV} must be a number of seconds, not {raw!r}") from exc
    if interval < 0:
        raise ValueError(f"{SWEEP_INTERVAL_ENV} must not be negative")
    raw = settings.wallet_write_batch
    if not raw.strip().isdigit():
        raise ValueError(f"{WRITE_BATCH_ENV} must be a whole number of writes (0 = each alone), not {raw!r}")
    return WalletConfig(sweep_interval=interval, write_batch=int(raw))


async def bootstrap(settings: Settings, db: Database) -> ServiceParts:
    config = wallet_config(settings)
    rules = GrpcRules(settings)
    service = WalletService(db, rules, config=config)
    parts = ServiceParts(
        SERVICE_NAME, WalletServicer(service), wallet_pb2_grpc.add_WalletServiceServicer_to_server,
        on_stop=[rules.close],
    )
    if config.sweep_interval > 0:
        parts.background.append(sweeper(service))
    return parts
