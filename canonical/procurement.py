"""Procurement: purchase orders to suppliers, advance ship notices and receipts.

Inbound stock and each supplier's real lead time are data the hub keeps, not guesses: the purchase
order says what was ordered and when it is expected, the notice says it is on its way, the receipt
says what actually arrived.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from canonical._base import CanonicalModel, NonNegativeQuantity, PositiveQuantity, Timestamp
from canonical.identifiers import ExternalId, LocationId, Sku, TenantId
from canonical.inventory import Lot
from canonical.money import CurrencyCode, NonNegativeMoney

__all__ = [
    "AdvanceShipNotice",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Receipt",
    "ReceiptLine",
    "SupplierLine",
]

_Supplier = Annotated[str, Field(min_length=1, max_length=64)]


class PurchaseOrderLine(CanonicalModel):
    sku: Sku
    quantity: PositiveQuantity
    unit_cost: NonNegativeMoney | None = None
    expected_at: Timestamp | None = None


class PurchaseOrder(CanonicalModel):
    """An order placed with a supplier for delivery to one location."""

    schema_name = "purchase_order"
    schema_major = 1
    type: Literal["purchase_order"] = "purchase_order"

    tenant: TenantId
    po_number: ExternalId
    supplier: _Supplier
    location: LocationId
    currency: CurrencyCode | None = None
    lines: Annotated[list[PurchaseOrderLine], Field(min_length=1, max_length=1000)]
    ordered_at: Timestamp
    expected_at: Timestamp

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.expected_at < self.ordered_at:
            raise ValueError("expected_at is earlier than ordered_at")
        return self


class SupplierLine(CanonicalModel):
    sku: Sku
    quantity: PositiveQuantity
    lot: Lot | None = None


class AdvanceShipNotice(CanonicalModel):
    """A supplier's notice that goods of a purchase order have shipped."""

    schema_name = "advance_ship_notice"
    schema_major = 1
    type: Literal["advance_ship_notice"] = "advance_ship_notice"

    tenant: TenantId
    asn_id: ExternalId
    po_number: ExternalId
    supplier: _Supplier
    location: LocationId
    lines: Annotated[list[SupplierLine], Field(min_length=1, max_length=1000)]
    shipped_at: Timestamp
    expected_at: Timestamp


class ReceiptLine(CanonicalModel):
    sku: Sku
    quantity: NonNegativeQuantity = Field(
        description="Units received (0 for a line not delivered)."
    )
    lot: Lot | None = None


class Receipt(CanonicalModel):
    """What actually arrived at a location against a purchase order."""

    schema_name = "receipt"
    schema_major = 1
    type: Literal["receipt"] = "receipt"

    tenant: TenantId
    receipt_id: ExternalId
    po_number: ExternalId | None = None
    asn_id: ExternalId | None = None
    supplier: _Supplier | None = None
    location: LocationId
    lines: Annotated[list[ReceiptLine], Field(min_length=1, max_length=1000)]
    received_at: Timestamp
