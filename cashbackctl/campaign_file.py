"""Campaign files (YAML or JSON) → Campaign messages.

The file uses the proto's field names, plus what people write by hand:
- `key`: a name of the user's choosing that becomes the campaign's id, so applying
  the file again updates that campaign instead of creating another;
- money as "500 SAR", "1,000,000 IRR", "50,000 toman", "۵۰٬۰۰۰ تومان", a bare amount in
  the campaign's (or else the merchant's) currency, or {currency_code, amount_minor};
- `percent: 10` for percent_bps 1000;
- dates as `starts_on` / `ends_on` (both inclusive, local dates in `timezone`):
  1 to 3 March covers 00:00 on the 1st to 00:00 after the 3rd, in that zone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cashback.rules.v1 import rules_pb2
from google.protobuf.json_format import ParseDict, ParseError

from cashbackctl.units import AmountError, parse_amount

MONEY_FIELDS = ("fixed", "min_order", "max_per_order", "max_per_customer", "budget")


class CampaignFileError(ValueError):
    pass


def parse_money(value: Any, field: str, currency: str | Callable[[], str] = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        m = parse_amount(str(value), field, currency)
    except AmountError as exc:
        raise CampaignFileError(str(exc)) from exc
    return {"currency_code": m.currency, "amount_minor": str(m.minor)}


def local_midnight(day: date, zone: str) -> str:
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CampaignFileError(f"timezone: unknown zone {zone!r}") from exc
    return datetime.combine(day, time(0), tzinfo=tz).isoformat()


def _as_date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise CampaignFileError(f"{field}: expected a date like 2026-03-01") from exc


def campaign_from_doc(doc: dict[str, Any], merchant: str,
                      currency: str | Callable[[], str] = "") -> rules_pb2.Campaign:
    """`currency` (the merchant's) prices bare amounts when the doc names no currency_code."""
    doc = dict(doc)
    if "key" in doc:
        doc["campaign_id"] = str(doc.pop("key"))
    doc.setdefault("merchant_id", merchant)
    zone = doc.setdefault("timezone", "UTC")
    if "percent" in doc:
        doc["percent_bps"] = int(Decimal(str(doc.pop("percent"))) * 100)
    for name in MONEY_FIELDS:
        if name in doc:
            doc[name] = parse_money(doc[name], name, doc.get("currency_code") or currency)
    if "starts_on" in doc:
        doc["starts_at"] = local_midnight(_as_date(doc.pop("starts_on"), "starts_on"), zone)
    if "ends_on" in doc:
        last = _as_date(doc.pop("ends_on"), "ends_on")
        doc["ends_at"] = local_midnight(last + timedelta(days=1), zone)
    for key in ("starts_at", "ends_at"):
        if isinstance(doc.get(key), datetime):
            doc[key] = doc[key].isoformat()
    if not doc.get("currency_code"):
        codes = {doc[n]["currency_code"] for n in MONEY_FIELDS if isinstance(doc.get(n), dict)}
        if len(codes) == 1:
            doc["currency_code"] = codes.pop()
        elif currency and not codes:
            doc["currency_code"] = currency() if callable(currency) else currency
    try:
        return ParseDict(doc, rules_pb2.Campaign())
    except ParseError as exc:
        raise CampaignFileError(str(exc)) from exc


def field_paths(doc: dict[str, Any]) -> list[str]:
    """The Campaign fields a document sets: the update mask when the file is applied again."""
    renames = {"percent": "percent_bps", "starts_on": "starts_at", "ends_on": "ends_at", "key": "campaign_id"}
    # The service keeps ids, status and currency out of updates; status has its own commands.
    return sorted({renames.get(k, k) for k in doc} - {"campaign_id", "merchant_id", "status", "currency_code"})


def load_docs(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CampaignFileError(f"{path}: {exc}") from exc
    docs = data if isinstance(data, list) else (data.get("campaigns", [data]) if isinstance(data, dict) else None)
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise CampaignFileError(f"{path}: expected a campaign, a list of campaigns, or {{campaigns: [...]}}")
    keys = [str(d["key"]) for d in docs if "key" in d]
    if len(keys) != len(set(keys)):
        raise CampaignFileError(f"{path}: key: each campaign's key must be unique in the file")
    return docs


def load_campaigns(path: Path, merchant: str, currency: str | Callable[[], str] = "") -> list[rules_pb2.Campaign]:
    return [campaign_from_doc(d, merchant, currency) for d in load_docs(path)]
