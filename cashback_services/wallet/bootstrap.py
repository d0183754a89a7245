"""Wires the wallet service: database, rules client, servicer, and the
background sweeper (one per process; several are safe together)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cashback.wallet.v1 import wallet_pb2_grpc

from cashback_kit.config import Settings
from cashback_kit.db import Database
from cashback_kit.server import ServiceParts
from cashback_services.wallet import events
from cashback_services.wallet.rules_client import GrpcRules
from cashback_services.wallet.service import WalletConfig, WalletService
from cashback_services.wallet.servicer import WalletServicer

SERVICE_NAME = "cashback.wallet.v1.WalletService"
# Seconds between sweeps; 0 turns the sweeper off (tests that drive it themselves).
SWEEP_INTERVAL_ENV = "WALLET_SWEEP_INTERVAL_SECONDS"
WRITE_BATCH_ENV = "WALLET_WRITE_BATCH"
log = logging.getLogger("cashback.wallet.sweeper")


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


def sweeper(service: WalletService) -> Callable[[], Awaitable[None]]:
    async def sweep_forever() -> None:
        while True:
            settled = await service.sweep_once()
            # Number new events even when nobody is streaming, so cursors stay fresh.
            await events.sequence(service.db)
            if settled:
                log.info("sweep settled customers", extra={"customers": settled})
            await asyncio.sleep(service.config.sweep_interval)

    return sweep_forever


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
