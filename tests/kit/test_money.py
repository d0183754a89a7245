import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback_kit.errors import CurrencyMismatch
from cashback_kit.money import Money, Rounding, currency_exponent, div_round


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        Money("SAR", 1.5)  # type: ignore[arg-type]


def test_adding_different_currencies_is_refused():
    with pytest.raises(CurrencyMismatch):
        Money("SAR", 1) + Money("IRR", 1)


def test_money_is_immutable():
    m = Money("SAR", 100)
    with pytest.raises(AttributeError):
        m.minor = 5  # type: ignore[misc]


def test_half_up_rounds_ties_away_from_zero():
    assert div_round(5, 10, Rounding.HALF_UP) == 1
    assert div_round(-5, 10, Rounding.HALF_UP) == -1
    assert div_round(4, 10, Rounding.HALF_UP) == 0
    assert div_round(15, 10, Rounding.HALF_EVEN) == 2
    assert div_round(25, 10, Rounding.HALF_EVEN) == 2


def test_basis_points_of_an_amount_round_once_half_up():
    assert Money("SAR", 50000).bps(1000, Rounding.HALF_UP) == Money("SAR", 5000)
    assert Money("SAR", 5).bps(1000, Rounding.HALF_UP) == Money("SAR", 1)  # 0.5 -> 1


def test_exponents_come_from_iso_4217():
    assert currency_exponent("SAR") == 2
    assert currency_exponent("IRR") == 0
    assert currency_exponent("KWD") == 3


def test_formatting_uses_the_currency_exponent():
    assert str(Money("SAR", -1250)) == "-12.50 SAR"
    assert str(Money("IRR", 100000)) == "100000 IRR"


@given(st.integers(-(10**15), 10**15), st.lists(st.integers(0, 1000), min_size=1, max_size=20))
def test_allocation_always_sums_to_the_whole(amount, weights):
    if sum(weights) == 0:
        weights = [*weights[:-1], 1]
    parts = Money("SAR", amount).allocate(weights)
    assert sum(p.minor for p in parts) == amount
    assert len(parts) == len(weights)
