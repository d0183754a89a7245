"""The campaign form: every field of the contract's Campaign, to and from what a
person types. Amounts are in the merchant's units (a bare number is tomans for an
IRR merchant); the result goes through the same campaign_from_doc as the CLI's
campaign files, so both read money, percents and local dates alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from cashback.rules.v1 import rules_pb2 as R

from cashback_kit.money import Money
from cashbackctl.campaign_file import CampaignFileError, campaign_from_doc
from cashbackctl.units import AmountError, major, parse_amount, to_ascii

MONEY = ("fixed", "min_order", "max_per_order", "max_per_customer", "budget")
INTS = ("max_awards_per_customer", "max_awards_per_customer_per_day", "min_prior_orders", "priority",
        "pending_days", "expires_after_days")
LISTS = ("payment_methods", "coupon_codes", "include_category_ids", "include_skus", "exclude_category_ids",
         "exclude_skus", "customer_tiers")
# What an edit replaces: every mutable field the form shows (an emptied field clears it).
UPDATE_PATHS = ["name", "description", "trigger", "event_type", "reward", "tier_percent_bps", "rate_overrides",
                "min_order", "max_per_order", "max_per_customer", "max_awards_per_customer",
                "max_awards_per_customer_per_day", "budget", "starts_at", "ends_at", "timezone", "channels",
                "payment_methods", "coupon_codes", "include_category_ids", "include_skus", "exclude_category_ids",
                "exclude_skus", "min_prior_orders", "customer_tiers", "priority", "stacking", "pending_days",
                "expires_after_days"]
T = Callable[[str], str]


def unit_word(currency: str) -> str:
    """What a bare number in a form means: tomans for IRR, else the currency itself."""
    return "toman" if currency == "IRR" else currency


def _bps(text: str) -> int:
    value = Decimal(to_ascii(text).strip().rstrip("%").replace(",", "."))
    if value != value.quantize(Decimal("0.01")) or not 0 <= value <= 100:
        raise InvalidOperation
    return int(value * 100)


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for part in to_ascii(text).replace("\n", ",").split(","):
        if part.strip():
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(part)
            out.append((name.strip(), value.strip()))
    return out


def campaign_doc(form: Any, currency: str, t: T, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as a campaign-file document, and field -> problem."""

    def get(name: str) -> str:
        return str(form.get(name) or "").strip()

    doc: dict[str, Any] = {"name": get("name"), "description": get("description")}
    errors: dict[str, str] = {}
    if not doc["name"]:
        errors["name"] = t("required")
    if creating:
        if get("key"):
            doc["key"] = get("key")
        doc["status"] = "CAMPAIGN_STATUS_ACTIVE" if get("status") == "active" else "CAMPAIGN_STATUS_DRAFT"
        doc["currency_code"] = (get("currency_code") or currency).upper()
    doc["trigger"] = "TRIGGER_EVENT" if get("trigger") == "event" else "TRIGGER_ORDER"
    doc["event_type"] = get("event_type")
    unit = unit_word(doc.get("currency_code", currency))
    for name in MONEY:
        if get(name) and (name != "fixed" or get("reward_kind") == "fixed"):
            try:
                m = parse_amount(get(name), name, unit)
                doc[name] = {"currency_code": m.currency, "amount_minor": str(m.minor)}
            except AmountError as exc:
                errors[name] = str(exc).split(": ", 1)[-1]
    if get("reward_kind") != "fixed":
        try:
            doc["percent_bps"] = _bps(get("percent") or "0")
        except (InvalidOperation, ValueError):
            errors["percent"] = t("write a percent such as 10 or 2.5")
    elif not get("fixed"):
        errors["fixed"] = t("required")
    for name in INTS:
        try:
            doc[name] = int(to_ascii(get(name)) or 0)
        except ValueError:
            errors[name] = t("write a whole number")
    try:
        doc["tier_percent_bps"] = {k: _bps(v) for k, v in _pairs(get("tier_percent"))}
    except (ValueError, InvalidOperation):
        errors["tier_percent"] = t("write name=percent, e.g. gold=12")
    try:
        overrides = []
        for target, rate in _pairs(get("rate_overrides")):
            kind, _, value = target.partition(":")
            if kind not in ("sku", "category") or not value:
                raise ValueError(target)
            overrides.append({"sku" if kind == "sku" else "category_id": value, "percent_bps": _bps(rate)})
        doc["rate_overrides"] = overrides
    except (ValueError, InvalidOperation):
        errors["rate_overrides"] = t("write sku:CODE=percent or category:ID=percent")
    doc["channels"] = [f"CHANNEL_{c.upper()}" for c in form.getlist("channels") if c in ("web", "app", "pos")]
    for name in LISTS:
        doc[name] = [x.strip() for x in get(name).replace("،", ",").split(",") if x.strip()]
    doc["stacking"] = "STACKING_EXCLUSIVE" if get("stacking") == "exclusive" else "STACKING_STACKABLE"
    doc["timezone"] = get("timezone") or "UTC"
    for name in ("starts_on", "ends_on"):
        if get(name):
            doc[name] = get(name)
    return doc, errors


def campaign_from_form(form: Any, merchant: str, currency: str, t: T,
                       *, creating: bool) -> tuple[R.Campaign | None, dict[str, str]]:
    doc, errors = campaign_doc(form, currency, t, creating=creating)
    if errors:
        return None, errors
    try:
        return campaign_from_doc(doc, merchant, currency), {}
    except CampaignFileError as exc:
        field, _, message = str(exc).partition(": ")
        return None, {field if field in form else "name": message or str(exc)}


def _amount(m: Any) -> str:
    """A Money message as the form shows it: display units, no unit word, ASCII digits."""
    value = major(Money(m.currency_code, m.amount_minor))
    return f"{value:,f}" if m.currency_code != "IRR" else f"{value:,}"


def _pct(bps: int) -> str:
    return f"{Decimal(bps) / 100:f}".rstrip("0").rstrip(".")


def form_from_campaign(c: R.Campaign) -> dict[str, Any]:
    zone = ZoneInfo(c.timezone or "UTC")

    def day(ts: Any, exclusive: bool = False) -> str:
        if not ts.seconds:
            return ""
        moment = ts.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
        return (moment - timedelta(microseconds=1) if exclusive else moment).date().isoformat()

    form: dict[str, Any] = {
        "name": c.name, "description": c.description, "trigger": "event" if c.trigger == R.TRIGGER_EVENT else "order",
        "event_type": c.event_type, "reward_kind": "fixed" if c.WhichOneof("reward") == "fixed" else "percent",
        "percent": _pct(c.percent_bps) if c.WhichOneof("reward") != "fixed" else "",
        "tier_percent": ", ".join(f"{k}={_pct(v)}" for k, v in sorted(c.tier_percent_bps.items())),
        "rate_overrides": ", ".join(f"{'sku' if o.WhichOneof('target') == 'sku' else 'category'}:"
                                    f"{o.sku or o.category_id}={_pct(o.percent_bps)}" for o in c.rate_overrides),
        "channels": [R.Channel.Name(ch).removeprefix("CHANNEL_").lower() for ch in c.channels],
        "stacking": "exclusive" if c.stacking == R.STACKING_EXCLUSIVE else "stackable",
        "timezone": c.timezone or "UTC", "starts_on": day(c.starts_at), "ends_on": day(c.ends_at, exclusive=True),
        "currency_code": c.currency_code,
    }
    for name in MONEY:
        form[name] = _amount(getattr(c, name)) if c.HasField(name) else ""  # type: ignore[arg-type]
    for name in INTS:
        form[name] = str(getattr(c, name))
    for name in LISTS:
        form[name] = ", ".join(getattr(c, name))
    return form
