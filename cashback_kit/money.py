"""Money as an immutable value in integer minor units.

No floats anywhere: amounts are ints, rates are basis points, and every rounding
names its mode. Mixing currencies raises CurrencyMismatch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from cashback_kit.errors import CurrencyMismatch, InvalidArgument

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_CODE = re.compile(r"^[A-Z]{3}$")


class Rounding(Enum):
    HALF_UP = "half_up"  # ties away from zero
    DOWN = "down"  # toward zero
    HALF_EVEN = "half_even"


def div_round(numerator: int, denominator: int, mode: Rounding) -> int:
    """numerator / denominator rounded to an int with the named mode (exact integer math)."""
    if denominator == 0:
        raise ZeroDivisionError("division by zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if mode is Rounding.DOWN:
        pass
    elif mode is Rounding.HALF_UP:
        if 2 * r >= denominator:
            q += 1
    elif mode is Rounding.HALF_EVEN:
        if 2 * r > denominator or (2 * r == denominator and q % 2 == 1):
            q += 1
    return sign * q


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """ISO 4217 minor-unit exponent (SAR 2, IRR 0, KWD 3), from Babel's CLDR data.

    CLDR lists IRR with 0 digits, which is what the contract wants."""
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(code))


@lru_cache(maxsize=1)
def _iso_currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def validate_currency(code: str, field: str = "currency_code") -> str:
    if not _CODE.match(code or ""):
        raise InvalidArgument(f"{field} must be an ISO 4217 code such as SAR or IRR", field=field)
    if code not in _iso_currencies():
        raise InvalidArgument(f"{field} {code!r} is not an ISO 4217 currency", field=field)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    minor: int

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money amounts are integers in minor units, not {type(self.minor).__name__}")
        if not isinstance(self.currency, str) or not _CODE.match(self.currency):
            raise InvalidArgument(f"bad currency code {self.currency!r}", field="currency_code")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.minor)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def __mul__(self, other: object) -> Money:
        if isinstance(other, bool) or not isinstance(other, int):
            raise TypeError("Money multiplies by an int only; use scale() for rates")
        return Money(self.currency, self.minor * other)

    __rmul__ = __mul__

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        return self if self >= other else other

    def scale(self, numerator: int, denominator: int, mode: Rounding) -> Money:
        """self × numerator / denominator, rounded once with `mode`."""
        return Money(self.currency, div_round(self.minor * numerator, denominator, mode))

    def bps(self, basis_points: int, mode: Rounding) -> Money:
        return self.scale(basis_points, 10_000, mode)

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to weights that sum exactly to self
        (largest remainder; ties go to the earlier part)."""
        total = sum(weights)
        if total <= 0 or any(w < 0 for w in weights):
            raise ValueError("weights must be non-negative with a positive sum")
        sign = -1 if self.minor < 0 else 1
        amount = abs(self.minor)
        shares = [amount * w // total for w in weights]
        rest = amount - sum(shares)
        order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
        for i in order[:rest]:
            shares[i] += 1
        return [Money(self.currency, sign * s) for s in shares]

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def in_int64(self) -> bool:
        return INT64_MIN <= self.minor <= INT64_MAX

    def __str__(self) -> str:
        exp = currency_exponent(self.currency)
        if exp == 0:
            return f"{self.minor} {self.currency}"
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d} {self.currency}"
