"""The base every canonical model inherits.

Canonical objects are values: frozen, so a message cannot change under the router's feet after it
was validated, and ``extra="forbid"``, so a misspelt or smuggled field (``"is_paid": true``) is an
error rather than silently dropped. Coercion is kept to what is lossless; the exact types that matter
(quantities, money, timestamps) use strict annotations of their own.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

__all__ = [
    "CanonicalModel",
    "NonNegativeQuantity",
    "PositiveQuantity",
    "Text",
    "Timestamp",
]


class CanonicalModel(BaseModel):
    """Immutable, closed-world base model of the canonical layer."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=False,
        validate_default=True,
        use_enum_values=False,
        ser_json_timedelta="iso8601",
        populate_by_name=False,
    )

    #: Name of the published JSON Schema (``schemas/<name>/v<major>.json``) for top-level types.
    schema_name: ClassVar[str | None] = None
    #: Major version of that schema; bump it for any change that removes or retypes a field.
    schema_major: ClassVar[int] = 1


#: A strictly positive whole quantity: ``3`` is fine, ``3.0``, ``"3"``, ``True`` and ``-1`` are not.
PositiveQuantity = Annotated[StrictInt, Field(gt=0, le=10_000_000)]
#: A whole quantity that may be zero (positions, counted stock).
NonNegativeQuantity = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]
#: A timestamp with a time zone: naive datetimes are refused because "when" must be unambiguous.
Timestamp = AwareDatetime
#: Free text with a sane length cap (the ingress caps whole bodies too; this keeps fields honest).
Text = Annotated[str, Field(max_length=2000)]
