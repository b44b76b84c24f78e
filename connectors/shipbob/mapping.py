"""ShipBob shipments to canonical shipments and tracking; fulfilment requests to orders. Pure.

Field choices (ShipBob API 1.0 ``Shipment`` and ``Order`` models; webhook bodies are the Shipment):

* The hub creates one ShipBob order per fulfilment request: ``reference_id`` = the request id
  (:func:`order_reference`; ShipBob refuses a second order with the same ``reference_id`` with a
  422, so the remainder of a short-shipped order, released again under a new request id, gets an
  order of its own, and a retried create is recognised as a duplicate), ``order_number`` = the
  channel's order number (what pickers and support see), and two tags: ``hub_request_id`` (the
  request id) and ``hub_order_key`` (the order key ``<channel>:<external id>``).
* A shipment names its order without a lookup (:func:`_order_ref`): the ``hub_order_key`` tag;
  else a ``reference_id`` in the request id format of the hub's releases,
  ``release/<location>/<YYYYMMDD>-w<N>/<order key>`` (parsed here: connectors do not import the
  hub); else a ``reference_id`` that is itself the order key (orders created before request ids
  were sent). Anything else is refused, naming the field.
* ``order_shipped`` (API 1.0 topic) and ``order.shipped`` (2025 topic) -> ``shipment.created``: one
  line per product with the quantities of its ``inventory_items`` (lots kept), the carrier's
  tracking number as the package, at the ShipBob fulfilment centre mapped to a hub location
  (``shipbob_<id>`` when unmapped). Key: ``(shipment id, "shipped")``: a shipment ships once.
* ``shipment_delivered`` / ``shipment_exception`` -> ``tracking.updated`` (delivered / exception).
  Key: ``(shipment id, status, last_update_at)``.
* ``inventory_levels`` (a page of ``GET /2026-01/inventory-level/locations``: ``items[]`` of
  ``{inventory_id, sku, name, locations[]}``, each location with ``location_id`` and
  ``on_hand_quantity``) -> one ``stock.counted`` per fulfilment centre on the page, counting each
  SKU's ``on_hand_quantity`` (everything stocked there, committed units included, as the ledger's
  on-hand is). The snapshot carries no time of its own, so the poller stamps each page with
  ``counted_at``, the ``Date`` of ShipBob's response (the vendor's clock, not the hub's); the
  ledger ignores a count older than the last one applied. A SKU missing from a centre's list is not
  counted there (no zero is invented). Key: ``(location id, counted_at, digest of the page's
  inventory ids)``: a redelivered page repeats it, a later poll (or another page) differs.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from typing import Any

from canonical.envelope import Envelope
from canonical.fulfillment import (
    FulfillmentRequest,
    Package,
    Shipment,
    ShipmentLine,
    TrackingEvent,
    TrackingStatus,
)
from canonical.inventory import CountLine, CycleCount, Lot
from canonical.order import OrderRef
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, envelope

__all__ = [
    "SHIPPED_SHIPMENT_STATUSES",
    "from_canonical_fulfillment_request",
    "order_reference",
    "order_request_id",
    "shipped_shipments",
    "to_canonical_shipment",
    "to_canonical_tracking",
    "translate_inventory_levels",
]

CONNECTOR = "shipbob"


#: ShipBob's limit on an order's ``reference_id`` (``CreateOrderModel``: 1-300 characters).
REFERENCE_MAX = 300
#: The tags the hub puts on the orders it creates.
REQUEST_TAG, ORDER_KEY_TAG = "hub_request_id", "hub_order_key"
#: A request id of the hub's releases: ``release/<location>/<YYYYMMDD>-w<N>/<order key>`` (the hub
#: hashes the key, ``sha256-<hex>``, when the id would be long; such an id names no order key).
_RELEASE_ID = re.compile(r"^release/[^/]+/\d{8}-w\d+/(?P<key>.+)$")


def order_reference(request_id: str) -> str:
    """The ``reference_id`` of the ShipBob order created for ``request_id``: the request id itself.

    One ShipBob would refuse (over :data:`REFERENCE_MAX` characters) or that ``GET
    /1.0/order?ReferenceIds=`` could not look up (a comma separates its values) is sent as
    ``hub-sha256-<hex>`` of the request id instead: still unique per request, and the order key
    still travels in the ``hub_order_key`` tag. The hub's release ids (at most 255 characters,
    no comma in an order key) are sent as they are.
    """
    if len(request_id) <= REFERENCE_MAX and "," not in request_id and request_id.strip():
        return request_id
    return "hub-sha256-" + hashlib.sha256(request_id.encode("utf-8")).hexdigest()


def _key_parts(text: str) -> tuple[str, str] | None:
    """``(channel, external id)`` of an order key ``<channel>:<external id>``; None otherwise."""
    channel, sep, external = text.partition(":")
    if not sep or not channel or not external or "/" in channel:
        return None
    return channel, external


def _tag(shipment: Fields, name: str) -> tuple[str, str] | None:
    """The path and value of the shipment's tag ``name``, None when it has none."""
    for tag in shipment.objs("tags"):
        if tag.opt_str("name") == name:
            value = tag.opt_str("value")
            return (tag.path, value) if value is not None else None
    return None


def _order_ref(shipment: Fields) -> OrderRef:
    """The hub order of a shipment (module doc): ``hub_order_key`` tag, else the order key inside a
    release request id in ``reference_id``, else ``reference_id`` as an order key."""
    tagged = _tag(shipment, ORDER_KEY_TAG)
    if tagged is not None:
        path, key = tagged
        parts = _key_parts(key)
        if parts is None:
            raise shipment.fail("tags", f"{ORDER_KEY_TAG} {key!r} ({path}) is not a hub order key")
        return build(OrderRef, path, channel=parts[0], external_id=parts[1])
    reference = shipment.str("reference_id")
    release = _RELEASE_ID.match(reference)
    parts = _key_parts(release.group("key") if release else reference)
    if parts is None:
        raise shipment.fail(
            "reference_id",
            f"{reference!r} is neither a hub order key nor a release request id naming one, "
            f"and the shipment has no {ORDER_KEY_TAG} tag",
        )
    return build(OrderRef, "reference_id", channel=parts[0], external_id=parts[1])


def _request_id(shipment: Fields) -> str | None:
    tagged = _tag(shipment, REQUEST_TAG)
    return tagged[1] if tagged is not None else None


def _slug(ctx: TranslationContext, vendor_id: str) -> str:
    """The hub location of a ShipBob fulfilment centre: mapped, else ``shipbob_<id>``."""
    return ctx.locations.get(vendor_id, f"{CONNECTOR}_{vendor_id}")


def _location(ctx: TranslationContext, shipment: Fields) -> str:
    return _slug(ctx, shipment.obj("location").id("id"))


def to_canonical_shipment(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    shipment = Fields(raw)
    tracking = shipment.opt_obj("tracking")
    lines = []
    for product in shipment.objs("products"):
        sku = product.opt_str("sku") or product.str("reference_id")
        items = list(product.objs("inventory_items"))
        quantity = sum(item.int("quantity") for item in items)
        lots = [
            Lot(number=item.str("lot"), expires_at=item.opt_time("expiration_date"))
            for item in items
            if item.has("lot")
        ]
        serials = [str(s) for item in items for s in item.raw("serial_numbers", [])]
        lines.append(
            build(
                ShipmentLine,
                product.path,
                sku=sku,
                quantity=quantity,
                lots=lots,
                serials=serials,
            )
        )
    shipped_at = (
        (tracking.opt_time("shipping_date") if tracking else None)
        or shipment.opt_time("actual_fulfillment_date")
        or shipment.time("last_update_at")
    )
    result = build(
        Shipment,
        "",
        tenant=ctx.tenant,
        shipment_id=shipment.id("id"),
        order=_order_ref(shipment),
        location=_location(ctx, shipment),
        request_id=_request_id(shipment),
        carrier=tracking.opt_str("carrier") if tracking else None,
        service=(tracking.opt_str("carrier_service") if tracking else None)
        or shipment.opt_str("ship_option"),
        packages=[
            Package(
                tracking_number=tracking.str("tracking_number"),
                label_url=None,
            )
        ]
        if tracking and tracking.has("tracking_number")
        else [],
        lines=lines,
        shipped_at=shipped_at,
    )
    return [
        envelope(
            ctx,
            CONNECTOR,
            result,
            event_type="shipment.created",
            source_ids=("shipment", result.shipment_id, "shipped"),
            occurred_at=shipped_at,
            correlation_id=result.order.key,
        )
    ]


def _tracking(status: TrackingStatus) -> Any:
    def translate(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        shipment = Fields(raw)
        tracking = shipment.obj("tracking")
        occurred = shipment.time("last_update_at")
        event = build(
            TrackingEvent,
            "",
            tenant=ctx.tenant,
            tracking_number=tracking.str("tracking_number"),
            carrier=tracking.opt_str("carrier") or "unknown",
            status=status,
            carrier_status=shipment.opt_str("status"),
            occurred_at=occurred,
            shipment_id=shipment.id("id"),
            order=_order_ref(shipment),
        )
        return [
            envelope(
                ctx,
                CONNECTOR,
                event,
                event_type="tracking.updated",
                source_ids=(
                    "shipment",
                    shipment.id("id"),
                    status.value,
                    shipment.str("last_update_at"),
                ),
                occurred_at=occurred,
                correlation_id=event.order.key if event.order else None,
            )
        ]

    return translate


to_canonical_tracking = {
    "shipment_delivered": _tracking(TrackingStatus.DELIVERED),
    "shipment_exception": _tracking(TrackingStatus.EXCEPTION),
}


def translate_inventory_levels(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A page of inventory levels by fulfilment centre: one ``stock.counted`` per centre."""
    page = Fields(raw)
    counted_at = page.time("counted_at")
    stamp = counted_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    lines: dict[str, list[CountLine]] = {}
    inventory_ids = []
    for item in page.objs("items"):
        inventory_ids.append(item.id("inventory_id"))
        sku = item.str("sku")
        for location in item.objs("locations"):
            lines.setdefault(location.id("location_id"), []).append(
                build(CountLine, location.path, sku=sku, quantity=location.int("on_hand_quantity"))
            )
    digest = hashlib.sha256(",".join(sorted(inventory_ids)).encode()).hexdigest()[:16]
    envelopes = []
    for vendor_id, counted in lines.items():  # in the page's order
        count = build(
            CycleCount,
            "items",
            tenant=ctx.tenant,
            count_id=f"{CONNECTOR}-{vendor_id}-{stamp}-{digest}",
            location=_slug(ctx, vendor_id),
            as_of=counted_at,
            lines=counted,
            source=CONNECTOR,
        )
        envelopes.append(
            envelope(
                ctx,
                CONNECTOR,
                count,
                event_type="stock.counted",
                source_ids=("inventory_levels", vendor_id, stamp, digest),
                occurred_at=counted_at,
            )
        )
    return envelopes


def from_canonical_fulfillment_request(
    request: FulfillmentRequest, *, shipping_method: str = "Standard"
) -> dict[str, Any]:
    """Body of ``POST /1.0/order`` for a canonical fulfilment request: one order per request
    (``reference_id`` = :func:`order_reference` of the request id), tagged with the request id and
    the order key."""
    ship_to = request.ship_to
    return {
        "reference_id": order_reference(request.request_id),
        "order_number": request.order.external_id,
        "type": "DTC",
        "shipping_method": request.service_level or shipping_method,
        "recipient": {
            "name": ship_to.name or "",
            "address": {
                "address1": ship_to.line1 or "",
                "address2": ship_to.line2 or "",
                "city": ship_to.city or "",
                "state": ship_to.region or "",
                "zip_code": ship_to.postal_code or "",
                "country": ship_to.country or "",
            },
            "phone_number": ship_to.phone or "",
        },
        "products": [
            {"reference_id": line.sku, "quantity": line.quantity} for line in request.lines
        ],
        "tags": [
            {"name": REQUEST_TAG, "value": request.request_id},
            {"name": ORDER_KEY_TAG, "value": request.order.key},
        ],
    }


#: Shipment statuses (API 1.0 ``Shipment.status``) after which the parcel has left the centre.
SHIPPED_SHIPMENT_STATUSES = frozenset({"Completed"})


def order_request_id(order: Any) -> str | None:
    """The hub request an ``Order`` (as ``GET /1.0/order`` lists it) was created for: its
    ``hub_request_id`` tag, None when the hub did not create it."""
    if not isinstance(order, dict):
        return None
    for tag in order.get("tags") or []:
        if isinstance(tag, dict) and tag.get("name") == REQUEST_TAG:
            value = tag.get("value")
            return str(value) if value is not None else None
    return None


def shipped_shipments(order: Any) -> list[dict[str, Any]]:
    """The order's shipments that already left ShipBob's centre (``Completed``)."""
    shipments = order.get("shipments") if isinstance(order, dict) else None
    return [
        shipment
        for shipment in (shipments if isinstance(shipments, list) else [])
        if isinstance(shipment, dict) and shipment.get("status") in SHIPPED_SHIPMENT_STATUSES
    ]
