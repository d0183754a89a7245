"""Small builders for rules protos, so tests read as the scenario they check."""

from __future__ import annotations

from datetime import UTC, datetime

from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from google.protobuf.timestamp_pb2 import Timestamp

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def money(minor: int, currency: str = "SAR") -> common_pb2.Money:
    return common_pb2.Money(currency_code=currency, amount_minor=minor)


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


def campaign(campaign_id: str = "", *, merchant_id: str = "m1", currency: str = "SAR", **fields) -> rules_pb2.Campaign:
    """An ACTIVE campaign; Money fields may be given as ints (minor units)."""
    c = rules_pb2.Campaign(merchant_id=merchant_id, campaign_id=campaign_id, name=campaign_id or "campaign",
                           currency_code=currency, status=rules_pb2.CAMPAIGN_STATUS_ACTIVE)
    for name, value in fields.items():
        if isinstance(value, int) and name in _MONEY:
            getattr(c, name).CopyFrom(money(value, currency))
        elif isinstance(value, datetime):
            getattr(c, name).CopyFrom(ts(value))
        elif isinstance(value, dict):
            getattr(c, name).update(value)
        elif isinstance(value, list | tuple):
            getattr(c, name).extend(value)
        elif isinstance(value, common_pb2.Money):
            getattr(c, name).CopyFrom(value)
        else:
            setattr(c, name, value)
    return c


_MONEY = {"fixed", "min_order", "max_per_order", "max_per_customer", "budget"}


def override(percent_bps: int, *, sku: str = "", category_id: str = "") -> rules_pb2.RateOverride:
    if sku:
        return rules_pb2.RateOverride(sku=sku, percent_bps=percent_bps)
    return rules_pb2.RateOverride(category_id=category_id, percent_bps=percent_bps)


def line(sku: str, price: int, quantity: int = 1, *, categories: tuple[str, ...] = (), discount: int = 0,
         currency: str = "SAR") -> rules_pb2.OrderLine:
    pb = rules_pb2.OrderLine(sku=sku, category_ids=list(categories), quantity=quantity,
                             unit_price=money(price, currency))
    if discount:
        pb.line_discount.CopyFrom(money(discount, currency))
    return pb


def order(order_id: str = "o1", *lines: rules_pb2.OrderLine, customer_id: str = "c1", merchant_id: str = "m1",
          currency: str = "SAR", placed_at: datetime = T0, channel: int = rules_pb2.CHANNEL_WEB,
          payment_method: str = "card", **money_fields: int) -> rules_pb2.Order:
    o = rules_pb2.Order(merchant_id=merchant_id, order_id=order_id, customer_id=customer_id, currency_code=currency,
                        channel=channel, payment_method=payment_method, lines=list(lines))  # type: ignore[arg-type]
    o.placed_at.CopyFrom(ts(placed_at))
    for name, value in money_fields.items():
        if name == "coupon_codes":
            o.coupon_codes.extend(value)  # type: ignore[arg-type]
        else:
            getattr(o, name).CopyFrom(money(value, currency))
    return o
