"""The one limit on amounts every service applies at its edge: no single amount
above 10^15 minor units (10^13 SAR, 10^15 IRR). Far above any real order and
far below int64, so sums and products of amounts stay storable: an absurd
amount is INVALID_ARGUMENT naming the field, never a database overflow.

Sums grow past any one amount: a balance is credited again and again. Each balance
column stays at most 10^18 minor units, so the four of one balance still add up
inside int64 (9.2 x 10^18); a credit that would pass it is FAILED_PRECONDITION with
reason BALANCE_LIMIT (the request is fine, the account is full), never a bigint
overflow in the database."""

from __future__ import annotations

from cashback_kit.errors import FailedPrecondition, InvalidArgument

MAX_MINOR = 10**15
MAX_BALANCE_MINOR = 10**18


def check_amount(minor: int, field: str, what: str = "the amount") -> int:
    """`minor` if |minor| <= MAX_MINOR, else InvalidArgument on `field`."""
    if abs(minor) > MAX_MINOR:
        raise InvalidArgument(f"{what} is larger than {MAX_MINOR} minor units", field=field)
    return minor


def check_balance_room(current: int, credit: int, currency: str) -> None:
    """Refuse a credit that would take a balance past MAX_BALANCE_MINOR (checked before
    anything changes, so the refusal leaves the account as it was)."""
    if current + credit > MAX_BALANCE_MINOR:
        raise FailedPrecondition(
            f"this credit would take the balance past {MAX_BALANCE_MINOR} minor units of {currency}",
            reason="BALANCE_LIMIT", metadata={"currency": currency})
