"""EasyPost API shapes: Event webhooks carrying a Tracker, and Shipments with rates and labels.

EasyPost names the event in the body's ``description`` (``tracker.updated``) and puts the object
in ``result``. Times are ISO 8601 in UTC with ``Z``; rates are decimal strings.
"""

from __future__ import annotations

from typing import Any

from simulation.orders import at_time, iso_z

__all__ = ["bought_shipment", "shipment", "tracker_event"]

_MESSAGES = {
    "pre_transit": "Shipping label created",
    "in_transit": "Arrived at facility",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered, front door",
}


def tracker_event(
    event_id: str, tracker_id: str, tracking_code: str, status: str, at: float, previous: str
) -> dict[str, Any]:
    """A ``tracker.updated`` Event for one status change."""
    stamp = iso_z(at_time(at))
    return {
        "id": event_id,
        "object": "Event",
        "mode": "test",
        "description": "tracker.updated",
        "previous_attributes": {"status": previous},
        "created_at": stamp,
        "updated_at": stamp,
        "pending_urls": [],
        "completed_urls": [],
        "status": "pending",
        "result": {
            "id": tracker_id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": tracking_code,
            "status": status,
            "status_detail": status,
            "created_at": stamp,
            "updated_at": stamp,
            "signed_by": None,
            "est_delivery_date": None,
            "shipment_id": None,
            "carrier": "USPS",
            "finalized": status == "delivered",
            "is_return": False,
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "message": _MESSAGES.get(status, status),
                    "description": _MESSAGES.get(status, status),
                    "status": status,
                    "status_detail": status,
                    "datetime": stamp,
                    "source": "USPS",
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": "Cicero",
                        "state": "IL",
                        "country": "US",
                        "zip": "60804",
                    },
                }
            ],
        },
    }


def shipment(shipment_id: str, request: dict[str, Any], created: str) -> dict[str, Any]:
    """A created Shipment with two rates to choose from (``POST /v2/shipments``)."""
    rates = [
        {
            "id": f"rate_{shipment_id[4:]}{suffix}",
            "object": "Rate",
            "mode": "test",
            "service": service,
            "carrier": "USPS",
            "rate": rate,
            "currency": "USD",
            "delivery_days": days,
            "shipment_id": shipment_id,
            "carrier_account_id": "ca_sim0000000000000000000000000001",
            "created_at": created,
            "updated_at": created,
        }
        for suffix, service, rate, days in (("a", "Priority", "7.58", 2), ("b", "GroundAdvantage", "5.12", 4))
    ]  # fmt: skip
    return {
        "id": shipment_id,
        "object": "Shipment",
        "mode": "test",
        "reference": request.get("reference"),
        "to_address": request.get("to_address"),
        "from_address": request.get("from_address"),
        "parcel": request.get("parcel"),
        "rates": rates,
        "selected_rate": None,
        "postage_label": None,
        "tracking_code": None,
        "tracker": None,
        "status": "unknown",
        "created_at": created,
        "updated_at": created,
        "messages": [],
    }


def bought_shipment(created: dict[str, Any], rate_id: str, tracking_code: str, stamp: str) -> Any:
    """The Shipment after ``POST /v2/shipments/{id}/buy``: the rate, label and tracker are set."""
    rate = next((r for r in created["rates"] if r["id"] == rate_id), None)
    if rate is None:
        return None
    return {
        **created,
        "selected_rate": rate,
        "tracking_code": tracking_code,
        "status": "unknown",
        "updated_at": stamp,
        "postage_label": {
            "id": f"pl_{created['id'][4:]}",
            "object": "PostageLabel",
            "label_date": stamp,
            "label_file_type": "image/png",
            "label_resolution": 300,
            "label_size": "4x6",
            "label_url": f"https://easypost-files.s3.us-west-2.amazonaws.com/files/postage_label/{created['id']}.png",
            "created_at": stamp,
            "updated_at": stamp,
        },
        "tracker": {
            "id": f"trk_{created['id'][4:]}",
            "object": "Tracker",
            "tracking_code": tracking_code,
            "status": "pre_transit",
            "carrier": rate["carrier"],
            "created_at": stamp,
            "updated_at": stamp,
        },
    }
