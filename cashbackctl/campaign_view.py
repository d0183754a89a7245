"""A campaign in words, one line per field that is set (`campaigns show`)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from cashback.rules.v1 import rules_pb2

from cashbackctl.common import money, ts

R = rules_pb2


def _enum(enum: object, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()  # type: ignore[attr-defined]


def _local_day(t: object, zone: str, *, exclusive_end: bool = False) -> str:
    if not t.seconds:  # type: ignore[attr-defined]
        return "-"
    moment = t.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(zone or "UTC"))  # type: ignore[attr-defined]
    if exclusive_end:
        moment -= timedelta(microseconds=1)
    return f"{moment:%Y-%m-%d}"


def _bps(bps: int) -> str:
    return f"{bps / 100:g}%"


def days_text(c: rules_pb2.Campaign) -> str:
    """First and last day, local to the campaign's zone: '2026-03-01 → 2026-03-31', 'always'."""
    first = _local_day(c.starts_at, c.timezone)
    last = _local_day(c.ends_at, c.timezone, exclusive_end=True)
    if first == last == "-":
        return "always"
    return f"{first} → {last}"


def describe(c: rules_pb2.Campaign) -> list[tuple[str, str]]:
    zone = c.timezone or "UTC"
    rows: list[tuple[str, str]] = [
        ("id", c.campaign_id), ("name", c.name), ("description", c.description),
        ("status", _enum(R.CampaignStatus, c.status, "CAMPAIGN_STATUS_")), ("version", str(c.version)),
        ("trigger", _enum(R.Trigger, c.trigger, "TRIGGER_") + (f" ({c.event_type})" if c.event_type else "")),
        ("reward", money(c.fixed) + " per order" if c.WhichOneof("reward") == "fixed" else _bps(c.percent_bps)),
        ("tier rates", ", ".join(f"{k} {_bps(v)}" for k, v in sorted(c.tier_percent_bps.items()))),
        ("rate overrides", ", ".join(f"{o.WhichOneof('target')} {getattr(o, o.WhichOneof('target') or 'sku')} "
                                     f"{_bps(o.percent_bps)}" for o in c.rate_overrides)),
        ("min order", money(c.min_order) if c.HasField("min_order") else ""),
        ("max per order", money(c.max_per_order) if c.HasField("max_per_order") else ""),
        ("max per customer", money(c.max_per_customer) if c.HasField("max_per_customer") else ""),
        ("awards per customer", str(c.max_awards_per_customer or "")),
        ("awards per customer a day", str(c.max_awards_per_customer_per_day or "")),
        ("budget", f"{money(c.budget_used)} used of {money(c.budget)}" if c.HasField("budget")
         else f"{money(c.budget_used)} used, no limit"),
        ("first day", _local_day(c.starts_at, zone)),
        ("last day", _local_day(c.ends_at, zone, exclusive_end=True)),
        ("time zone", zone),
        ("channels", ", ".join(_enum(R.Channel, ch, "CHANNEL_") for ch in c.channels) or "all"),
        ("payment methods", ", ".join(c.payment_methods) or "all"),
        ("coupon codes", ", ".join(c.coupon_codes)),
        ("categories", ", ".join(c.include_category_ids)), ("SKUs", ", ".join(c.include_skus)),
        ("excluded categories", ", ".join(c.exclude_category_ids)), ("excluded SKUs", ", ".join(c.exclude_skus)),
        ("min prior orders", str(c.min_prior_orders or "")),
        ("customer tiers", ", ".join(c.customer_tiers) or "all"),
        ("stacking", _enum(R.Stacking, c.stacking, "STACKING_")), ("priority", str(c.priority or "")),
        ("pending days", str(c.pending_days)),
        ("expires after", f"{c.expires_after_days} days" if c.expires_after_days else "never"),
        ("currency", c.currency_code), ("created", ts(c.created_at)), ("updated", ts(c.updated_at)),
    ]
    return [(k, v) for k, v in rows if v]
