"""The background worker of a wallet process: sweep what fell due (holds past
their TTL, lots to mature or expire) and number new outbox events, for ever.
Several processes may run it at once (see WalletService.sweep_once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cashback_services.wallet.adapters import outbox
from cashback_services.wallet.service_layer.handlers import WalletService

log = logging.getLogger("cashback.wallet.sweeper")


def sweeper(service: WalletService) -> Callable[[], Awaitable[None]]:
    async def sweep_forever() -> None:
        while True:
            settled = await service.sweep_once()
            # Number new events even when nobody is streaming, so cursors stay fresh.
            await outbox.sequence(service.db)
            if settled:
                log.info("sweep settled customers", extra={"customers": settled})
            await asyncio.sleep(service.config.sweep_interval)

    return sweep_forever
