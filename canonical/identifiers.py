"""Identifiers: who (tenant), where it was sold (channel), where stock sits (location), what (SKU).

Identifiers are plain strings with a documented shape, not opaque objects, so that they read well
in logs, configs and SQL. Vendor identifiers are always strings: Shopify ids exceed 2^53 and would
silently lose digits as JSON numbers in many parsers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from canonical._base import CanonicalModel

__all__ = [
    "ChannelId",
    "ChannelKind",
    "ExternalId",
    "Gtin",
    "LocationId",
    "LocationKind",
    "Sku",
    "SkuExternalIds",
    "TenantId",
    "is_valid_gtin",
]

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"

#: A tenant (one business running on the hub): lower-case slug, e.g. ``acme``.
TenantId = Annotated[
    str, Field(pattern=_SLUG, description="Tenant slug (lower-case letters, digits, _ and -).")
]
#: A sales channel instance, e.g. ``shopify_us`` or ``amazon_de``: lower-case slug.
ChannelId = Annotated[
    str, Field(pattern=_SLUG, description="Sales channel slug, e.g. shopify_us, amazon_de, b2b.")
]
#: A stock location (warehouse, 3PL node, store): lower-case slug.
LocationId = Annotated[
    str,
    Field(pattern=_SLUG, description="Stock location slug, e.g. wh_east, shipbob_ny, store_12."),
]
#: A stock keeping unit as the business names it: printable, no spaces, at most 64 characters.
Sku = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:#+-]{0,63}$",
        description="Stock keeping unit: letters, digits and . _ / : # + -, at most 64 characters.",
        examples=["TSHIRT-RED-M"],
    ),
]
#: An identifier assigned by a vendor: always a string (ids above 2^53 are kept exactly).
ExternalId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        description="Vendor identifier kept exactly as a string, never as a number.",
    ),
]


class ChannelKind(StrEnum):
    """What kind of system a channel is; a channel instance has one kind."""

    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    AMAZON = "amazon"
    EBAY = "ebay"
    B2B = "b2b"
    POS = "pos"
    OTHER = "other"


class LocationKind(StrEnum):
    """Kinds of stock location; sourcing rules treat them differently."""

    WAREHOUSE = "warehouse"
    THREE_PL = "3pl"
    STORE = "store"
    SUPPLIER = "supplier"


def is_valid_gtin(value: str) -> bool:
    """GS1 check-digit test for GTIN-8, -12 (UPC-A), -13 (EAN) and -14."""
    if len(value) not in (8, 12, 13, 14) or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    body, check = digits[:-1], digits[-1]
    weighted = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - weighted % 10) % 10 == check


def _check_gtin(value: str) -> str:
    if not is_valid_gtin(value):
        raise ValueError(
            f"{value!r} is not a valid GTIN: expected 8, 12, 13 or 14 digits with a correct GS1 "
            "check digit"
        )
    return value


#: A GS1 Global Trade Item Number with a verified check digit.
Gtin = Annotated[
    str,
    Field(pattern=r"^[0-9]{8}([0-9]{4,6})?$", examples=["4006381333931"]),
    AfterValidator(_check_gtin),
]


class SkuExternalIds(CanonicalModel):
    """How one channel identifies a SKU: the product, the variant or listing, and its own SKU."""

    channel: ChannelId
    product_id: ExternalId | None = None
    variant_id: ExternalId | None = None
    listing_id: ExternalId | None = Field(
        default=None, description="Marketplace listing id, e.g. an Amazon ASIN."
    )
    seller_sku: ExternalId | None = Field(
        default=None, description="The SKU the channel itself stores, when it differs."
    )
