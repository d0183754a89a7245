"""Wallet metrics (Prometheus, served by the kit on the metrics port)."""

from __future__ import annotations

from cashback_kit.metrics import counter

LEDGER_TRANSACTIONS = counter(
    "cashback_ledger_transactions_total", "Ledger transactions committed, by type", ("type",)
)


def ledger_committed(types: list[str]) -> None:
    for tx_type in types:
        LEDGER_TRANSACTIONS.labels(tx_type).inc()

WRITE_GROUPS = counter(
    "cashback_wallet_write_groups_total",
    "Groups of credit writes committed in one transaction; path=alone when a group failed and its calls ran alone",
    ("path",),
)
GROUPED_CALLS = counter("cashback_wallet_grouped_calls_total", "Credit writes that went through a write group",
                        ("path",))


def group_committed(calls: int, *, alone: bool = False) -> None:
    path = "alone" if alone else "group"
    WRITE_GROUPS.labels(path).inc()
    GROUPED_CALLS.labels(path).inc(calls)
