"""ImportOrdersRequest to past orders, with every violation named by its
field path (`orders[3].placed_at`), so a bad batch imports nothing."""

from __future__ import annotations

from datetime import datetime

from cashback.rules.v1 import rules_pb2

from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.pb import fingerprint, require_id, ts_from_pb
from cashback_services.rules.entrypoints.campaign_pb import collect
from cashback_services.rules.entrypoints.order_pb import order_from_pb
from cashback_services.rules.service_layer.history import MAX_BATCH, PastOrder


def _past_order(v: Violations, o: rules_pb2.Order, where: str, merchant_id: str, now: datetime) -> PastOrder | None:
    if o.merchant_id and o.merchant_id != merchant_id:
        v.add(f"{where}.merchant_id", "an order of another merchant than the request's")
        return None
    pb = rules_pb2.Order()
    pb.CopyFrom(o)
    pb.merchant_id = merchant_id
    if not pb.HasField("placed_at"):
        v.add(f"{where}.placed_at", "placed_at is required for a past order")
        return None
    placed = collect(v, ts_from_pb, pb.placed_at, f"{where}.placed_at")
    if placed is None:
        return None
    if placed > now:
        v.add(f"{where}.placed_at", "a past order cannot be placed in the future")
        return None
    try:
        # Validated as ScoreOrder would have validated it when it was placed: a
        # bound on how old a live order may be does not apply to history.
        order = order_from_pb(pb, placed)
    except InvalidArgument as exc:
        for fv in exc.violations:
            v.add(where + fv.field.removeprefix("order"), fv.description)
        return None
    return PastOrder(order, fingerprint(pb), pb.SerializeToString(deterministic=True))


def past_orders_from_pb(request: rules_pb2.ImportOrdersRequest, now: datetime) -> list[PastOrder]:
    v = Violations()
    merchant_id = collect(v, require_id, request.merchant_id, "merchant_id")
    v.check(0 < len(request.orders) <= MAX_BATCH, "orders", f"send 1 to {MAX_BATCH} orders per call")
    v.raise_if_any("invalid import")
    out: list[PastOrder] = []
    first: dict[str, int] = {}
    for i, o in enumerate(request.orders):
        where = f"orders[{i}]"
        if o.order_id in first:
            v.add(f"{where}.order_id", f"{o.order_id!r} is also orders[{first[o.order_id]}]")
            continue
        first[o.order_id] = i
        past = _past_order(v, o, where, merchant_id, now)
        if past is not None:
            out.append(past)
    v.raise_if_any("invalid import")
    return out
