"""Promotions between protobuf and notify's values: the request's shape checks
(with field paths) into a PromotionDraft, a stored promotion with its counts
into a Promotion message."""

from __future__ import annotations

from typing import Any

from cashback.notify.v1 import notify_pb2 as N

from cashback_kit.amounts import check_amount
from cashback_kit.errors import Violations
from cashback_kit.money import Money
from cashback_kit.pb import money_from_pb, ts_from_pb, ts_to_pb
from cashback_services.notify.domain.promotions import Audience, PromotionDraft, PromotionText

_CHANNEL = {N.CHANNEL_SMS: "sms", N.CHANNEL_EMAIL: "email"}
_CHANNEL_PB = {v: k for k, v in _CHANNEL.items()}
_STATUS_PB = {s: getattr(N, f"PROMOTION_STATUS_{s}") for s in ("SCHEDULED", "SENDING", "SENT", "CANCELLED")}


def draft_of(r: N.CreatePromotionRequest) -> PromotionDraft:
    v = Violations()
    for i, ch in enumerate(r.channels):
        v.check(ch in _CHANNEL, f"channels[{i}]", "SMS or EMAIL")
    v.raise_if_any("invalid promotion")
    minimum: Money | None = None
    if r.audience.HasField("min_available") and (
        r.audience.min_available.currency_code or r.audience.min_available.amount_minor
    ):
        minimum = money_from_pb(r.audience.min_available, "audience.min_available", non_negative=True)
        check_amount(minimum.minor, "audience.min_available.amount_minor", "audience.min_available")
    audience = Audience(tuple(r.audience.segments), tuple(r.audience.tiers), minimum, r.audience.inactive_days)
    texts = tuple(PromotionText(t.locale, t.sms_body, t.email_subject, t.email_body) for t in r.texts)
    send_at = ts_from_pb(r.send_at, "send_at") if r.HasField("send_at") else None
    return PromotionDraft(
        r.merchant_id,
        r.promotion_id,
        r.name,
        audience,
        tuple(sorted({_CHANNEL[ch] for ch in r.channels})),
        texts,
        send_at,
    )


def promotion_pb(row: dict[str, Any]) -> N.Promotion:
    a, counts = row["audience"], row["counts"]
    out = N.Promotion(
        merchant_id=row["merchant_id"],
        promotion_id=row["promotion_id"],
        name=row["name"],
        channels=[_CHANNEL_PB[c] for c in row["channels"].split(",") if c],
        status=_STATUS_PB[row["status"]],
        send_at=ts_to_pb(row["send_at"]),
        created_at=ts_to_pb(row["created_at"]),
        audience=N.PromotionAudience(segments=a["segments"], tiers=a["tiers"], inactive_days=a["inactive_days"]),
        texts=[N.PromotionText(**x) for x in row["texts"]],
    )
    if a["min_currency"]:
        out.audience.min_available.currency_code = a["min_currency"]
        out.audience.min_available.amount_minor = a["min_amount"]
    if row["finished_at"] is not None:
        out.finished_at.FromDatetime(row["finished_at"])
    created = sum(counts.values())
    out.counts.CopyFrom(
        N.PromotionCounts(
            matched=row["matched"],
            deliveries_created=created,
            sent=counts.get("SENT", 0),
            suppressed=counts.get("SUPPRESSED", 0) + row["no_contact"],
            no_contact=row["no_contact"],
            failed=counts.get("FAILED", 0) + counts.get("DEAD", 0),
            pending=counts.get("SCHEDULED", 0) + counts.get("SENDING", 0),
        )
    )
    return out
