"""Builders for domain values (no protos), for unit and property tests."""

from __future__ import annotations

from datetime import UTC, datetime

from cashback_kit.money import Money
from cashback_services.rules.domain.model import Line, OrderIn, Rule

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sar(minor: int) -> Money:
    return Money("SAR", minor)


def rule(campaign_id: str = "c", **kw) -> Rule:  # type: ignore[no-untyped-def]
    kw.setdefault("percent_bps", 1000)
    return Rule(campaign_id=campaign_id, version=1, seq=kw.pop("seq", 1), name=campaign_id, currency="SAR", **kw)


def dline(sku: str, price: int, quantity: int = 1, categories: tuple[str, ...] = (), discount: int = 0) -> Line:
    return Line(sku, categories, sar(price), quantity, sar(discount))


def dorder(*lines: Line, discount: int = 0, wallet: int = 0, channel: int = 1, payment: str = "card",
           placed_at: datetime = T0, coupons: tuple[str, ...] = ()) -> OrderIn:
    return OrderIn("m1", "o1", "c1", placed_at, "SAR", channel, payment, tuple(lines), sar(0), sar(0),
                   sar(discount), sar(wallet), coupons)
