"""EasyPost tracker events to canonical tracking events; bought shipments to packages. Pure.

A webhook delivery is an ``Event`` (``{"object": "Event", "description": "tracker.updated",
"result": {Tracker}}``); the bare ``Tracker`` (``GET /v2/trackers/:id``) is accepted too.

Status mapping (EasyPost ``Tracker.status`` -> :class:`TrackingStatus`):

=====================  ======================  =============================================
EasyPost               hub                     why
=====================  ======================  =============================================
unknown, pre_transit   label_created           a label exists, the carrier has not scanned it
in_transit             in_transit
out_for_delivery       out_for_delivery
available_for_pickup   out_for_delivery        last mile: waiting for the buyer at a counter
delivered              delivered
return_to_sender       returned_to_sender
failure, error,        exception               someone must look at it
cancelled
=====================  ======================  =============================================

The idempotency source ids are ``(tracker id, status, updated_at)``: EasyPost re-sends the same
Event id on redelivery, but a reconciliation poll reads the Tracker, not the Event, so keying on the
tracker's own version makes both paths agree. Weights arrive in ounces and become grams exactly.

Outbound, a fulfilment request becomes the body of ``POST /v2/shipments`` (:func:`shipment_body`):

* ``to_address`` / ``from_address``: canonical :class:`~canonical.party.Address` fields as
  EasyPost's (``line1`` -> ``street1``, ``line2`` -> ``street2``, ``region`` -> ``state``,
  ``postal_code`` -> ``zip``; ``name``, ``company``, ``city``, ``country``, ``phone`` as they are);
  empty fields are left out rather than sent as null.
* ``parcel``: ``weight`` in ounces (EasyPost's unit) as an exact JSON number, and ``length``,
  ``width``, ``height`` in inches when configured (:func:`parcel_weight` says how the weight is
  found).
* ``reference``: the hub's request id, so the shipment can be found again (a retried release looks
  for a bought shipment with that reference before it creates another) and is searchable in
  EasyPost's dashboard. ``options.print_custom_1`` prints the order key on the label.

A created shipment's ``rates[]`` become :class:`Rate` (``rate`` is a decimal string and stays a
Decimal); :func:`choose_rate` picks the cheapest rate among those the request allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from canonical.envelope import Envelope
from canonical.fulfillment import (
    FulfillmentLine,
    FulfillmentRequest,
    Package,
    TrackingEvent,
    TrackingStatus,
)
from canonical.party import Address
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, envelope

__all__ = [
    "STATUS",
    "Rate",
    "address",
    "choose_rate",
    "is_bought",
    "parcel_weight",
    "rates",
    "shipment_body",
    "to_canonical_package",
    "to_canonical_tracking_event",
]

CONNECTOR = "easypost"
GRAMS_PER_OUNCE = Decimal("28.349523125")

STATUS = {
    "unknown": TrackingStatus.LABEL_CREATED,
    "pre_transit": TrackingStatus.LABEL_CREATED,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": TrackingStatus.OUT_FOR_DELIVERY,
    "delivered": TrackingStatus.DELIVERED,
    "return_to_sender": TrackingStatus.RETURNED_TO_SENDER,
    "failure": TrackingStatus.EXCEPTION,
    "error": TrackingStatus.EXCEPTION,
    "cancelled": TrackingStatus.EXCEPTION,
}


def _tracker(raw: Any, expected: tuple[str, ...]) -> Fields:
    top = Fields(raw)
    if top.opt_str("object") == "Event":
        description = top.str("description")
        if description not in expected:
            raise top.fail("description", f"is {description!r}, expected one of {expected}")
        tracker = top.obj("result")
    else:
        tracker = top
    kind = tracker.str("object")
    if kind != "Tracker":
        raise tracker.fail("object", f"is {kind!r}, expected a Tracker")
    return tracker


def to_canonical_tracking_event(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """tracker.created / tracker.updated: the tracker's current status as one TrackingEvent."""
    tracker = _tracker(raw, ("tracker.created", "tracker.updated"))
    status_word = tracker.str("status")
    if status_word not in STATUS:
        raise tracker.fail("status", f"unknown EasyPost tracker status {status_word!r}")
    details = list(tracker.objs("tracking_details"))
    latest = details[-1] if details else None
    location = latest.opt_obj("tracking_location") if latest else None
    occurred = (latest.opt_time("datetime") if latest else None) or tracker.time("updated_at")
    weight = None
    if tracker.has("weight"):
        weight = tracker.decimal("weight") * GRAMS_PER_OUNCE
    event = build(
        TrackingEvent,
        tracker.path,
        tenant=ctx.tenant,
        tracking_number=tracker.str("tracking_code"),
        carrier=tracker.opt_str("carrier") or "unknown",
        status=STATUS[status_word],
        carrier_status=tracker.opt_str("status_detail") or status_word,
        description=latest.opt_str("message") if latest else None,
        city=location.opt_str("city") if location else None,
        region=location.opt_str("state") if location else None,
        country=location.opt_str("country") if location else None,
        occurred_at=occurred,
        estimated_delivery=tracker.opt_time("est_delivery_date"),
        shipment_id=tracker.opt_id("shipment_id"),
        weight_grams=weight,
    )
    return [
        envelope(
            ctx,
            CONNECTOR,
            event,
            event_type="tracking.updated",
            source_ids=("tracker", tracker.id("id"), status_word, tracker.str("updated_at")),
            occurred_at=occurred,
            correlation_id=event.tracking_number,
        )
    ]


def to_canonical_package(raw: Any) -> Package:
    """A bought ``Shipment`` (``POST /v2/shipments/:id/buy``) as the canonical package it made."""
    shipment = Fields(raw)
    rate = shipment.obj("selected_rate")
    label = shipment.obj("postage_label")
    currency = rate.currency("currency")
    return build(
        Package,
        shipment.path,
        tracking_number=shipment.str("tracking_code"),
        label_url=label.opt_str("label_url"),
        label_cost=rate.money("rate", currency),
    )


#: Canonical address field -> EasyPost address field, in the order EasyPost documents them.
ADDRESS_FIELDS = (
    ("name", "name"),
    ("company", "company"),
    ("line1", "street1"),
    ("line2", "street2"),
    ("city", "city"),
    ("region", "state"),
    ("postal_code", "zip"),
    ("country", "country"),
    ("phone", "phone"),
)


def address(value: Address) -> dict[str, str]:
    """An EasyPost ``Address`` for a canonical address; empty fields are left out."""
    fields = {}
    for ours, theirs in ADDRESS_FIELDS:
        item = getattr(value, ours)
        if item:
            fields[theirs] = str(item)
    return fields


def parcel_weight(
    lines: Iterable[FulfillmentLine],
    unit_weights: Mapping[str, Decimal],
    *,
    default: Decimal | None,
    tare: Decimal = Decimal(0),
) -> tuple[Decimal | None, list[str]]:
    """The parcel's weight in ounces, and the SKUs that have no unit weight.

    ``tare`` plus each line's quantity times its SKU's unit weight. When a SKU has no unit weight
    the parcel weighs at least ``default`` (the configured default parcel): never less than what
    is known, never less than an unweighed parcel. ``None`` when a SKU is unweighed and there is
    no default: the caller refuses.
    """
    known = tare
    missing: list[str] = []
    for line in lines:
        unit = unit_weights.get(line.sku)
        if unit is None:
            if line.sku not in missing:
                missing.append(line.sku)
            continue
        known += unit * line.quantity
    if not missing:
        return known, missing
    if default is None:
        return None, missing
    return max(default, known), missing


def shipment_body(
    request: FulfillmentRequest,
    *,
    origin: Address,
    parcel: Mapping[str, Decimal],
    label_format: str,
) -> dict[str, Any]:
    """Body of ``POST /v2/shipments`` for a fulfilment request (decimals stay exact)."""
    return {
        "shipment": {
            "to_address": address(request.ship_to),
            "from_address": address(origin),
            "parcel": dict(parcel),
            "reference": request.request_id,
            "options": {"label_format": label_format, "print_custom_1": request.order.key},
        }
    }


@dataclass(frozen=True, slots=True)
class Rate:
    """One of a shipment's ``rates[]``: what a label of ``carrier`` ``service`` costs."""

    id: str
    carrier: str
    service: str
    rate: Decimal
    currency: str
    delivery_days: int | None

    @property
    def name(self) -> str:
        return f"{self.carrier} {self.service} {self.rate} {self.currency}"


def rates(raw: Any) -> list[Rate]:
    """The rates of a created ``Shipment``, in EasyPost's order."""
    shipment = Fields(raw)
    found = []
    for rate in shipment.objs("rates"):
        days = rate.raw("delivery_days", None)
        found.append(
            Rate(
                id=rate.id("id"),
                carrier=rate.str("carrier"),
                service=rate.str("service"),
                rate=rate.decimal("rate"),
                currency=rate.str("currency").upper(),
                delivery_days=days if isinstance(days, int) else None,
            )
        )
    return found


def _same(left: str, right: str) -> bool:
    return left.casefold() == right.casefold()


def choose_rate(
    offered: Sequence[Rate], *, carrier: str | None, services: Sequence[str] | None
) -> Rate | None:
    """The cheapest of ``offered`` of ``carrier`` (any when None) whose service is one of
    ``services`` (any when None); names compare case-insensitively. Ties go to the faster rate,
    then to the rate id, so the choice never depends on EasyPost's order. None when none fits.
    """
    fitting = [
        rate
        for rate in offered
        if (carrier is None or _same(rate.carrier, carrier))
        and (services is None or any(_same(rate.service, s) for s in services))
    ]
    if not fitting:
        return None
    currencies = {rate.currency for rate in fitting}
    if len(currencies) > 1:
        raise ValueError(f"rates in several currencies ({', '.join(sorted(currencies))})")
    slow = 10_000
    return min(
        fitting,
        key=lambda r: (r.rate, r.delivery_days if r.delivery_days is not None else slow, r.id),
    )


def is_bought(raw: Any) -> bool:
    """Whether a ``Shipment`` has its label: a selected rate and a postage label."""
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("selected_rate"), dict)
        and isinstance(raw.get("postage_label"), dict)
    )
