"""What every wallet request is checked for before anything is read or written, all
at once: every string of the request (nested messages and lists too) has no control
or bidi characters and a bounded length (ids and keys 64 characters, the VARCHAR(64)
they are stored in; other text 2,000), required ids are present and have no spaces
(idempotency keys none at their ends),
and amounts are shown with their currency when refused ("must be positive (got
-5.00 SAR)"). One INVALID_ARGUMENT lists every violation; a NUL byte anywhere is one
of them, never a database error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from cashback_kit.amounts import MAX_MINOR
from cashback_kit.errors import InvalidArgument, Violations
from cashback_kit.money import Money, validate_currency
from cashback_kit.validation import MAX_ID_CHARS, message_violations

_ID_NAMES = frozenset({"idempotency_key", "currency_code", "event_type", "sku", "payment_method", "coupon_codes",
                       "category_ids", "timezone"})
_limits_of: dict[str, dict[str, int]] = {}


def _id_limits(descriptor: Any, prefix: str = "", depth: int = 0) -> dict[str, int]:
    """Paths (without indexes) of the id-like string fields of a request type."""
    out: dict[str, int] = {}
    for fd in descriptor.fields:
        path = f"{prefix}{fd.name}"
        if fd.type == FieldDescriptor.TYPE_STRING and (fd.name.endswith(("_id", "_ids")) or fd.name in _ID_NAMES):
            out[path] = MAX_ID_CHARS
        elif fd.message_type is not None and depth < 4 and not fd.message_type.GetOptions().map_entry:
            out.update(_id_limits(fd.message_type, f"{path}.", depth + 1))
    return out


def request_violations(request: Message, required: Iterable[str] = (),
                       limits: dict[str, int] | None = None) -> Violations:
    """Every string of `request` checked (`limits` by path on top of the id limits),
    and the `required` fields (paths) present."""
    name = request.DESCRIPTOR.full_name
    if name not in _limits_of:
        _limits_of[name] = _id_limits(request.DESCRIPTOR)
    v = Violations()
    # A page token is checked whole by cashback_kit.paging (signed, scoped, bounded), so a bad
    # one is refused alike in every service: reason INVALID_PAGE_TOKEN.
    v.items.extend(fv for fv in message_violations(request, limits={**_limits_of[name], **(limits or {})})
                   if fv.field != "page_token")
    bad = {fv.field for fv in v.items}
    for path in required:
        value: object = request
        for part in path.split("."):
            value = getattr(value, part)
        if not value:
            v.add(path, "is required")
        elif path in bad:
            continue
        elif path.endswith("_id") and any(ch.isspace() for ch in str(value)):
            v.add(path, "must not contain spaces")
        elif str(value).strip() != value:  # keys are the client's: inner spaces are fine
            v.add(path, "must not start or end with spaces")
    return v


def checked(request: Message, *required: str) -> None:
    """request_violations raised at once as INVALID_ARGUMENT (nothing read or written)."""
    request_violations(request, required).raise_if_any("invalid request")


def amount(v: Violations, parent: Message, name: str, field: str, *, sign: str = "positive",
           currency: str | None = None, required: bool = True) -> Money | None:
    """The Money in parent.<name>, or None with its violations added to `v`. `sign` is
    "positive", "non_negative" or "nonzero" (an adjustment either way)."""
    if not parent.HasField(name):
        v.check(not required, field, "is required")
        return None
    pb = getattr(parent, name)
    try:
        code = validate_currency(pb.currency_code, f"{field}.currency_code")
    except InvalidArgument as exc:
        v.items.extend(exc.violations)
        return None
    money = Money(code, pb.amount_minor)
    if currency is not None and code != currency:
        v.add(f"{field}.currency_code", f"is {code} but the request is in {currency}")
    elif sign == "positive" and money.minor <= 0:
        v.add(f"{field}.amount_minor", f"must be positive (got {money})")
    elif sign == "non_negative" and money.minor < 0:
        v.add(f"{field}.amount_minor", f"must not be negative (got {money})")
    elif sign == "nonzero" and money.minor == 0:
        v.add(f"{field}.amount_minor", f"must not be zero (got {money})")
    elif abs(money.minor) > MAX_MINOR:
        v.add(f"{field}.amount_minor", f"must be at most {Money(code, MAX_MINOR)} (got {money})")
    else:
        return money
    return None
