"""Money: exactness, currency precision, explicit rounding and refusal to mix currencies."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical import CurrencyMismatchError, Money, minor_units, round_amount
from tests.canonical.strategies import CURRENCIES, EXPONENTS, currencies, money


def test_minor_units_follow_iso_4217() -> None:
    for code, exponent in EXPONENTS.items():
        assert minor_units(code) == exponent


@given(currencies.flatmap(lambda c: st.tuples(money(c), money(c), money(c))))
def test_addition_is_exact_commutative_and_associative(values: tuple[Money, Money, Money]) -> None:
    a, b, c = values
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert (a + b).amount == a.amount + b.amount
    assert (a + b) - b == a
    assert a + (-a) == Money.zero(a.currency)


@given(st.data())
def test_arithmetic_refuses_mixed_currencies(data: st.DataObject) -> None:
    first, second = data.draw(st.lists(currencies, min_size=2, max_size=2, unique=True))
    a, b = data.draw(money(first)), data.draw(money(second))
    with pytest.raises(CurrencyMismatchError, match="different currencies"):
        _ = a + b
    with pytest.raises(CurrencyMismatchError):
        _ = a - b
    with pytest.raises(CurrencyMismatchError):
        _ = a < b
    with pytest.raises(CurrencyMismatchError):
        Money.sum([a, b], first)


@given(
    currencies,
    st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False),
)
def test_rounding_lands_on_the_minor_unit_within_half_a_unit(currency: str, raw: Decimal) -> None:
    rounded = round_amount(raw, currency)
    unit = Decimal(1).scaleb(-EXPONENTS[currency])
    assert rounded % unit == 0
    assert abs(rounded - raw) <= unit / 2
    assert round_amount(rounded, currency) == rounded  # idempotent
    money_value = Money.of(raw, currency)
    assert money_value.amount == rounded
    toward_zero = Money.of(raw, currency, rounding=ROUND_DOWN).amount
    assert abs(toward_zero) <= abs(raw)
    assert abs(raw - toward_zero) < unit


def test_rounding_mode_is_explicit() -> None:
    assert Money.of("0.125", "USD").amount == Decimal("0.12")  # banker's rounding by default
    assert Money.of("0.125", "USD", rounding=ROUND_HALF_UP).amount == Decimal("0.13")
    assert Money.of("2.5", "JPY").amount == Decimal("2")
    assert Money.of("1.2345", "KWD").amount == Decimal("1.234")


@given(st.data())
def test_allocation_never_creates_or_loses_a_minor_unit(data: st.DataObject) -> None:
    currency = data.draw(currencies)
    whole = data.draw(money(currency, -(10**7), 10**7))
    weights = data.draw(st.lists(st.integers(0, 1000), min_size=1, max_size=12))
    if sum(weights) == 0:
        weights[0] = 1
    parts = whole.allocate(weights)
    assert len(parts) == len(weights)
    assert Money.sum(parts, currency) == whole
    total_weight = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(whole.minor_units) * weight / total_weight
        assert abs(Decimal(part.minor_units) - exact) < 1
        if weight == 0:
            assert part.is_zero()


@given(currencies, st.integers(-(10**12), 10**12))
def test_minor_unit_round_trip(currency: str, units: int) -> None:
    value = Money.from_minor_units(units, currency)
    assert value.minor_units == units
    assert Money.model_validate_json(value.model_dump_json()) == value


@given(currencies.flatmap(lambda c: st.tuples(money(c), st.integers(0, 1000))))
def test_multiplying_by_a_quantity_is_exact(values: tuple[Money, int]) -> None:
    price, quantity = values
    assert (price * quantity).amount == price.amount * quantity
    assert quantity * price == price * quantity


def test_multiply_by_rate_rounds_explicitly() -> None:
    assert Money(amount="19.99", currency="USD").multiply("0.0825") == Money(
        amount="1.65", currency="USD"
    )
    with pytest.raises(TypeError, match="never a float"):
        Money(amount="1", currency="USD").multiply(0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="whole quantity"):
        _ = Money(amount="1", currency="USD") * 1.5  # type: ignore[operator]


def test_amounts_serialise_as_strings_at_currency_precision() -> None:
    assert Money(amount="10.5", currency="USD").model_dump_json() == (
        '{"amount":"10.50","currency":"USD"}'
    )
    assert Money(amount=Decimal(3), currency="JPY").model_dump(mode="json") == {
        "amount": "3",
        "currency": "JPY",
    }


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"amount": 19.99, "currency": "USD"}, "amount", "not a float"),
        ({"amount": True, "currency": "USD"}, "amount", "not a bool"),
        ({"amount": "19,99", "currency": "USD"}, "amount", "not a decimal number"),
        ({"amount": "NaN", "currency": "USD"}, "amount", "not a decimal number"),
        ({"amount": Decimal("Infinity"), "currency": "USD"}, "amount", "finite"),
        ({"amount": "1e3", "currency": "USD"}, "amount", "not a decimal number"),
        ({"amount": "1.005", "currency": "USD"}, "amount", "more decimal places than USD allows"),
        ({"amount": "1.5", "currency": "JPY"}, "amount", "more decimal places than JPY allows"),
        ({"amount": "1", "currency": "usd"}, "currency", "did you mean 'USD'"),
        ({"amount": "1", "currency": "ZZZ"}, "currency", "not an ISO 4217 currency"),
        ({"amount": "1", "currency": "XAU"}, "currency", "no minor unit"),
        ({"amount": "1", "currency": "US"}, "currency", "at least 3 characters"),
        ({"amount": "1" * 16, "currency": "USD"}, "amount", "outside the supported range"),
    ],
)
def test_invalid_money_names_the_field_and_the_reason(data: dict, field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        Money.model_validate(data)
    message = str(info.value)
    assert field in message
    assert reason in message


def test_json_numbers_are_refused_even_when_exact() -> None:
    with pytest.raises(ValidationError, match="exact decimals in JSON are strings"):
        Money.model_validate_json('{"amount": 3, "currency": "JPY"}')
    with pytest.raises(ValidationError, match="not a float"):
        Money.model_validate_json('{"amount": 3.5, "currency": "USD"}')


def test_trailing_zeros_beyond_the_minor_unit_are_exact_and_accepted() -> None:
    assert Money(amount="1.2500", currency="USD").amount == Decimal("1.25")


def test_negative_zero_has_one_spelling() -> None:
    assert Money.of("-0.001", "USD").model_dump(mode="json")["amount"] == "0.00"
    assert (Money(amount="-0.00", currency="EUR")).model_dump(mode="json")["amount"] == "0.00"
    small = Money(amount="0.01", currency="USD")
    assert (small - small).model_dump(mode="json")["amount"] == "0.00"


def test_money_is_immutable_and_hashable() -> None:
    price = Money(amount="5.00", currency="EUR")
    with pytest.raises(ValidationError):
        price.amount = Decimal(6)  # type: ignore[misc]
    assert len({price, Money(amount="5", currency="EUR")}) == 1


def test_every_listed_currency_is_known() -> None:
    for code in CURRENCIES:
        Money.zero(code)
