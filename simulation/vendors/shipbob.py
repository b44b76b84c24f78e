"""ShipBob API 1.0 shapes: the Shipment (``order_shipped`` webhooks carry it) and Order.

A shipment names the order through ``reference_id`` (what the merchant sent when creating the
ShipBob order) and the fulfilment centre in ``location``; each product lists the inventory items
that left, with quantities. Times are ISO 8601 with an offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulation.orders import Line, OrderSpec, at_time

__all__ = [
    "cancelled_order",
    "created_order",
    "order_of_reference",
    "shipment",
    "shipped_from",
]


def shipment(
    spec: OrderSpec, shipment_id: int, shipbob_order_id: int, fc_id: int,
    tracking_number: str | None, at: float, lines: tuple[Line, ...] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A completed Shipment, as the ``order_shipped`` webhook delivers it: ``lines`` are what the
    warehouse picked (the order's lines unless it picked wrong), ``tracking_number`` None when the
    carrier's number was not uploaded yet."""
    stamp = at_time(at).isoformat()
    picked = spec.lines if lines is None else lines
    buyer = spec.buyer
    return {
        "id": shipment_id,
        "order_id": shipbob_order_id,
        "reference_id": spec.key,
        "created_date": at_time(spec.placed).isoformat(),
        "last_update_at": stamp,
        "status": "Completed",
        "status_details": [],
        "location": {"id": fc_id, "name": "Cicero (IL)"},
        "invoice_amount": 5.52,
        "invoice_currency_code": "USD",
        "is_tracking_uploaded": tracking_number is not None,
        "ship_option": "Standard",
        "require_signature": False,
        "recipient": {
            "name": f"{buyer.first_name} {buyer.last_name}",
            "address": {
                "address1": buyer.address1,
                "address2": "",
                "city": buyer.city,
                "state": buyer.state,
                "zip_code": buyer.zip,
                "country": buyer.country,
                "type": "MarkFor",
            },
            "email": buyer.email,
        },
        "tracking": None
        if tracking_number is None
        else {
            "carrier": "USPS",
            "tracking_number": tracking_number,
            "carrier_service": "Priority",
            "tracking_url": f"https://tools.usps.com/go/TrackConfirmAction_input?origTrackNum={tracking_number}",
            "shipping_date": stamp,
            "bol": None,
            "pro_number": None,
            "scac": None,
        },
        "products": [
            {
                "id": line.product_id % 100_000,
                "reference_id": line.sku,
                "name": line.title,
                "sku": line.sku,
                "inventory_items": [
                    {
                        "id": line.product_id % 1_000_000,
                        "name": line.title,
                        "quantity": line.quantity,
                        "quantity_committed": line.quantity,
                        "lot": None,
                        "expiration_date": None,
                        "serial_numbers": [],
                    }
                ],
            }
            for line in picked
        ],
        "tags": [],
    }


def created_order(order_id: int, request: dict[str, Any], stamp: str) -> dict[str, Any]:
    """The answer to ``POST /1.0/order``: the order as ShipBob stored it."""
    return {
        "id": order_id,
        "created_date": stamp,
        "purchase_date": request.get("purchase_date"),
        "reference_id": request.get("reference_id"),
        "order_number": request.get("order_number"),
        "status": "Processing",
        "type": request.get("type", "DTC"),
        "channel": {"id": 1, "name": "Hub"},
        "shipping_method": request.get("shipping_method"),
        "recipient": request.get("recipient"),
        "products": [
            {
                "id": index + 1,
                "reference_id": product.get("reference_id"),
                "quantity": product.get("quantity"),
                "sku": product.get("reference_id"),
            }
            for index, product in enumerate(request.get("products") or [])
        ],
        "tags": request.get("tags") or [],
        "shipments": [],
    }


def cancelled_order(order: dict[str, Any]) -> dict[str, Any] | None:
    """Cancel a stored order (in place) and give ShipBob's answer to ``POST
    /1.0/order/{orderId}/cancel``; None when a shipment of it already left (``Completed``)."""
    shipments = order.get("shipments") or []
    if any(s.get("status") == "Completed" for s in shipments):
        return None
    order["status"] = "Cancelled"
    for shipment in shipments:
        shipment["status"] = "Cancelled"
    return {
        "order_id": order["id"],
        "order": order,
        "status": "Success",
        "canceled_shipment_results": [
            {"action": "Cancel", "shipment_id": s.get("id"), "is_success": True, "reason": None}
            for s in shipments
        ],
    }


def order_of_reference(orders: Iterable[dict[str, Any]], reference: str) -> dict[str, Any] | None:
    """The stored order whose ``reference_id`` is ``reference`` (unique, as ShipBob keeps it)."""
    return next((order for order in orders if order.get("reference_id") == reference), None)


def shipped_from(shipment_body: dict[str, Any], orders: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``shipment_body`` as ShipBob sends it for the order the hub created: a Shipment carries its
    order's ``order_id``, ``reference_id`` and ``tags``. The scenario writes shipments before the
    hub releases anything, naming the order by its key; when a ShipBob order tagged with that key
    (``hub_order_key``, not cancelled) exists, the earliest such order is the one shipped. With
    none (the hub did not release the order here), the body is left as the scenario wrote it: a
    ``reference_id`` that is the order key, as orders created before request ids carried."""
    key = shipment_body.get("reference_id")
    for order in sorted(orders, key=lambda o: int(o.get("id") or 0)):
        tags = order.get("tags") or []
        if order.get("status") != "Cancelled" and {"name": "hub_order_key", "value": key} in tags:
            return {
                **shipment_body,
                "order_id": order["id"],
                "reference_id": order.get("reference_id"),
                "tags": [dict(tag) for tag in tags],
            }
    return shipment_body
