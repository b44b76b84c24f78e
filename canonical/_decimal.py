"""Exact decimal numbers: amounts, rates and scores that must never pass through a float.

A value arrives as a ``Decimal``, an ``int`` or a decimal string; in JSON it is always a string
(``"0.0625"``), because a JSON number is a float to most parsers. The JSON Schema of these types is
written here rather than left to pydantic, so the published contract does not change with the
pydantic version that generated it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator, PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

__all__ = ["DECIMAL_PATTERN", "ExactDecimal", "between", "decimal_schema", "parse_exact_decimal"]

DECIMAL_PATTERN: Final = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_DECIMAL_RE: Final = re.compile(DECIMAL_PATTERN)


def parse_exact_decimal(value: Any, info: ValidationInfo) -> Decimal:
    """Accept only exact representations of a decimal number."""
    if type(value) is str:  # JSON's only spelling, so every amount of every message: first
        if _DECIMAL_RE.match(value) is None:
            raise ValueError(f"{value!r} is not a decimal number such as '19.99'")
        return Decimal(value)  # the pattern admits finite numbers only
    if isinstance(value, bool | float):
        raise ValueError(
            f"must be exact: pass a decimal string or a Decimal, not a {type(value).__name__}"
            f" ({value!r})"
        )
    if isinstance(value, str):
        if not _DECIMAL_RE.match(value):
            raise ValueError(f"{value!r} is not a decimal number such as '19.99'")
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        if info.mode == "json":
            raise ValueError(f'exact decimals in JSON are strings such as "{value}", not numbers')
        number = Decimal(value)
    else:
        raise ValueError(f"must be a decimal string or a Decimal, not {type(value).__name__}")
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


def between(minimum: Decimal | int | None, maximum: Decimal | int | None) -> AfterValidator:
    """A validator keeping an exact decimal within ``[minimum, maximum]`` (inclusive)."""
    low = None if minimum is None else Decimal(minimum)
    high = None if maximum is None else Decimal(maximum)

    def within_bounds(number: Decimal) -> Decimal:
        if low is not None and number < low:
            raise ValueError(f"must be at least {low} (got {number})")
        if high is not None and number > high:
            raise ValueError(f"must be at most {high} (got {number})")
        return number

    return AfterValidator(within_bounds)


def decimal_schema(description: str) -> WithJsonSchema:
    """The published JSON Schema of an exact decimal: a pattern-checked string."""
    return WithJsonSchema(
        {"type": "string", "pattern": DECIMAL_PATTERN, "description": description}
    )


#: An exact decimal: parsed without floats, serialised to JSON as a string.
ExactDecimal = Annotated[
    Decimal,
    PlainValidator(parse_exact_decimal),
    PlainSerializer(str, return_type=str, when_used="json"),
]
