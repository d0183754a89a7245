"""Campaign files (YAML or JSON) → Campaign messages.

The file uses the proto's field names, plus what people write by hand:
- money as "500 SAR" / "1,000,000 IRR" (or {currency_code, amount_minor});
- `percent: 10` for percent_bps 1000;
- dates as `starts_on` / `ends_on` (both inclusive, local dates in `timezone`):
  1 to 3 March covers 00:00 on the 1st to 00:00 after the 3rd, in that zone.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cashback.rules.v1 import rules_pb2
from google.protobuf.json_format import ParseDict, ParseError

from cashback_kit.money import currency_exponent

_MONEY = re.compile(r"^\s*(-?[\d,]+(?:\.\d+)?)\s*([A-Za-z]{3})\s*$")
MONEY_FIELDS = ("fixed", "min_order", "max_per_order", "max_per_customer", "budget")


class CampaignFileError(ValueError):
    pass


def parse_money(value: Any, field: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    m = _MONEY.match(str(value))
    if not m:
        raise CampaignFileError(f"{field}: write money as '<amount> <CUR>', e.g. '50 SAR'")
    amount, code = m.group(1).replace(",", ""), m.group(2).upper()
    exp = currency_exponent(code)
    try:
        minor = Decimal(amount).scaleb(exp)
    except InvalidOperation as exc:
        raise CampaignFileError(f"{field}: {value!r} is not an amount") from exc
    if minor != minor.to_integral_value():
        raise CampaignFileError(f"{field}: {value!r} has more decimals than {code} allows ({exp})")
    return {"currency_code": code, "amount_minor": str(int(minor))}


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


def campaign_from_doc(doc: dict[str, Any], merchant: str) -> rules_pb2.Campaign:
    doc = dict(doc)
    doc.setdefault("merchant_id", merchant)
    zone = doc.setdefault("timezone", "UTC")
    if "percent" in doc:
        doc["percent_bps"] = int(Decimal(str(doc.pop("percent"))) * 100)
    for name in MONEY_FIELDS:
        if name in doc:
            doc[name] = parse_money(doc[name], name)
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
    try:
        return ParseDict(doc, rules_pb2.Campaign())
    except ParseError as exc:
        raise CampaignFileError(str(exc)) from exc


def load_campaigns(path: Path, merchant: str) -> list[rules_pb2.Campaign]:
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    docs = data if isinstance(data, list) else (data.get("campaigns", [data]) if isinstance(data, dict) else None)
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise CampaignFileError(f"{path}: expected a campaign, a list of campaigns, or {{campaigns: [...]}}")
    return [campaign_from_doc(d, merchant) for d in docs]
