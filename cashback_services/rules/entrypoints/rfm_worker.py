"""The background job that keeps RFM segments fresh (one per rules process;
several are safe together: a merchant is computed by one at a time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cashback_services.rules.service_layer.segments import Segments

log = logging.getLogger("cashback.rules.rfm")


def rfm_refresher(segments: Segments, poll_seconds: float = 2.0) -> Callable[[], Awaitable[None]]:
    async def refresh_segments_forever() -> None:
        while True:
            done = await segments.refresh_due()
            if done:
                log.info("rfm segments recomputed", extra={"merchants": done})
            await asyncio.sleep(poll_seconds)

    return refresh_segments_forever
