"""Inventory: the movements that change stock, and the positions they add up to.

Stock is never *set*; it moves. Every change is a :class:`StockMovement` of one :class:`MovementKind`,
and what a kind does to the buckets of a position is data (:data:`MOVEMENT_EFFECTS`), shared by the
ledger that applies movements and the tests that check it. A warehouse's count is the one exception
that looks like a "set": a :class:`CycleCount` snapshot, which the ledger turns into an adjustment
movement for the variance, and ignores if it is older than the last count applied.

Buckets of a position (per SKU and location):

* ``on_hand``: physically in the location and sellable stock (includes allocated units);
* ``allocated``: reserved for orders, not yet shipped;
* ``in_transit``: moving towards this location from another one;
* ``returns_pending``: returned units waiting for inspection (not sellable);
* ``damaged``: kept but not sellable;
* ``safety_stock``: held back from promising (a setting, not a movement).

``available_to_promise = on_hand - allocated - safety_stock``: it can be negative only where a
backorder policy lets allocation exceed stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Literal, Self

from pydantic import Field, StrictInt, model_validator

from canonical._base import CanonicalModel, NonNegativeQuantity, Text, Timestamp
from canonical.identifiers import ChannelId, ExternalId, LocationId, Sku, TenantId

__all__ = [
    "BUCKETS",
    "MOVEMENT_EFFECTS",
    "Bucket",
    "ChannelAvailability",
    "CountLine",
    "CycleCount",
    "Disposition",
    "Lot",
    "MovementKind",
    "StockMovement",
    "StockPosition",
    "bucket_deltas",
    "check_movement",
    "movement_deltas",
]

Bucket = Literal["on_hand", "allocated", "in_transit", "returns_pending", "damaged"]
BUCKETS: Final[tuple[Bucket, ...]] = (
    "on_hand",
    "allocated",
    "in_transit",
    "returns_pending",
    "damaged",
)


class MovementKind(StrEnum):
    """Every way stock can move."""

    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    RESERVATION = "reservation"
    RESERVATION_RELEASE = "reservation_release"
    SHIPMENT = "shipment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RETURN_RECEIVED = "return_received"
    INSPECTION = "inspection"


class Disposition(StrEnum):
    """What inspection decides for a returned unit."""

    RESTOCK = "restock"
    DAMAGED = "damaged"
    SCRAP = "scrap"


#: For each kind, how many units of each bucket one unit of movement adds (negative: removes), at
#: the movement's ``location``. Transfers also touch ``counterpart_location``: see
#: :func:`movement_deltas`. Inspection effects depend on the disposition.
MOVEMENT_EFFECTS: Final[Mapping[MovementKind, Mapping[Bucket, int]]] = MappingProxyType(
    {
        MovementKind.RECEIPT: {"on_hand": 1},
        MovementKind.ADJUSTMENT: {"on_hand": 1},
        MovementKind.RESERVATION: {"allocated": 1},
        MovementKind.RESERVATION_RELEASE: {"allocated": -1},
        MovementKind.SHIPMENT: {"on_hand": -1, "allocated": -1},
        MovementKind.TRANSFER_OUT: {"on_hand": -1},
        MovementKind.TRANSFER_IN: {"on_hand": 1, "in_transit": -1},
        MovementKind.RETURN_RECEIVED: {"returns_pending": 1},
    }
)

_INSPECTION_EFFECTS: Final[Mapping[Disposition, Mapping[Bucket, int]]] = MappingProxyType(
    {
        Disposition.RESTOCK: {"returns_pending": -1, "on_hand": 1},
        Disposition.DAMAGED: {"returns_pending": -1, "damaged": 1},
        Disposition.SCRAP: {"returns_pending": -1},
    }
)


class Lot(CanonicalModel):
    """A lot (batch) and, for perishable goods, its expiry."""

    number: Annotated[str, Field(min_length=1, max_length=64)]
    expires_at: Timestamp | None = None


class StockMovement(CanonicalModel):
    """One movement of stock of one SKU at one location.

    ``quantity`` is positive for every kind except ``adjustment``, where its sign says whether stock
    was found (+) or lost (-). A transfer is two movements: ``transfer_out`` at the source (which also
    puts the units in transit towards ``counterpart_location``) and ``transfer_in`` at the
    destination.
    """

    schema_name = "stock_movement"
    schema_major = 1
    type: Literal["stock_movement"] = "stock_movement"

    tenant: TenantId
    movement_id: ExternalId = Field(description="Unique id of this movement at its source.")
    kind: MovementKind
    sku: Sku
    location: LocationId
    quantity: Annotated[StrictInt, Field(ge=-10_000_000, le=10_000_000)]
    counterpart_location: LocationId | None = Field(
        default=None, description="For transfers: where the units go to (out) or come from (in)."
    )
    disposition: Disposition | None = Field(default=None, description="For inspection only.")
    reason: Text | None = None
    reference: ExternalId | None = Field(
        default=None, description="What caused it: an order key, a transfer, a PO, an RMA."
    )
    lot: Lot | None = None
    serials: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=1000)
    ] = []
    occurred_at: Timestamp

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_movement(
            self.kind, self.location, self.quantity, self.counterpart_location, self.disposition
        )
        if self.serials and len(self.serials) != abs(self.quantity):
            raise ValueError(
                f"serials: {len(self.serials)} serial numbers for a quantity of {abs(self.quantity)}"
            )
        if len(set(self.serials)) != len(self.serials):
            raise ValueError("serials: a serial number appears twice")
        return self


def check_movement(
    kind: MovementKind,
    location: str,
    quantity: int,
    counterpart: str | None,
    disposition: Disposition | None,
) -> None:
    """The rules a movement's kind puts on its other fields; raises ``ValueError``.

    A function, not only :class:`StockMovement`'s validator, so the ledger can check a movement it
    makes itself without building the model (it makes several per message)."""
    if kind is MovementKind.ADJUSTMENT:
        if quantity == 0:
            raise ValueError("quantity: an adjustment must change stock (non-zero)")
    elif quantity <= 0:
        raise ValueError(
            f"quantity: a {kind.value} moves a positive quantity (got {quantity}); only "
            "adjustments are signed"
        )
    is_transfer = kind in (MovementKind.TRANSFER_OUT, MovementKind.TRANSFER_IN)
    if is_transfer and counterpart is None:
        raise ValueError(f"counterpart_location: a {kind.value} needs the other location")
    if is_transfer and counterpart == location:
        raise ValueError("counterpart_location: a transfer must go to another location")
    if not is_transfer and counterpart is not None:
        raise ValueError("counterpart_location is only for transfers")
    if (kind is MovementKind.INSPECTION) != (disposition is not None):
        raise ValueError("disposition: required for inspection movements and only for them")


def movement_deltas(movement: StockMovement) -> dict[tuple[LocationId, Bucket], int]:
    """The change each bucket of each location sees from ``movement``.

    The one function the ledger and the test oracle both use to turn a movement into numbers
    (the ledger through :func:`bucket_deltas`, on the same fields).
    """
    return bucket_deltas(
        movement.kind,
        movement.location,
        movement.quantity,
        movement.counterpart_location,
        movement.disposition,
    )


def bucket_deltas(
    kind: MovementKind,
    location: str,
    quantity: int,
    counterpart: str | None = None,
    disposition: Disposition | None = None,
) -> dict[tuple[LocationId, Bucket], int]:
    """:func:`movement_deltas` of a movement given by its fields."""
    if kind is MovementKind.INSPECTION:
        assert disposition is not None
        effects = _INSPECTION_EFFECTS[disposition]
    else:
        effects = MOVEMENT_EFFECTS[kind]
    deltas = {(location, bucket): sign * quantity for bucket, sign in effects.items()}
    if kind is MovementKind.TRANSFER_OUT:
        assert counterpart is not None
        deltas[(counterpart, "in_transit")] = quantity
    return deltas


class StockPosition(CanonicalModel):
    """The stock of one SKU at one location, bucket by bucket."""

    schema_name = "stock_position"
    schema_major = 1

    tenant: TenantId
    sku: Sku
    location: LocationId
    on_hand: StrictInt
    allocated: StrictInt
    in_transit: NonNegativeQuantity = 0
    returns_pending: NonNegativeQuantity = 0
    damaged: NonNegativeQuantity = 0
    safety_stock: NonNegativeQuantity = 0
    as_of: Timestamp

    @property
    def available_to_promise(self) -> int:
        """What may still be promised to buyers: on hand, less reserved, less safety stock."""
        return self.on_hand - self.allocated - self.safety_stock


class ChannelAvailability(CanonicalModel):
    """Available-to-promise of one SKU on one channel after the channel's stock policy."""

    schema_name = "channel_availability"
    schema_major = 1
    type: Literal["channel_availability"] = "channel_availability"

    tenant: TenantId
    sku: Sku
    channel: ChannelId
    available: NonNegativeQuantity = Field(
        description="Units the channel may sell now (never negative: a channel is shown 0)."
    )
    as_of: Timestamp


class CountLine(CanonicalModel):
    sku: Sku
    quantity: NonNegativeQuantity
    lot: Lot | None = None


class CycleCount(CanonicalModel):
    """A counted snapshot of a location's stock as of a time, from a warehouse or 3PL.

    A count older than the last one applied for the same SKU and location is ignored; the variance
    between the count and the ledger's on-hand becomes an adjustment movement with the reason.
    """

    schema_name = "cycle_count"
    schema_major = 1
    type: Literal["cycle_count"] = "cycle_count"

    tenant: TenantId
    count_id: ExternalId
    location: LocationId
    as_of: Timestamp
    lines: Annotated[list[CountLine], Field(min_length=1, max_length=100_000)]
    source: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="Who counted: a warehouse system or 3PL name."
    )

    @model_validator(mode="after")
    def _unique_skus(self) -> Self:
        keys = [(line.sku, line.lot.number if line.lot else None) for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError("lines: a SKU (and lot) is counted twice in one snapshot")
        return self
