"""Conversions between protobuf messages and kit values (Money, datetimes).

Validation lives here too, so every service reads a Money or a Timestamp the same
way and refuses the same bad input with the same field path."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cashback.common.v1 import common_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cashback_kit.errors import InvalidArgument
from cashback_kit.money import INT64_MAX, Money, validate_currency

# Timestamps outside this range are refused (Python datetimes stop at year 9999).
_MIN_TS = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TS = datetime(9000, 1, 1, tzinfo=UTC)


def money_from_pb(
    pb: common_pb2.Money,
    field: str,
    *,
    currency: str | None = None,
    positive: bool = False,
    non_negative: bool = False,
) -> Money:
    code = validate_currency(pb.currency_code, f"{field}.currency_code")
    if currency is not None and code != currency:
        raise InvalidArgument(
            f"{field} is in {code} but the request is in {currency}", field=f"{field}.currency_code"
        )
    if positive and pb.amount_minor <= 0:
        raise InvalidArgument(f"{field} must be positive", field=f"{field}.amount_minor")
    if non_negative and pb.amount_minor < 0:
        raise InvalidArgument(f"{field} must not be negative", field=f"{field}.amount_minor")
    return Money(code, pb.amount_minor)


def optional_money(
    parent: Message, name: str, field: str, *, currency: str | None = None, non_negative: bool = True
) -> Money | None:
    """The Money in parent.<name>, or None when the field is unset."""
    if not parent.HasField(name):
        return None
    return money_from_pb(getattr(parent, name), field, currency=currency, non_negative=non_negative)


def money_to_pb(m: Money | None) -> common_pb2.Money | None:
    if m is None:
        return None
    if not m.in_int64():
        raise InvalidArgument(f"amount {m} is outside int64", field="amount_minor")
    return common_pb2.Money(currency_code=m.currency, amount_minor=m.minor)


def ts_from_pb(pb: Timestamp, field: str) -> datetime:
    if not (0 <= pb.nanos < 1_000_000_000):
        raise InvalidArgument(f"{field} has invalid nanos", field=field)
    try:
        dt = datetime.fromtimestamp(pb.seconds, tz=UTC) + timedelta(microseconds=pb.nanos // 1000)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidArgument(f"{field} is out of range", field=field) from exc
    if not (_MIN_TS <= dt < _MAX_TS):
        raise InvalidArgument(f"{field} must be between 1970 and 9000", field=field)
    return dt


def optional_ts(parent: Message, name: str, field: str | None = None) -> datetime | None:
    if not parent.HasField(name):
        return None
    return ts_from_pb(getattr(parent, name), field or name)


def ts_to_pb(dt: datetime | None) -> Timestamp | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ts = Timestamp()
    ts.FromDatetime(dt.astimezone(UTC))
    return ts


def duration_from_pb(pb: Duration, field: str) -> timedelta:
    if pb.seconds < 0 or pb.nanos < 0:
        raise InvalidArgument(f"{field} must not be negative", field=field)
    if pb.seconds > 10 * 365 * 86400:
        raise InvalidArgument(f"{field} is too long", field=field)
    return timedelta(seconds=pb.seconds, microseconds=pb.nanos // 1000)


def require_id(value: str, field: str, *, max_len: int = 128) -> str:
    """Ids are non-empty, at most max_len characters, printable, no surrounding spaces."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > max_len:
        raise InvalidArgument(f"{field} is longer than {max_len} characters", field=field)
    if value.strip() != value or not value.isprintable():
        raise InvalidArgument(f"{field} has spaces at the ends or unprintable characters", field=field)
    return value


def fingerprint(msg: Message) -> str:
    """A stable hash of a request, to tell a replay from a different payload."""
    data = msg.SerializeToString(deterministic=True)
    return hashlib.sha256(data).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "INT64_MAX",
    "duration_from_pb",
    "fingerprint",
    "money_from_pb",
    "money_to_pb",
    "optional_money",
    "optional_ts",
    "require_id",
    "ts_from_pb",
    "ts_to_pb",
    "utcnow",
]
