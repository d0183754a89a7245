"""Wallet metrics (Prometheus, served by the kit on the metrics port)."""

from __future__ import annotations

from cashback_kit.metrics import counter

LEDGER_TRANSACTIONS = counter(
    "cashback_ledger_transactions_total", "Ledger transactions committed, by type", ("type",)
)


def ledger_committed(types: list[str]) -> None:
    for tx_type in types:
        LEDGER_TRANSACTIONS.labels(tx_type).inc()
