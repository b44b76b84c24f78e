"""Money: exact decimal amounts in an ISO 4217 currency.

Floats never carry money here: an amount arrives as a ``Decimal``, an ``int`` or a decimal string
(in JSON, always a string), and a float is refused because ``0.1 + 0.2`` already lost a cent
somewhere. Every amount is held at its currency's minor unit (2 places for USD, 0 for JPY, 3 for
KWD); an input with more places than that is refused rather than rounded, because silently rounding
a vendor's figure hides the very discrepancy reconciliation must find. Rounding happens only when a
caller asks for it (:meth:`Money.of`, :meth:`Money.multiply`), with an explicit rounding mode.

Arithmetic refuses to mix currencies (:class:`~canonical.errors.CurrencyMismatchError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Self

from iso4217 import Currency
from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from canonical._base import CanonicalModel
from canonical._decimal import DECIMAL_PATTERN, parse_exact_decimal
from canonical.errors import CurrencyMismatchError, PrecisionError, UnknownCurrencyError

__all__ = [
    "Amount",
    "CurrencyCode",
    "Money",
    "NonNegativeMoney",
    "PositiveMoney",
    "minor_units",
    "round_amount",
]

#: Largest absolute amount accepted: far above any order, far below Decimal's context precision.
_AMOUNT_LIMIT = Decimal(10) ** 15


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit (ISO 4217 "exponent").

    Raises :class:`UnknownCurrencyError` for codes that are not ISO 4217 currencies or that have no
    minor unit (gold ``XAU``, special drawing rights ``XDR``): those are not money a shop charges.
    """
    if not isinstance(currency, str) or len(currency) != 3:
        raise UnknownCurrencyError(f"{currency!r} is not a three-letter ISO 4217 currency code")
    if currency != currency.upper():
        raise UnknownCurrencyError(
            f"currency codes are upper-case ISO 4217 codes: got {currency!r}, "
            f"did you mean {currency.upper()!r}?"
        )
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise UnknownCurrencyError(f"{currency!r} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise UnknownCurrencyError(
            f"{currency!r} has no minor unit in ISO 4217 (a commodity or fund code), "
            "so it cannot price goods"
        )
    return int(exponent)


def _check_currency(value: str) -> str:
    minor_units(value)
    return value


CurrencyCode = Annotated[
    str,
    Field(
        min_length=3,
        max_length=3,
        json_schema_extra={"pattern": "^[A-Z]{3}$"},
        description="ISO 4217 alphabetic code of a currency with a minor unit.",
        examples=["USD", "EUR", "JPY"],
    ),
    AfterValidator(_check_currency),
]


def _parse_amount(value: Any, info: ValidationInfo) -> Decimal:
    """Accept only exact representations of an amount, within the supported range."""
    amount = parse_exact_decimal(value, info)
    if abs(amount) >= _AMOUNT_LIMIT:
        raise ValueError(f"amount {amount} is outside the supported range (below 10^15)")
    return amount


#: A bare exact amount (no currency), as used in :class:`Money`.
Amount = Annotated[
    Decimal,
    PlainValidator(_parse_amount),
    PlainSerializer(lambda amount: str(amount), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "description": "Exact decimal amount as a string (never a JSON number).",
            "examples": ["19.99"],
        }
    ),
]


def _canonical_zero(amount: Decimal) -> Decimal:
    """``-0.00`` and ``0.00`` are the same amount; keep one spelling of it."""
    return abs(amount) if amount.is_zero() else amount


def round_amount(amount: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``amount`` to ``currency``'s minor unit with an explicit rounding mode.

    Banker's rounding (half-even) is the default because it does not drift upwards when many
    rounded values are summed, which matters for tax and discount allocation.
    """
    places = minor_units(currency)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=rounding)


class Money(CanonicalModel):
    """An exact amount in one currency, held at the currency's minor unit."""

    amount: Amount
    currency: CurrencyCode

    @model_validator(mode="after")
    def _at_currency_precision(self) -> Self:
        places = minor_units(self.currency)
        amount = self.amount
        exponent = amount.as_tuple().exponent
        assert isinstance(exponent, int)  # finite amounts only, checked above
        if exponent == -places and not (amount.is_signed() and amount.is_zero()):
            return self  # already at the minor unit, the common case: every field of every order
        if -exponent > places:
            trimmed = self.amount.normalize()
            trimmed_exponent = trimmed.as_tuple().exponent
            assert isinstance(trimmed_exponent, int)
            if -trimmed_exponent > places:
                raise PrecisionError(
                    f"amount {self.amount} has more decimal places than {self.currency} allows "
                    f"({places}); round it explicitly with Money.of(..., rounding=...)"
                )
        quantized = _canonical_zero(self.amount.quantize(Decimal(1).scaleb(-places)))
        if quantized.as_tuple() != self.amount.as_tuple():
            object.__setattr__(self, "amount", quantized)
        return self

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def of(
        cls, amount: Decimal | int | str, currency: str, rounding: str = ROUND_HALF_EVEN
    ) -> Money:
        """Build Money from an amount that may be finer than the minor unit, rounding explicitly."""
        if isinstance(amount, float):
            raise TypeError("Money.of takes an exact amount (Decimal, int or str), never a float")
        try:
            exact = Decimal(amount)
        except InvalidOperation:
            raise ValueError(f"{amount!r} is not a decimal amount") from None
        return cls(amount=round_amount(exact, currency, rounding), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``; the neutral start of a sum."""
        return cls(amount=Decimal(0), currency=currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """Build Money from an integer count of minor units (Stripe's ``amount: 1999``)."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError(f"minor units are whole numbers, got {type(units).__name__}")
        return cls(amount=Decimal(units).scaleb(-minor_units(currency)), currency=currency)

    @classmethod
    def sum(cls, values: Iterable[Money], currency: str) -> Money:
        """Sum ``values``; every one must be in ``currency`` (an empty sum is zero)."""
        total = Decimal(0)
        for value in values:
            if value.currency != currency:
                raise CurrencyMismatchError(currency, value.currency, "add")
            total += value.amount
        return cls._exact(total, currency)

    @classmethod
    def _exact(cls, amount: Decimal, currency: str) -> Money:
        """Build a result that is exact by construction (sums of amounts at the same precision)."""
        quantized = amount.quantize(Decimal(1).scaleb(-minor_units(currency)))
        return cls.model_construct(amount=_canonical_zero(quantized), currency=currency)

    # -- views ----------------------------------------------------------------------------------

    @property
    def minor_units(self) -> int:
        """The amount as a whole number of minor units (cents for USD)."""
        return int(self.amount.scaleb(minor_units(self.currency)))

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    # -- arithmetic -----------------------------------------------------------------------------

    def _same_currency(self, other: object, operation: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {operation} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(self.currency, other.currency, operation)
        return other

    def __add__(self, other: Money) -> Money:
        other = self._same_currency(other, "add")
        return self._exact(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        other = self._same_currency(other, "subtract")
        return self._exact(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return self._exact(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return self._exact(abs(self.amount), self.currency)

    def __mul__(self, quantity: int) -> Money:
        """Multiply by a whole quantity (exact). Use :meth:`multiply` for fractional factors."""
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise TypeError(
                "Money * x takes a whole quantity; use Money.multiply(factor, rounding) for rates"
            )
        return self._exact(self.amount * quantity, self.currency)

    __rmul__ = __mul__

    def multiply(self, factor: Decimal | int | str, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Multiply by an exact factor (a tax rate, a percentage) and round to the minor unit."""
        if isinstance(factor, float):
            raise TypeError("rates must be exact (Decimal or str), never a float")
        product = self.amount * Decimal(factor)
        return self._exact(round_amount(product, self.currency, rounding), self.currency)

    def allocate(self, weights: Sequence[int | Decimal]) -> list[Money]:
        """Split this amount in proportion to ``weights`` without creating or losing a minor unit.

        The largest-remainder method: every share is rounded down, and the leftover minor units go
        to the shares with the largest remainders (earliest first on ties), so the parts always sum
        exactly to the whole. Used to spread an order-level discount or a tax across lines.
        """
        if not weights:
            raise ValueError("allocate needs at least one weight")
        if any(isinstance(w, float) or w < 0 for w in weights):
            raise ValueError("allocation weights must be exact and non-negative")
        total_weight = sum(Decimal(w) for w in weights)
        if total_weight == 0:
            raise ValueError("allocation weights must not all be zero")
        units = self.minor_units
        sign = -1 if units < 0 else 1
        units = abs(units)
        exact_shares = [Decimal(units) * Decimal(w) / total_weight for w in weights]
        floors = [int(share) for share in exact_shares]
        leftover = units - sum(floors)
        by_remainder = sorted(
            range(len(weights)), key=lambda i: (-(exact_shares[i] - floors[i]), i)
        )
        for index in by_remainder[:leftover]:
            floors[index] += 1
        return [Money.from_minor_units(sign * share, self.currency) for share in floors]

    # -- comparison -----------------------------------------------------------------------------

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same_currency(other, "compare").amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same_currency(other, "compare").amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same_currency(other, "compare").amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same_currency(other, "compare").amount


def _non_negative(value: Money) -> Money:
    if value.amount < 0:
        raise ValueError(f"must not be negative (got {value})")
    return value


def _positive(value: Money) -> Money:
    if value.amount <= 0:
        raise ValueError(f"must be greater than zero (got {value})")
    return value


#: Money that may be zero but never negative (prices, totals).
NonNegativeMoney = Annotated[Money, AfterValidator(_non_negative)]
#: Money strictly above zero (a payment, a refund).
PositiveMoney = Annotated[Money, AfterValidator(_positive)]
