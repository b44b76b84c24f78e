"""Returns (RMAs): what a buyer sends back, why, and what inspection decided."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, model_validator

from canonical._base import CanonicalModel, PositiveQuantity, Text, Timestamp
from canonical.identifiers import ExternalId, LocationId, Sku, TenantId
from canonical.inventory import Disposition
from canonical.money import NonNegativeMoney
from canonical.order import OrderRef

__all__ = ["ReturnLine", "ReturnReason", "ReturnRequest", "ReturnStatus"]

_Serial = Annotated[str, Field(min_length=1, max_length=128)]


class ReturnReason(StrEnum):
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    SIZE_OR_FIT = "size_or_fit"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    AUTHORIZED = "authorized"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REJECTED = "rejected"


class ReturnLine(CanonicalModel):
    line_id: ExternalId = Field(description="The order line being returned.")
    sku: Sku | None = None
    quantity: PositiveQuantity
    reason: ReturnReason = ReturnReason.OTHER
    note: Text | None = None
    disposition: Disposition | None = Field(default=None, description="Set once inspected.")
    restock: StrictBool = Field(
        default=True, description="Whether the channel asked to restock (Shopify's restock flag)."
    )
    refund_amount: NonNegativeMoney | None = None
    serials: Annotated[list[_Serial], Field(max_length=10_000)] = Field(
        default=[],
        description="Serial numbers of the units coming back (serial-controlled SKUs): at most "
        "one per unit, each once.",
    )

    @model_validator(mode="after")
    def _serials_fit_quantity(self) -> Self:
        if len(self.serials) > self.quantity:
            raise ValueError(
                f"serials: {len(self.serials)} serials for a return of quantity {self.quantity}"
            )
        if len(set(self.serials)) != len(self.serials):
            raise ValueError("serials: a serial number appears twice in one line")
        return self


class ReturnRequest(CanonicalModel):
    """A return merchandise authorisation and its lines."""

    schema_name = "return_request"
    schema_major = 1
    type: Literal["return_request"] = "return_request"

    tenant: TenantId
    rma_id: ExternalId
    order: OrderRef
    status: ReturnStatus
    location: LocationId | None = Field(default=None, description="Where the goods come back to.")
    lines: Annotated[list[ReturnLine], Field(min_length=1, max_length=500)]
    requested_at: Timestamp
    updated_at: Timestamp
