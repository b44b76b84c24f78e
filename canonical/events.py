"""The canonical event types and the payload model each one carries.

Event names read ``<noun>.<past participle>`` (``order.created``). Several events may share a
payload model (an order snapshot is the payload of ``order.created``, ``order.updated`` and
``order.cancelled``); every event has exactly one. The table is the contract between connectors,
which emit these events, and the router and ledger, which act on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from canonical._base import CanonicalModel
from canonical.errors import UnknownEventTypeError
from canonical.fulfillment import (
    FulfillmentCancellation,
    FulfillmentRequest,
    Shipment,
    TrackingEvent,
)
from canonical.inventory import ChannelAvailability, CycleCount, StockMovement
from canonical.order import Order
from canonical.payment import PaymentEvent
from canonical.procurement import AdvanceShipNotice, PurchaseOrder, Receipt
from canonical.returns import ReturnRequest
from canonical.tax import TaxCommit, TaxQuote

__all__ = ["EVENT_TYPES", "PAYLOAD_MODELS", "payload_model_for"]

EVENT_TYPES: Final[Mapping[str, type[CanonicalModel]]] = MappingProxyType(
    {
        "order.created": Order,
        "order.updated": Order,
        "order.cancelled": Order,
        "stock.moved": StockMovement,
        "stock.counted": CycleCount,
        "availability.changed": ChannelAvailability,
        "fulfillment.requested": FulfillmentRequest,
        "fulfillment.cancelled": FulfillmentCancellation,
        "shipment.created": Shipment,
        "tracking.updated": TrackingEvent,
        "tax.quoted": TaxQuote,
        "tax.committed": TaxCommit,
        "payment.authorized": PaymentEvent,
        "payment.captured": PaymentEvent,
        "payment.refunded": PaymentEvent,
        "payment.failed": PaymentEvent,
        "payment.disputed": PaymentEvent,
        "return.requested": ReturnRequest,
        "return.received": ReturnRequest,
        "return.inspected": ReturnRequest,
        "purchase_order.placed": PurchaseOrder,
        "ship_notice.received": AdvanceShipNotice,
        "receipt.recorded": Receipt,
    }
)

#: Every payload model, once, in a stable order (the envelope's union and the schema export).
PAYLOAD_MODELS: Final[tuple[type[CanonicalModel], ...]] = tuple(dict.fromkeys(EVENT_TYPES.values()))


def payload_model_for(event_type: str) -> type[CanonicalModel]:
    """The payload model of ``event_type``, or :class:`UnknownEventTypeError` naming the known ones."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        known = ", ".join(sorted(EVENT_TYPES))
        raise UnknownEventTypeError(
            f"unknown event type {event_type!r}; the canonical event types are: {known}"
        ) from None
