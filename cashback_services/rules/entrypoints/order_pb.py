"""Orders, events and scores between protos and the domain, with validation."""

from __future__ import annotations

from datetime import datetime, timedelta

from cashback.rules.v1 import rules_pb2

from cashback_kit.amounts import MAX_MINOR
from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.money import Money, validate_currency
from cashback_kit.pb import money_from_pb, require_id, ts_from_pb
from cashback_services.rules.domain.model import EventIn, Line, OrderIn, SkippedDetail
from cashback_services.rules.entrypoints.campaign_pb import collect, stored_strings

MAX_LINES = 1000
MAX_QUANTITY = 1_000_000
_CHANNELS = (rules_pb2.CHANNEL_UNSPECIFIED, rules_pb2.CHANNEL_WEB, rules_pb2.CHANNEL_APP, rules_pb2.CHANNEL_POS)


def _opt(v: Violations, parent, name: str, field: str, currency: str | None) -> Money:  # type: ignore[no-untyped-def]
    if not parent.HasField(name) or currency is None:
        return Money.zero(currency or "XXX")
    got = collect(v, money_from_pb, getattr(parent, name), field, currency=currency, non_negative=True)
    return got if got is not None else Money.zero(currency)


def check_recent(v: Violations, field: str, when: datetime | None, now: datetime, past: timedelta,
                 future: timedelta) -> None:
    """An order or event scored live happened around now: a backdated one would
    be judged by campaigns that have ended, per-day limits of days gone by and a
    return window already over (issue 15, point 3). Older history is imported, not scored."""
    if when is None:
        return
    ahead = when - now  # compared as a span: now ± a huge setting could leave datetime's range
    if ahead < -past:
        v.add(field, f"must be at most {_span(past)} before the server's time; older history is "
                     "imported (the import path), not scored")
    elif ahead > future:
        v.add(field, f"must be at most {_span(future)} after the server's time")


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 3600} h" if s % 3600 == 0 and s else f"{s // 60} min" if s % 60 == 0 and s else f"{s} s"


def order_from_pb(o: rules_pb2.Order, now: datetime, past: timedelta = timedelta(hours=24),
                  future: timedelta = timedelta(minutes=5)) -> OrderIn:
    """A validated order; placed_at defaults to now and is at most `past` before
    it or `future` after it. Raises InvalidArgument with every violation, so a bad
    order changes nothing."""
    v = Violations()
    for name in ("merchant_id", "order_id", "customer_id"):
        collect(v, require_id, getattr(o, name), f"order.{name}")
    currency = collect(v, validate_currency, o.currency_code, "order.currency_code")
    placed = collect(v, ts_from_pb, o.placed_at, "order.placed_at") if o.HasField("placed_at") else now
    check_recent(v, "order.placed_at", placed, now, past, future)
    v.check(o.channel in _CHANNELS, "order.channel", "unknown channel")
    v.check(len(o.payment_method) <= 64, "order.payment_method", "at most 64 characters")
    v.check(0 < len(o.lines) <= MAX_LINES, "order.lines", f"an order has 1 to {MAX_LINES} lines")
    lines: list[Line] = []
    for i, pl in enumerate(o.lines):
        f = f"order.lines[{i}]"
        v.check(bool(pl.sku) and len(pl.sku) <= 128, f"{f}.sku", "a sku of 1 to 128 characters is required")
        v.check(len(pl.category_ids) <= 50, f"{f}.category_ids", "at most 50 categories per line")
        v.check(0 < pl.quantity <= MAX_QUANTITY, f"{f}.quantity", f"quantity must be 1 to {MAX_QUANTITY}")
        if currency is None:
            continue
        price = (collect(v, money_from_pb, pl.unit_price, f"{f}.unit_price", currency=currency, non_negative=True)
                 if pl.HasField("unit_price") else None)
        if price is None:
            v.check(pl.HasField("unit_price"), f"{f}.unit_price", "unit_price is required")
            continue
        discount = _opt(v, pl, "line_discount", f"{f}.line_discount", currency)
        quantity = max(pl.quantity, 0)
        if discount > price * quantity:
            v.add(f"{f}.line_discount", "the line discount is larger than the line")
            continue
        if price.minor * quantity > MAX_MINOR:
            v.add(f"{f}.unit_price", "the line amount is too large")
            continue
        lines.append(Line(pl.sku, tuple(pl.category_ids), price, quantity, discount))
    shipping = _opt(v, o, "shipping", "order.shipping", currency)
    tax = _opt(v, o, "tax", "order.tax", currency)
    discount = _opt(v, o, "order_discount", "order.order_discount", currency)
    wallet = _opt(v, o, "wallet_paid", "order.wallet_paid", currency)
    if sum(ln.net.minor for ln in lines) > MAX_MINOR:
        v.add("order.lines", "the order amount is too large")
    for name, m in (("shipping", shipping), ("tax", tax), ("order_discount", discount), ("wallet_paid", wallet)):
        v.check(m.minor <= MAX_MINOR, f"order.{name}", "the amount is too large")
    v.check(len(o.coupon_codes) <= 20, "order.coupon_codes", "at most 20 coupon codes")
    for i, code in enumerate(o.coupon_codes):
        v.check(0 < len(code) <= 64, f"order.coupon_codes[{i}]", "coupon codes are 1 to 64 characters")
    stored_strings(v, o, "order.", max_chars=200, max_items=MAX_LINES,
                   limits={"payment_method": 64, "coupon_codes": 64, "lines.sku": 128})
    v.raise_if_any("invalid order")
    assert currency is not None and placed is not None
    return OrderIn(o.merchant_id, o.order_id, o.customer_id, placed, currency, o.channel, o.payment_method,
                   tuple(lines), shipping, tax, discount, wallet, tuple(o.coupon_codes))


def skipped_detail_from_pb(value: int) -> SkippedDetail:
    if value == rules_pb2.SKIPPED_DETAIL_UNSPECIFIED:
        return SkippedDetail.ALL
    if value not in SkippedDetail._value2member_map_:
        raise InvalidArgument(f"unknown skipped_detail {value}", field="skipped_detail")
    return SkippedDetail(value)


def event_from_pb(r: rules_pb2.ScoreEventRequest, now: datetime, past: timedelta = timedelta(hours=24),
                  future: timedelta = timedelta(minutes=5)) -> EventIn:
    v = Violations()
    for name in ("merchant_id", "customer_id", "event_id"):
        collect(v, require_id, getattr(r, name), name)
    v.check(0 < len(r.event_type) <= 64, "event_type", "an event_type of 1 to 64 characters is required")
    v.check(r.channel in _CHANNELS, "channel", "unknown channel")
    occurred = collect(v, ts_from_pb, r.occurred_at, "occurred_at") if r.HasField("occurred_at") else now
    check_recent(v, "occurred_at", occurred, now, past, future)
    stored_strings(v, r, "", max_chars=64)
    v.raise_if_any("invalid event")
    assert occurred is not None
    return EventIn(r.merchant_id, r.customer_id, r.event_type, r.event_id, occurred, r.channel)
