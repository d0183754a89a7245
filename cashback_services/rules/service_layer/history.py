"""ImportOrders: a merchant's past orders enter their customers' history.

An imported order counts wherever a customer's history counts -- earlier
orders for min/max_prior_orders, spend for tiers -- because it is stored with
the scored ones; it is never scored, so it earns nothing and touches no budget
or per-customer usage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cashback_kit.db import Database
from cashback_services.rules.adapters import import_repo
from cashback_services.rules.domain.base import merchandise
from cashback_services.rules.domain.model import OrderIn

MAX_BATCH = 1000


@dataclass(frozen=True)
class PastOrder:
    """A validated past order, with its stored form and that form's fingerprint."""

    order: OrderIn
    fingerprint: str
    body: bytes


@dataclass(frozen=True)
class ImportResult:
    imported: int
    already_present: int


class OrderHistory:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db, self.now = db, now

    async def import_orders(self, merchant_id: str, orders: Sequence[PastOrder]) -> ImportResult:
        rows = [import_repo.PastOrderRow(p.order.order_id, p.order.customer_id, p.order.placed_at,
                                         p.order.currency, merchandise(p.order).minor, p.fingerprint, p.body)
                for p in orders]
        imported = await import_repo.insert_past_orders(self.db, merchant_id, rows, self.now())
        return ImportResult(imported, len(rows) - imported)
