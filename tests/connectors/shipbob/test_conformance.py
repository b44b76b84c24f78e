"""ShipBob through the conformance kit, plus shipment mapping and order creation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx

from canonical.fulfillment import FulfillmentLine, FulfillmentRequest, Shipment
from canonical.party import Address
from connectors.base import load_payload
from connectors.shipbob import ShipBobConnector
from connectors.spec import TranslationContext
from connectors.testing import (
    ConnectorConformance,
    OutboundCase,
    PaginationCase,
    Sample,
    samples_from,
)

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://api.shipbob.com"
SECRET = "whsec_" + base64.b64encode(b"shipbob-signing-key-0123456789").decode()
CONFIG: dict[str, Any] = {
    "access_token": "shipbob_pat_0123456789abcdef",
    "channel_id": "104729",
    "webhook_secrets": [SECRET, "whsec_" + base64.b64encode(b"previous-key").decode()],
    "max_attempts": 3,
}
CTX = TranslationContext(
    tenant="acme",
    instance="shipbob",
    received_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    locations={"6": "shipbob_cicero"},
)


def _levels_page(inventory_ids: list[int], cursor: str | None) -> httpx.Response:
    """A page of GET /2026-01/inventory-level/locations as ShipBob documents it."""
    items = [
        {
            "inventory_id": inventory_id,
            "sku": f"SKU-{inventory_id}",
            "name": f"Item {inventory_id}",
            "locations": [
                {
                    "location_id": 6,
                    "name": "Cicero (IL)",
                    "on_hand_quantity": 3,
                    "fulfillable_quantity": 3,
                    "committed_quantity": 0,
                    "awaiting_quantity": 0,
                    "internal_transfer_quantity": 0,
                }
            ],
        }
        for inventory_id in inventory_ids
    ]
    link = f"/2026-01/inventory-level/locations?Cursor={cursor}" if cursor else None
    return httpx.Response(
        200,
        json={"first": None, "items": items, "last": None, "next": link, "prev": None},
        headers={"Date": "Mon, 02 Mar 2026 14:55:07 GMT"},
    )


def request() -> FulfillmentRequest:
    return FulfillmentRequest(
        tenant="acme",
        request_id="fr-5829371929123456789-1",
        order={"channel": "shopify_us", "external_id": "5829371929123456789"},
        location="shipbob_cicero",
        lines=[FulfillmentLine(line_id="13572468013579246801", sku="TSHIRT-RED-M", quantity=2)],
        ship_to=Address(
            name="Jane Doe",
            line1="123 Main Street",
            city="Albany",
            region="NY",
            postal_code="12207",
            country="US",
        ),
        requested_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )


class TestShipBobConformance(ConnectorConformance):
    connector = ShipBobConnector
    valid_config = CONFIG
    invalid_configs = [{**CONFIG, "channel_id": "abc"}, {**CONFIG, "webhook_secrets": []}]
    samples = [
        *samples_from(
            FIXTURES,
            {
                "order_shipped.json": "order_shipped",
                "shipment_delivered.json": "shipment_delivered",
                "shipment_exception.json": "shipment_exception",
                "inventory_levels_page.json": "inventory_levels",
            },
        ),
        Sample.from_file("order.shipped", FIXTURES / "order_shipped.json"),
    ]
    outbound = [
        OutboundCase(
            name="orders.create",
            method="POST",
            url=f"{API}/1.0/order",
            # the POST alone: create_fulfillment_order adds a look-up on a 422 (test_orders.py)
            call=lambda c: c.post_order(request()),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(201, json={"id": 200345678, "status": "Processing"}),
        ),
        OutboundCase(
            name="orders.list",
            method="GET",
            url=f"{API}/1.0/order",
            call=lambda c: c.find_orders("shopify_us:5829371929123456789"),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(200, json=[]),
        ),
        OutboundCase(
            name="orders.cancel",
            method="POST",
            url=f"{API}/1.0/order/200345678/cancel",
            call=lambda c: c.cancel_order("200345678"),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(
                200,
                json={"order_id": 200345678, "status": "Success", "canceled_shipment_results": []},
            ),
        ),
    ]
    pagination = PaginationCase(
        method="GET",
        url=f"{API}/2026-01/inventory-level/locations",
        call=lambda c: (
            item
            for page in c.iter_inventory_levels()  # type: ignore[attr-defined]
            for item in page["items"]
        ),
        pages=lambda: [
            _levels_page([8471203, 8471377], "eyJwYWdlIjoyfQ"),
            _levels_page([8471400], "eyJwYWdlIjozfQ"),
            _levels_page([8471512], None),
        ],
        looping_pages=lambda: [
            _levels_page([8471203], "eyJwYWdlIjoyfQ"),
            _levels_page([8471377], "eyJwYWdlIjoyfQ"),
        ],
        expected_items=4,
    )

    def change(self, sample: Sample, payload: Any) -> Any:
        if sample.event == "inventory_levels":
            payload["counted_at"] = "2026-03-02T16:55:07+00:00"
        elif sample.event in ("order_shipped", "order.shipped"):
            payload["id"] += 1
        else:
            payload["last_update_at"] = "2026-03-06T10:00:00+00:00"
        return payload


def test_shipment_lines_lots_location_and_request() -> None:
    (envelope,) = ShipBobConnector.translate(
        "order_shipped", load_payload((FIXTURES / "order_shipped.json").read_bytes()), CTX
    )
    shipment = envelope.payload
    assert isinstance(shipment, Shipment)
    assert shipment.order.key == "shopify_us:5829371929123456789"
    assert shipment.location == "shipbob_cicero"
    assert shipment.request_id == "fr-5829371929123456789-1"
    assert shipment.tracking_numbers == ["9400111899223197428490"]
    assert [(line.sku, line.quantity) for line in shipment.lines] == [
        ("TSHIRT-RED-M", 2),
        ("VITAMIN-C-60", 1),
    ]
    assert shipment.lines[1].lots[0].number == "L2026-02A"


def test_create_order_sends_reference_and_channel_header() -> None:
    connector = ShipBobConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        route = mock.post(f"{API}/1.0/order").mock(
            return_value=httpx.Response(201, json={"id": 200345678})
        )
        assert connector.create_fulfillment_order(request()) == "200345678"
    sent = route.calls.last.request
    assert sent.headers["shipbob_channel_id"] == "104729"
    body = load_payload(sent.content)
    assert body["reference_id"] == "fr-5829371929123456789-1"  # the request's, not the order's
    assert body["order_number"] == "5829371929123456789"
    assert body["tags"] == [
        {"name": "hub_request_id", "value": "fr-5829371929123456789-1"},
        {"name": "hub_order_key", "value": "shopify_us:5829371929123456789"},
    ]
    assert body["products"] == [{"reference_id": "TSHIRT-RED-M", "quantity": 2}]
