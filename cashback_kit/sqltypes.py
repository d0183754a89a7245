"""Column types every service's tables share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator

# Kept as a name while the services still import it.
BigId = BigInteger()


class UtcDateTime(TypeDecorator[datetime]):
    """`timestamptz` that refuses naive datetimes: asyncpg would silently take a
    naive value as UTC, hiding a missing timezone (a local time stored hours
    off). Values come back aware, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else value.astimezone(UTC)
