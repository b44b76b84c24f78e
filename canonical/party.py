"""People and places: customers and postal addresses, with personal data marked.

Names, e-mail addresses, phone numbers and street lines are :data:`~canonical.pii.Personal`; city,
region, postal code and country are not, because tax, sourcing and analytics need them and they do
not identify a person on their own.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from canonical._base import CanonicalModel
from canonical.identifiers import ExternalId
from canonical.pii import Personal

__all__ = ["Address", "CountryCode", "Customer", "Email"]

#: ISO 3166-1 alpha-2 country code, upper case.
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["US", "DE"])]
#: An e-mail address (shape only; deliverability is not the model's concern).
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
_Line = Annotated[str, Field(max_length=255)]


class Address(CanonicalModel):
    """A postal address. Street lines, name, company and phone are personal data."""

    name: Personal[_Line] | None = None
    company: Personal[_Line] | None = None
    line1: Personal[_Line] | None = None
    line2: Personal[_Line] | None = None
    city: _Line | None = None
    region: (
        Annotated[str, Field(max_length=64, description="State, province or region code.")] | None
    ) = None
    postal_code: Annotated[str, Field(max_length=32)] | None = None
    country: CountryCode | None = None
    phone: Personal[Annotated[str, Field(max_length=64)]] | None = None


class Customer(CanonicalModel):
    """The buyer as the channel knows them."""

    external_id: ExternalId | None = Field(default=None, description="The channel's customer id.")
    email: Personal[Email] | None = None
    name: Personal[_Line] | None = None
    phone: Personal[Annotated[str, Field(max_length=64)]] | None = None
    b2b_account: ExternalId | None = Field(
        default=None, description="Business account the buyer orders for, on B2B channels."
    )
