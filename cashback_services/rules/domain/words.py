"""Words for explanations and skip reasons, the way a merchant reads them."""

from __future__ import annotations

_CHANNELS = {1: "web", 2: "app", 3: "POS"}


def bps_text(bps: int) -> str:
    """1000 -> "10%", 250 -> "2.5%", 125 -> "1.25%"."""
    whole, frac = divmod(bps, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"


def channel_text(channel: int) -> str:
    return _CHANNELS.get(channel, "unspecified channel")
