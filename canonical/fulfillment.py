"""Fulfilment and logistics: what the hub asks a warehouse to ship, what shipped, and where it is.

Carriers each have their own status words; :class:`TrackingStatus` is the one vocabulary the hub
speaks, and each carrier connector maps into it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from canonical._base import CanonicalModel, PositiveQuantity, Text, Timestamp
from canonical._decimal import ExactDecimal, between, decimal_schema
from canonical.identifiers import ExternalId, Gtin, LocationId, Sku, TenantId
from canonical.inventory import Lot
from canonical.money import NonNegativeMoney
from canonical.order import OrderRef
from canonical.party import Address, CountryCode

__all__ = [
    "FulfillmentCancellation",
    "FulfillmentLine",
    "FulfillmentRequest",
    "Package",
    "Shipment",
    "ShipmentLine",
    "TrackingEvent",
    "TrackingStatus",
]

_Serial = Annotated[str, Field(min_length=1, max_length=128)]
_Name = Annotated[str, Field(min_length=1, max_length=64)]
#: A scanned weight in grams; carriers report fractions.
WeightGrams = Annotated[
    ExactDecimal, between(0, None), decimal_schema("Weight in grams, as an exact decimal.")
]


class FulfillmentLine(CanonicalModel):
    line_id: ExternalId = Field(description="The order line this ships.")
    sku: Sku
    quantity: PositiveQuantity
    lot: Lot | None = None


class FulfillmentRequest(CanonicalModel):
    """A request to a fulfilment node (own warehouse or 3PL) to ship lines of an order."""

    schema_name = "fulfillment_request"
    schema_major = 1
    type: Literal["fulfillment_request"] = "fulfillment_request"

    tenant: TenantId
    request_id: ExternalId
    order: OrderRef
    location: LocationId
    lines: Annotated[list[FulfillmentLine], Field(min_length=1, max_length=500)]
    ship_to: Address
    service_level: _Name | None = None
    carrier: _Name | None = None
    requested_at: Timestamp
    ship_by: Timestamp | None = Field(
        default=None, description="The carrier cut-off this release is meant to make."
    )
    commit_by: Timestamp | None = Field(
        default=None,
        description="The latest moment the order may leave the node and keep its service "
        "commitment; a request whose ship_by is later was released late.",
    )


class FulfillmentCancellation(CanonicalModel):
    """The hub withdraws a request it released to a fulfilment node: the order was cancelled.

    It names the request the node received (``request_id``, the vendor reference the node's
    connector gave it), the order and the node; it carries no address or other personal data. The
    node cancels what it has not shipped yet (a 3PL's order, an own warehouse's bought label).
    """

    schema_name = "fulfillment_cancellation"
    schema_major = 1
    type: Literal["fulfillment_cancellation"] = "fulfillment_cancellation"

    tenant: TenantId
    request_id: ExternalId = Field(description="The released request to withdraw.")
    order: OrderRef
    location: LocationId = Field(description="The node the request was released to.")
    reason: Text | None = Field(default=None, description="Why, for the node's operators.")
    requested_at: Timestamp | None = Field(
        default=None,
        description="When the request was released: a connector searching the node's records "
        "for it need not look earlier.",
    )
    cancelled_at: Timestamp


class ShipmentLine(CanonicalModel):
    """A quantity of one order line that physically left, with its lots, serials or scanned codes."""

    line_id: ExternalId | None = Field(default=None, description="Order line, when the node says.")
    sku: Sku
    quantity: PositiveQuantity
    lots: Annotated[list[Lot], Field(max_length=100)] = []
    serials: Annotated[list[_Serial], Field(max_length=10_000)] = []
    scanned_gtins: Annotated[list[Gtin], Field(max_length=10_000)] = []

    @model_validator(mode="after")
    def _serials_match_quantity(self) -> Self:
        if self.serials and len(self.serials) != self.quantity:
            raise ValueError(f"serials: {len(self.serials)} serials for quantity {self.quantity}")
        if len(set(self.serials)) != len(self.serials):
            raise ValueError("serials: a serial number appears twice in one line")
        return self


class Package(CanonicalModel):
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    weight_grams: Annotated[int, Field(gt=0, strict=True)] | None = None
    length_mm: Annotated[int, Field(gt=0, strict=True)] | None = None
    width_mm: Annotated[int, Field(gt=0, strict=True)] | None = None
    height_mm: Annotated[int, Field(gt=0, strict=True)] | None = None
    label_url: Annotated[str, Field(max_length=2048)] | None = None
    label_cost: NonNegativeMoney | None = None


class Shipment(CanonicalModel):
    """What left a location for an order: packages, carrier, service and the lines shipped."""

    schema_name = "shipment"
    schema_major = 1
    type: Literal["shipment"] = "shipment"

    tenant: TenantId
    shipment_id: ExternalId
    order: OrderRef
    location: LocationId
    request_id: ExternalId | None = Field(
        default=None, description="The fulfilment request served."
    )
    carrier: _Name | None = None
    service: _Name | None = None
    packages: Annotated[list[Package], Field(max_length=500)] = []
    lines: Annotated[list[ShipmentLine], Field(min_length=1, max_length=500)]
    shipped_at: Timestamp
    closes_request: bool = Field(
        default=False,
        description="The node says nothing more will ship against the request: whatever it "
        "leaves unshipped is a short ship, not a split shipment still to come.",
    )

    @property
    def tracking_numbers(self) -> list[str]:
        return [p.tracking_number for p in self.packages if p.tracking_number]


class TrackingStatus(StrEnum):
    """The hub's one tracking vocabulary; every carrier's statuses map onto it."""

    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"


class TrackingEvent(CanonicalModel):
    """One scan or status change of a tracked package, in the hub's vocabulary."""

    schema_name = "tracking_event"
    schema_major = 1
    type: Literal["tracking_event"] = "tracking_event"

    tenant: TenantId
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    carrier: _Name
    status: TrackingStatus
    carrier_status: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The carrier's own status word, kept for diagnosis."
    )
    description: Text | None = None
    city: Annotated[str, Field(max_length=255)] | None = None
    region: Annotated[str, Field(max_length=64)] | None = None
    country: CountryCode | None = None
    occurred_at: Timestamp
    estimated_delivery: Timestamp | None = None
    shipment_id: ExternalId | None = None
    order: OrderRef | None = None
    weight_grams: WeightGrams | None = None
