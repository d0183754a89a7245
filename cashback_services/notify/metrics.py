"""Notify metrics (Prometheus, served by the kit on the metrics port)."""

from __future__ import annotations

from cashback_kit.metrics import counter, gauge

DELIVERIES = counter("cashback_deliveries_total", "Deliveries reaching a state", ("kind", "channel", "status"))
STREAM_LAG = gauge("cashback_notify_stream_lag_seconds", "Age of the last wallet event when notify recorded it")
STREAM_CURSOR = gauge("cashback_notify_stream_cursor", "Position of the last wallet event notify recorded")
