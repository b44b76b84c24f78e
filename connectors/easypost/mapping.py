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
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from canonical.envelope import Envelope
from canonical.fulfillment import Package, TrackingEvent, TrackingStatus
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, envelope

__all__ = ["STATUS", "to_canonical_package", "to_canonical_tracking_event"]

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
