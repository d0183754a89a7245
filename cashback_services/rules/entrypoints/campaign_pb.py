"""Campaign protos: validation with field violations, defaults, update-mask
merging, and the Campaign a client sees of a stored version.

A stored campaign version is the normalised proto (defaults filled in), so a
later reader never has to guess what an unset field meant when it was written."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cashback.rules.v1 import rules_pb2
from google.protobuf.message import Message

from cashback_kit.amounts import check_amount
from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.money import Money, validate_currency
from cashback_kit.pb import money_from_pb, require_id, ts_from_pb
from cashback_kit.validation import message_violations
from cashback_services.rules.adapters.codec import OUTPUT_ONLY, money_pb, ts_pb
from cashback_services.rules.domain.rfm import SEGMENTS
from cashback_services.rules.service_layer.campaigns import CampaignDraft, CampaignView

MAX_BPS = 10_000
MAX_DAYS = 3650
MAX_LIST = 1000
_STATUS_AT_CREATE = {rules_pb2.CAMPAIGN_STATUS_DRAFT, rules_pb2.CAMPAIGN_STATUS_ACTIVE}
_CHANNELS = {rules_pb2.CHANNEL_WEB, rules_pb2.CHANNEL_APP, rules_pb2.CHANNEL_POS}
# Never changed by UpdateCampaign: identity, server-owned fields, status (its own
# RPC), currency and the reward unit (budget_used and usage are kept in them).
_IMMUTABLE = {"campaign_id", "merchant_id", "status", "currency_code", "reward_unit", *OUTPUT_ONLY}
_MUTABLE = [f.name for f in rules_pb2.Campaign.DESCRIPTOR.fields if f.name not in _IMMUTABLE]
_REWARD = {"reward", "percent_bps", "fixed"}


def collect(v: Violations, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a kit check and turn its InvalidArgument into collected violations."""
    try:
        return fn(*args, **kwargs)
    except InvalidArgument as exc:
        for fv in exc.violations or []:
            v.add(fv.field, fv.description)
        if not exc.violations:
            v.add("", exc.message)
        return None


def stored_strings(v: Violations, message: Message, prefix: str, **limits: Any) -> None:
    """Every string `message` would store checked at once (no control or bidi
    characters, bounded lengths and counts: cashback_kit.validation), added to `v`
    for the fields it has no violation for yet."""
    seen = {fv.field for fv in v.items}
    for fv in message_violations(message, **limits):
        if f"{prefix}{fv.field}" not in seen:
            v.add(f"{prefix}{fv.field}", fv.description)


def _money(v: Violations, c: rules_pb2.Campaign, name: str, currency: str | None, *, positive: bool) -> None:
    if c.HasField(name):  # type: ignore[arg-type]
        kw = {"positive": True} if positive else {"non_negative": True}
        amount = collect(v, money_from_pb, getattr(c, name), f"campaign.{name}", currency=currency, **kw)
        if amount is not None:  # the kit's one limit: budgets, caps and fixed rewards stay summable
            collect(v, check_amount, amount.minor, f"campaign.{name}.amount_minor", f"campaign.{name}")


def _bps(v: Violations, value: int, field: str) -> None:
    v.check(0 <= value <= MAX_BPS, field, "basis points must be between 0 and 10000 (10% = 1000)")


def _names(v: Violations, values: list[str], field: str) -> None:
    v.check(len(values) <= MAX_LIST, field, f"at most {MAX_LIST} entries")
    for i, s in enumerate(values):
        v.check(bool(s.strip()) and len(s) <= 200, f"{field}[{i}]", "a non-empty name of at most 200 characters")


def _points(v: Violations, c: rules_pb2.Campaign, reward: str | None) -> bool:
    """Whether the campaign pays points; a points campaign pays percent_bps or fixed_points, never `fixed`."""
    v.check(c.reward_unit in (rules_pb2.REWARD_UNIT_UNSPECIFIED, rules_pb2.REWARD_UNIT_CREDIT,
                              rules_pb2.REWARD_UNIT_POINTS), "campaign.reward_unit", "CREDIT or POINTS")
    points = c.reward_unit == rules_pb2.REWARD_UNIT_POINTS
    if points:
        v.check(reward != "fixed", "campaign.fixed", "a points campaign pays fixed_points, not a fixed amount")
        v.check(c.fixed_points >= 0, "campaign.fixed_points", "must not be negative")
        v.check(not (c.fixed_points and reward == "percent_bps"), "campaign.fixed_points",
                "a campaign pays percent_bps or fixed_points, not both")
        collect(v, check_amount, c.fixed_points, "campaign.fixed_points", "campaign.fixed_points")
    else:
        v.check(c.fixed_points == 0, "campaign.fixed_points", "only a points campaign (reward_unit POINTS) has it")
    return points


def normalize(c: rules_pb2.Campaign, *, creating: bool) -> rules_pb2.Campaign:
    """Validate a client's campaign and return it with defaults filled in.
    Raises InvalidArgument listing every violation found."""
    c = rules_pb2.Campaign.FromString(c.SerializeToString())
    for name in OUTPUT_ONLY:
        c.ClearField(name)  # type: ignore[arg-type]
    v = Violations()
    collect(v, require_id, c.merchant_id, "campaign.merchant_id")
    if c.campaign_id or not creating:
        collect(v, require_id, c.campaign_id, "campaign.campaign_id")
    v.check(bool(c.name.strip()) and len(c.name) <= 200, "campaign.name", "a name of 1 to 200 characters is required")
    v.check(len(c.description) <= 2000, "campaign.description", "at most 2000 characters")
    currency = collect(v, validate_currency, c.currency_code, "campaign.currency_code")
    if creating:
        if c.status == rules_pb2.CAMPAIGN_STATUS_UNSPECIFIED:
            c.status = rules_pb2.CAMPAIGN_STATUS_DRAFT
        v.check(c.status in _STATUS_AT_CREATE, "campaign.status", "a new campaign is DRAFT or ACTIVE")
    if c.trigger == rules_pb2.TRIGGER_UNSPECIFIED:
        c.trigger = rules_pb2.TRIGGER_ORDER
    v.check(c.trigger in (rules_pb2.TRIGGER_ORDER, rules_pb2.TRIGGER_EVENT), "campaign.trigger", "unknown trigger")
    reward = c.WhichOneof("reward")
    points = _points(v, c, reward)
    if points and c.fixed_points:
        reward = "fixed"
    if c.trigger == rules_pb2.TRIGGER_EVENT:
        v.check(bool(c.event_type.strip()), "campaign.event_type", "an event campaign needs an event_type")
        v.check(reward == "fixed", "campaign.fixed_points" if points else "campaign.fixed",
                "an event campaign pays a fixed amount")
    elif reward is None:
        # A campaign made only of tier rates or rate overrides pays 0% elsewhere.
        v.check(bool(c.tier_percent_bps or c.rate_overrides), "campaign.reward",
                "the reward must be a percentage (percent_bps) or a fixed amount")
    if reward == "percent_bps":
        _bps(v, c.percent_bps, "campaign.percent_bps")
    _money(v, c, "fixed", currency, positive=True)
    for tier, bps in c.tier_percent_bps.items():
        v.check(bool(tier.strip()), "campaign.tier_percent_bps", "tier names must not be empty")
        _bps(v, bps, f"campaign.tier_percent_bps[{tier}]")
    v.check(len(c.rate_overrides) <= MAX_LIST, "campaign.rate_overrides", f"at most {MAX_LIST} overrides")
    for i, o in enumerate(c.rate_overrides):
        target = o.WhichOneof("target")
        v.check(target is not None and bool(getattr(o, target or "sku")), f"campaign.rate_overrides[{i}]",
                "an override names a sku or a category_id")
        _bps(v, o.percent_bps, f"campaign.rate_overrides[{i}].percent_bps")
    _money(v, c, "min_order", currency, positive=False)
    for name in ("max_per_order", "max_per_customer", "budget"):
        _money(v, c, name, currency, positive=True)
    for name in ("max_awards_per_customer", "max_awards_per_customer_per_day", "min_prior_orders"):
        v.check(getattr(c, name) >= 0, f"campaign.{name}", "must not be negative")
    for i, name in enumerate(c.customer_segments):
        v.check(name in SEGMENTS, f"campaign.customer_segments[{i}]", f"one of {', '.join(SEGMENTS)}")
    if c.HasField("max_prior_orders"):
        v.check(c.max_prior_orders >= max(c.min_prior_orders, 0), "campaign.max_prior_orders",
                "must not be negative nor below min_prior_orders (0 = first order only)")
    for name in ("pending_days", "expires_after_days"):
        v.check(0 <= getattr(c, name) <= MAX_DAYS, f"campaign.{name}", f"must be between 0 and {MAX_DAYS} days")
    starts = collect(v, ts_from_pb, c.starts_at, "campaign.starts_at") if c.HasField("starts_at") else None
    ends = collect(v, ts_from_pb, c.ends_at, "campaign.ends_at") if c.HasField("ends_at") else None
    if starts and ends:
        v.check(ends > starts, "campaign.ends_at", "ends_at must be after starts_at")
    c.timezone = c.timezone or "UTC"
    try:
        ZoneInfo(c.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        v.add("campaign.timezone", f"{c.timezone!r} is not an IANA time zone such as Asia/Riyadh")
    for i, ch in enumerate(c.channels):
        v.check(ch in _CHANNELS, f"campaign.channels[{i}]", "channel must be WEB, APP or POS")
    for name in ("payment_methods", "coupon_codes", "include_category_ids", "include_skus",
                 "exclude_category_ids", "exclude_skus", "customer_tiers"):
        _names(v, list(getattr(c, name)), f"campaign.{name}")
    if c.stacking == rules_pb2.STACKING_UNSPECIFIED:
        c.stacking = rules_pb2.STACKING_STACKABLE
    v.check(c.stacking in (rules_pb2.STACKING_STACKABLE, rules_pb2.STACKING_EXCLUSIVE), "campaign.stacking",
            "unknown stacking")
    stored_strings(v, c, "campaign.", max_chars=200, max_items=MAX_LIST, limits={"description": 2000},
                   multiline=("description",))
    v.raise_if_any("invalid campaign")
    return c


def draft_of(c: rules_pb2.Campaign, *, creating: bool) -> CampaignDraft:
    """A client's campaign, validated and normalised, as a version to store; at
    creation an empty campaign_id is assigned here."""
    c = normalize(c, creating=creating)
    if creating and not c.campaign_id:
        c.campaign_id = f"cmp_{uuid.uuid4().hex}"
    return CampaignDraft(c.merchant_id, c.campaign_id, c.status, c.currency_code, c.HasField("budget"),
                         c.SerializeToString(deterministic=True))


def reviser(patch: rules_pb2.Campaign, paths: list[str]) -> Callable[[bytes], CampaignDraft]:
    """UpdateCampaign's change, as a function of the current version's body."""
    v = Violations()
    collect(v, require_id, patch.merchant_id, "campaign.merchant_id")
    collect(v, require_id, patch.campaign_id, "campaign.campaign_id")
    v.raise_if_any("invalid campaign")

    def revise(body: bytes) -> CampaignDraft:
        return draft_of(merge(rules_pb2.Campaign.FromString(body), patch, paths), creating=False)

    return revise


def present(view: CampaignView) -> rules_pb2.Campaign:
    """A stored version with the campaign-wide fields of its row, and what it paid."""
    c = rules_pb2.Campaign.FromString(view.body)
    c.status = view.row.status  # type: ignore[assignment]
    c.created_at.CopyFrom(ts_pb(view.row.created_at))
    c.updated_at.CopyFrom(ts_pb(view.row.updated_at))
    c.budget_used.CopyFrom(money_pb(Money(view.row.currency, view.paid)))
    return c


def merge(current: rules_pb2.Campaign, patch: rules_pb2.Campaign, paths: list[str]) -> rules_pb2.Campaign:
    out = rules_pb2.Campaign()
    out.CopyFrom(current)
    bad = [p for p in paths if p not in _MUTABLE and p != "reward"]
    if bad:
        raise InvalidArgument(f"update_mask names fields that cannot be updated: {', '.join(bad)}",
                              field="update_mask")
    for path in paths or _MUTABLE:
        if path in _REWARD:
            which = patch.WhichOneof("reward")
            out.ClearField("reward")
            if which == "percent_bps":
                out.percent_bps = patch.percent_bps
            elif which == "fixed":
                out.fixed.CopyFrom(patch.fixed)
            continue
        fd = rules_pb2.Campaign.DESCRIPTOR.fields_by_name[path]
        out.ClearField(path)  # type: ignore[arg-type]  # a validated field name
        if fd.message_type is not None and not _repeated(fd):
            if patch.HasField(path):  # type: ignore[arg-type]
                getattr(out, path).CopyFrom(getattr(patch, path))
        elif fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            getattr(out, path).update(getattr(patch, path))
        elif _repeated(fd):
            getattr(out, path).extend(getattr(patch, path))
        elif fd.has_presence:  # an optional scalar: unset in the patch clears it
            if patch.HasField(path):  # type: ignore[arg-type]
                setattr(out, path, getattr(patch, path))
        else:
            setattr(out, path, getattr(patch, path))
    return out


def _repeated(fd) -> bool:  # type: ignore[no-untyped-def]
    rep = getattr(fd, "is_repeated", None)
    return bool(rep) if rep is not None else fd.label == fd.LABEL_REPEATED
