"""The message envelope: what every canonical message travels in, from ingress to ledger.

The envelope carries identity (a sortable ``message_id``), provenance (tenant, the connector and
its instance), meaning (``event_type`` and the payload's ``schema_version``), the idempotency key,
time (``occurred_at`` at the source, ``received_at`` at the hub), causality (correlation and
causation ids) and W3C trace context, around one canonical payload.

Idempotency keys
----------------
:func:`derive_idempotency_key` is the one way keys are made. It hashes, in this order, the tenant,
the connector instance, the event type and the *source's own identifiers of what happened*, for
example a Shopify order's id and its ``updated_at``, or a Stripe event's id. Because every input
comes from the source and none from the delivery (no delivery id, no receive time), a redelivered
webhook, a retried poll and a reconciliation run all derive the same key, and a genuinely new
version of the resource (a later ``updated_at``) derives a new one. Keys look like
``v1:<64 hex digits>``; the ``v1`` names this derivation, so a future change cannot silently
collide with stored keys.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Self

import uuid6
from pydantic import Field, model_validator

from canonical._base import CanonicalModel, Timestamp
from canonical.events import EVENT_TYPES, payload_model_for
from canonical.fulfillment import (
    FulfillmentCancellation,
    FulfillmentRequest,
    Shipment,
    TrackingEvent,
)
from canonical.identifiers import TenantId
from canonical.inventory import ChannelAvailability, CycleCount, StockMovement
from canonical.order import Order
from canonical.payment import PaymentEvent
from canonical.procurement import AdvanceShipNotice, PurchaseOrder, Receipt
from canonical.returns import ReturnRequest
from canonical.tax import TaxCommit, TaxQuote

__all__ = [
    "IDEMPOTENCY_KEY_VERSION",
    "Envelope",
    "Payload",
    "SourceRef",
    "derive_idempotency_key",
    "new_message_id",
]

IDEMPOTENCY_KEY_VERSION: Final = "v1"
_SEPARATOR: Final = "\x1f"  # ASCII unit separator: cannot appear in the ids we hash
_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
_SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"

#: Every canonical payload, told apart by its ``type`` field.
Payload = Annotated[
    Order
    | StockMovement
    | CycleCount
    | ChannelAvailability
    | FulfillmentRequest
    | FulfillmentCancellation
    | Shipment
    | TrackingEvent
    | TaxQuote
    | TaxCommit
    | PaymentEvent
    | ReturnRequest
    | PurchaseOrder
    | AdvanceShipNotice
    | Receipt,
    Field(discriminator="type"),
]


def new_message_id() -> uuid.UUID:
    """A new UUIDv7: time-ordered, so ids sort by creation time across processes."""
    return uuid.UUID(str(uuid6.uuid7()))


def derive_idempotency_key(
    tenant: str, instance: str, event_type: str, *source_ids: str | int
) -> str:
    """The idempotency key of a message; see the module docstring for the contract.

    ``source_ids`` must identify the *fact* at the source (resource id plus version or timestamp,
    or the source's event id) and must not include anything that changes between deliveries.
    """
    if not source_ids:
        raise ValueError("an idempotency key needs at least one source identifier")
    parts = [tenant, instance, event_type, *(str(part) for part in source_ids)]
    if any(_SEPARATOR in part for part in parts):
        raise ValueError("identifiers must not contain the ASCII unit separator")
    digest = hashlib.sha256(_SEPARATOR.join(parts).encode("utf-8")).hexdigest()
    return f"{IDEMPOTENCY_KEY_VERSION}:{digest}"


class SourceRef(CanonicalModel):
    """Which connector, and which configured instance of it, produced the message."""

    connector: Annotated[str, Field(pattern=_SLUG, description="Connector type, e.g. shopify.")]
    instance: Annotated[
        str, Field(pattern=_SLUG, description="Configured instance, e.g. shopify_us.")
    ]


def order_key_of(payload: Any) -> str | None:
    """The order key of a payload that is an order or names one (``payload.order``), else None."""
    if isinstance(payload, Order):
        return payload.key
    key = getattr(getattr(payload, "order", None), "key", None)
    return key if isinstance(key, str) else None


class Envelope(CanonicalModel):
    """One canonical message."""

    schema_name = "envelope"
    schema_major = 1

    message_id: uuid.UUID = Field(description="UUIDv7, unique per message and sortable by time.")
    tenant: TenantId
    source: SourceRef
    event_type: Annotated[str, Field(max_length=64, examples=["order.created"])]
    schema_version: Annotated[int, Field(ge=1, strict=True)] = Field(
        description="Major version of the payload's schema (schemas/<type>/v<N>.json)."
    )
    idempotency_key: Annotated[str, Field(min_length=1, max_length=255)]
    occurred_at: Timestamp = Field(description="When it happened at the source.")
    received_at: Timestamp = Field(description="When the hub received it.")
    correlation_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="Groups every message of one business flow (e.g. one order)."
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="The message_id of the message that caused this one."
    )
    traceparent: Annotated[str, Field(pattern=_TRACEPARENT)] | None = None
    tracestate: Annotated[str, Field(max_length=512)] | None = None
    payload: Payload

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.message_id.version != 7:
            raise ValueError("message_id must be a UUIDv7 (time-ordered); use new_message_id()")
        model = payload_model_for(self.event_type)
        if not isinstance(self.payload, model):
            raise ValueError(
                f"event_type {self.event_type!r} carries a {model.schema_name!r} payload, "
                f"not {type(self.payload).schema_name!r}"
            )
        if self.schema_version != model.schema_major:
            raise ValueError(
                f"schema_version {self.schema_version} is not published for {model.schema_name!r}; "
                f"the current version is {model.schema_major}"
            )
        payload_tenant = getattr(self.payload, "tenant", self.tenant)
        if payload_tenant != self.tenant:
            raise ValueError(
                f"payload.tenant {payload_tenant!r} differs from the envelope's tenant {self.tenant!r}"
            )
        if isinstance(self.payload, PaymentEvent):
            expected = self.event_type.removeprefix("payment.")
            if self.payload.kind.value != expected:
                raise ValueError(
                    f"a {self.event_type} event carries a payment of kind {expected!r}, "
                    f"not {self.payload.kind.value!r}"
                )
        return self

    @property
    def order_key(self) -> str | None:
        """The hub key (``channel:external_id``) of the order the payload is or names, if any:
        what audit records, locks and replays group a message's effects by."""
        return order_key_of(self.payload)

    @classmethod
    def wrap(
        cls,
        payload: CanonicalModel,
        *,
        event_type: str,
        source: SourceRef,
        source_ids: tuple[str | int, ...],
        occurred_at: datetime,
        received_at: datetime | None = None,
        correlation_id: str | None = None,
        causation_id: uuid.UUID | None = None,
        traceparent: str | None = None,
        message_id: uuid.UUID | None = None,
    ) -> Envelope:
        """Put ``payload`` in an envelope, deriving the idempotency key from ``source_ids``."""
        tenant = getattr(payload, "tenant", None)
        if not isinstance(tenant, str):
            raise ValueError(f"{type(payload).__name__} has no tenant to address the envelope to")
        fields: dict[str, Any] = {
            "message_id": message_id or new_message_id(),
            "tenant": tenant,
            "source": source,
            "event_type": event_type,
            "schema_version": payload_model_for(event_type).schema_major,
            "idempotency_key": derive_idempotency_key(
                tenant, source.instance, event_type, *source_ids
            ),
            "occurred_at": occurred_at,
            "received_at": received_at or datetime.now(UTC),
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "traceparent": traceparent,
            "payload": payload,
        }
        return cls.model_validate(fields)


assert set(EVENT_TYPES.values()) <= set(Payload.__origin__.__args__)  # type: ignore[attr-defined]
