"""The stored forms of rules data, which are protobuf bytes: a campaign version
is the normalised Campaign, a score the Score a caller got, a reversal the
Reversal, an order the Order as sent. They are also the answers a replay
returns, so they are made once, here, and the service layer handles them as
bytes without importing protobuf."""

from __future__ import annotations

import zlib
from datetime import datetime

from cashback.common.v1 import common_pb2
from cashback.rules.v1 import rules_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from cashback_kit.money import Money
from cashback_kit.pb import money_to_pb, ts_from_pb, ts_to_pb
from cashback_services.rules.domain.model import (
    Line,
    OrderIn,
    ReversalOut,
    Rule,
    ScoreOut,
    SkipOut,
    SkippedDetail,
    Trigger,
    shows,
)

# The wallet's unit for points (never an ISO currency): a points award's amount is in it.
POINTS = "PTS"


def points_campaigns(score_body: bytes | None) -> frozenset[str]:
    """The campaigns whose awards in a stored (packed) score are points."""
    if not score_body:
        return frozenset()
    score = rules_pb2.Score.FromString(unpack(score_body))
    return frozenset(a.campaign_id for a in score.awards if a.unit == rules_pb2.REWARD_UNIT_POINTS)


def money_pb(m: Money) -> common_pb2.Money:
    out = money_to_pb(m)
    assert out is not None
    return out


def ts_pb(dt: datetime) -> Timestamp:
    out = ts_to_pb(dt)
    assert out is not None
    return out


# Campaigns ------------------------------------------------------------------

def _opt_money(c: rules_pb2.Campaign, name: str) -> Money | None:
    if not c.HasField(name):  # type: ignore[arg-type]
        return None
    m = getattr(c, name)
    return Money(m.currency_code, m.amount_minor)


def _opt_ts(c: rules_pb2.Campaign, name: str) -> datetime | None:
    return ts_from_pb(getattr(c, name), name) if c.HasField(name) else None  # type: ignore[arg-type]


def rule_of(c: rules_pb2.Campaign, seq: int) -> Rule:
    """A stored (already normalised) campaign version as the domain sees it."""
    sku_bps: dict[str, int] = {}
    category_bps: dict[str, int] = {}
    for o in c.rate_overrides:
        if o.WhichOneof("target") == "sku":
            sku_bps.setdefault(o.sku, o.percent_bps)
        else:
            category_bps.setdefault(o.category_id, o.percent_bps)
    return Rule(
        campaign_id=c.campaign_id, version=c.version, seq=seq, name=c.name, currency=c.currency_code,
        trigger=Trigger.EVENT if c.trigger == rules_pb2.TRIGGER_EVENT else Trigger.ORDER,
        event_type=c.event_type,
        percent_bps=c.percent_bps if c.WhichOneof("reward") == "percent_bps" else None,
        fixed=_fixed(c), tier_bps=dict(c.tier_percent_bps), sku_bps=sku_bps,
        category_bps=category_bps, min_order=_opt_money(c, "min_order"),
        max_per_order=_opt_money(c, "max_per_order"), max_per_customer=_opt_money(c, "max_per_customer"),
        max_awards_per_customer=c.max_awards_per_customer, max_awards_per_day=c.max_awards_per_customer_per_day,
        budget=_opt_money(c, "budget"), starts_at=_opt_ts(c, "starts_at"), ends_at=_opt_ts(c, "ends_at"),
        timezone=c.timezone or "UTC", channels=frozenset(c.channels),
        payment_methods=frozenset(p.lower() for p in c.payment_methods),
        coupon_codes=frozenset(p.lower() for p in c.coupon_codes),
        include_categories=frozenset(c.include_category_ids), include_skus=frozenset(c.include_skus),
        exclude_categories=frozenset(c.exclude_category_ids), exclude_skus=frozenset(c.exclude_skus),
        min_prior_orders=c.min_prior_orders,
        max_prior_orders=c.max_prior_orders if c.HasField("max_prior_orders") else None,
        customer_tiers=frozenset(c.customer_tiers),
        customer_segments=frozenset(c.customer_segments), priority=c.priority,
        exclusive=c.stacking == rules_pb2.STACKING_EXCLUSIVE, pending_days=c.pending_days,
        expires_after_days=c.expires_after_days, points=c.reward_unit == rules_pb2.REWARD_UNIT_POINTS,
    )


def _fixed(c: rules_pb2.Campaign) -> Money | None:
    """The fixed reward: `fixed`, or a points campaign's fixed_points counted as minor units."""
    if c.reward_unit == rules_pb2.REWARD_UNIT_POINTS:
        return Money(c.currency_code, c.fixed_points) if c.fixed_points else None
    return _opt_money(c, "fixed")


# Fields the server owns: never taken from a client's campaign, never stored in a version.
OUTPUT_ONLY = ("version", "created_at", "updated_at", "budget_used")


def version_body(body: bytes, version: int) -> bytes:
    """A campaign's stored form as version `version`. Status lives on the
    campaign row, not in a version."""
    c = rules_pb2.Campaign.FromString(body)
    c.version = version
    c.ClearField("status")
    return c.SerializeToString(deterministic=True)


def comparable(body: bytes) -> bytes:
    """What an update must change for a new version to be worth writing."""
    c = rules_pb2.Campaign.FromString(body)
    for name in (*OUTPUT_ONLY, "status"):
        c.ClearField(name)  # type: ignore[arg-type]
    return c.SerializeToString(deterministic=True)


def rule_from_body(body: bytes, seq: int) -> Rule:
    """A stored campaign version as the domain sees it."""
    return rule_of(rules_pb2.Campaign.FromString(body), seq)


# Orders ---------------------------------------------------------------------

def order_from_body(body: bytes, placed_at: datetime) -> OrderIn:
    """A stored order (validated when it was scored) as the domain sees it."""
    o = rules_pb2.Order.FromString(body)
    cur = o.currency_code

    def money(parent, name: str) -> Money:  # type: ignore[no-untyped-def]
        return Money(cur, getattr(parent, name).amount_minor) if parent.HasField(name) else Money.zero(cur)

    lines = tuple(Line(ln.sku, tuple(ln.category_ids), Money(cur, ln.unit_price.amount_minor), ln.quantity,
                       money(ln, "line_discount")) for ln in o.lines)
    return OrderIn(o.merchant_id, o.order_id, o.customer_id, placed_at, cur, o.channel, o.payment_method, lines,
                   money(o, "shipping"), money(o, "tax"), money(o, "order_discount"), money(o, "wallet_paid"),
                   tuple(o.coupon_codes))


# Scores ---------------------------------------------------------------------

def score_to_pb(score: ScoreOut, *, merchant_id: str, customer_id: str, order_id: str = "",
                event_id: str = "") -> rules_pb2.Score:
    pb = rules_pb2.Score(order_id=order_id, event_id=event_id, merchant_id=merchant_id, customer_id=customer_id)
    if score.currency:
        pb.total.CopyFrom(money_pb(score.total))
    pb.points_total = score.points_total
    for a in score.awards:
        award = pb.awards.add(campaign_id=a.campaign_id, campaign_version=a.campaign_version,
                              explanation=a.explanation)
        if a.points:
            award.unit = rules_pb2.REWARD_UNIT_POINTS
            award.amount.CopyFrom(money_pb(Money(POINTS, a.amount.minor)))
        else:
            award.amount.CopyFrom(money_pb(a.amount))
        award.available_at.CopyFrom(ts_pb(a.available_at))
        if a.expires_at is not None:
            award.expires_at.CopyFrom(ts_pb(a.expires_at))
    for s in score.skipped:
        pb.skipped.add(campaign_id=s.campaign_id, campaign_version=s.campaign_version, reason=s.reason,
                       code=int(s.code))
    return pb




_SKIPPED_TAG = b"\x22"  # Score.skipped: field 4, length-delimited


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def skipped_entry(s: SkipOut) -> bytes:
    """One `skipped` entry of a serialized Score."""
    body = rules_pb2.Skipped(campaign_id=s.campaign_id, campaign_version=s.campaign_version, reason=s.reason,
                             code=rules_pb2.SkipReason.ValueType(s.code)).SerializeToString(deterministic=True)
    return _SKIPPED_TAG + _varint(len(body)) + body


def score_bytes(score: ScoreOut, *, merchant_id: str, customer_id: str, order_id: str = "",
                event_id: str = "") -> bytes:
    return score_to_pb(score, merchant_id=merchant_id, customer_id=customer_id, order_id=order_id,
                       event_id=event_id).SerializeToString(deterministic=True)


def pack(score: bytes) -> bytes:
    # A score lists every campaign that did not pay; with hundreds of active
    # campaigns the same sentences repeat, and compress about tenfold.
    return zlib.compress(score, 1)


def unpack(body: bytes) -> bytes:
    return zlib.decompress(body)


def cut(score: bytes, detail: SkippedDetail) -> bytes:
    """A stored (full) score as an answer of `detail`."""
    if detail is SkippedDetail.ALL:
        return score
    pb = rules_pb2.Score.FromString(score)
    keep = [s for s in pb.skipped if shows(detail, s.code)]
    del pb.skipped[:]
    pb.skipped.extend(keep)
    return pb.SerializeToString(deterministic=True)


# Reversals ------------------------------------------------------------------

def reversal_bytes(r: ReversalOut) -> bytes:
    pb = rules_pb2.Reversal(order_id=r.order_id, refund_id=r.refund_id, total=money_pb(r.total),
                            points_total=r.points_total)
    for a in r.awards:
        unit = rules_pb2.REWARD_UNIT_POINTS if a.amount.currency == POINTS else rules_pb2.REWARD_UNIT_UNSPECIFIED
        pb.awards.add(campaign_id=a.campaign_id, campaign_version=a.campaign_version, amount=money_pb(a.amount),
                      explanation=a.explanation, unit=unit)
    return pb.SerializeToString(deterministic=True)
