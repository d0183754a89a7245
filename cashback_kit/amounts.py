"""The one limit on amounts every service applies at its edge: no single amount
above 10^15 minor units (10^13 SAR, 10^15 IRR). Far above any real order and
far below int64, so sums and products of amounts stay storable: an absurd
amount is INVALID_ARGUMENT naming the field, never a database overflow."""

from __future__ import annotations

from cashback_kit.errors import InvalidArgument

MAX_MINOR = 10**15


def check_amount(minor: int, field: str, what: str = "the amount") -> int:
    """`minor` if |minor| <= MAX_MINOR, else InvalidArgument on `field`."""
    if abs(minor) > MAX_MINOR:
        raise InvalidArgument(f"{what} is larger than {MAX_MINOR} minor units", field=field)
    return minor
