"""Shopify through the conformance kit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from canonical.envelope import Envelope
from canonical.fulfillment import Shipment, ShipmentLine
from connectors.pagination import TimeWindow
from connectors.shopify import ShopifyConnector
from connectors.testing import (
    AvailabilityCase,
    ConnectorConformance,
    OutboundCase,
    PaginationCase,
    Sample,
    samples_from,
)

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://acme-test.myshopify.com/admin/api/2025-01"
CONFIG: dict[str, Any] = {
    "shop_domain": "acme-test.myshopify.com",
    "access_token": "shpat_0123456789abcdef0123456789abcdef",
    "webhook_secrets": ["shopify-client-secret-new", "shopify-client-secret-old"],
    "max_attempts": 3,
    "location_id": "65432109876",
}
WINDOW = TimeWindow(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


def _sample(name: str, event: str) -> Sample:
    return Sample.from_file(event, FIXTURES / name)


def _page(orders: list[dict[str, Any]], next_info: str | None) -> httpx.Response:
    headers = {"X-Shopify-Shop-Api-Call-Limit": "3/40"}
    if next_info:
        headers["Link"] = f'<{API}/orders.json?limit=250&page_info={next_info}>; rel="next"'
    return httpx.Response(200, json={"orders": orders}, headers=headers)


def _shipment() -> Shipment:
    return Shipment(
        tenant="acme",
        shipment_id="s-1",
        order={"channel": "shopify_us", "external_id": "5829371929123456789"},
        location="wh_east",
        carrier="UPS",
        packages=[{"tracking_number": "1Z999AA10123456784"}],
        lines=[ShipmentLine(line_id="13572468013579246801", sku="TSHIRT-RED-M", quantity=1)],
        shipped_at=datetime(2026, 3, 3, tzinfo=UTC),
    )


class TestShopifyConformance(ConnectorConformance):
    connector = ShopifyConnector
    valid_config = CONFIG
    invalid_configs = [
        {**CONFIG, "shop_domain": "acme.example.com"},
        {**CONFIG, "webhook_secrets": []},
        {k: v for k, v in CONFIG.items() if k != "access_token"},
    ]
    samples = samples_from(
        FIXTURES,
        {
            "orders_create.json": "orders/create",
            "orders_updated_paid.json": "orders/updated",
            "orders_cancelled.json": "orders/cancelled",
            "rest_order_test_wrapped.json": "orders/updated",
            "orders_page.json": "orders",
            "refunds_create_restock.json": "refunds/create",
            "refunds_create_no_restock.json": "refunds/create",
            "fulfillments_create_1.json": "fulfillments/create",
            "fulfillments_create_2.json": "fulfillments/create",
        },
    )
    webhook_body = (FIXTURES / "orders_create.json").read_bytes()
    outbound = [
        OutboundCase(
            name="inventory_levels.set",
            method="POST",
            url=f"{API}/inventory_levels/set.json",
            call=lambda c: c.set_inventory_level("808950810", "65432109876", 42),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(
                200,
                json={
                    "inventory_level": {
                        "inventory_item_id": 808950810,
                        "location_id": 65432109876,
                        "available": 42,
                        "updated_at": "2026-03-02T10:00:00-05:00",
                    }
                },
            ),
        ),
        OutboundCase(
            name="fulfillments.create",
            method="POST",
            url=f"{API}/fulfillments.json",
            call=lambda c: c.create_fulfillment(  # type: ignore[attr-defined]
                _shipment(), {"13572468013579246801": ("1046000778", "1025578633")}
            ),
            ok=lambda: httpx.Response(201, json={"fulfillment": {"id": 4937281650293847561}}),
        ),
    ]
    availability = AvailabilityCase(
        sku="MUG-BLUE",
        available=42,
        external_ids={"inventory_item_id": "43729076125927", "variant_id": "41234567890123"},
        method="POST",
        url=f"{API}/inventory_levels/set.json",
        body={"location_id": 65432109876, "inventory_item_id": 43729076125927, "available": 42},
        ok=lambda: httpx.Response(
            200,
            json={
                "inventory_level": {
                    "inventory_item_id": 43729076125927,
                    "location_id": 65432109876,
                    "available": 42,
                    "updated_at": "2026-03-02T10:00:00-05:00",
                    "admin_graphql_api_id": "gid://shopify/InventoryLevel/65432109876"
                    "?inventory_item_id=43729076125927",
                }
            },
        ),
    )
    pagination = PaginationCase(
        method="GET",
        url=f"{API}/orders.json",
        call=lambda c: c.iter_orders(WINDOW),  # type: ignore[attr-defined]
        pages=lambda: [
            _page([{"id": 1}, {"id": 2}], "eyJsYXN0X2lkIjoyfQ"),
            _page([{"id": 3}], "eyJsYXN0X2lkIjozfQ"),
            _page([{"id": 4}], None),
        ],
        looping_pages=lambda: [
            _page([{"id": 1}], "eyJsYXN0X2lkIjoxfQ"),
            _page([{"id": 2}], "eyJsYXN0X2lkIjoxfQ"),
        ],
        expected_items=4,
    )
    behaviours = {
        "duplicated_webhook": (_sample("orders_create.json", "orders/create"),),
        "paid_before_created": (
            _sample("orders_updated_paid.json", "orders/updated"),
            _sample("orders_create.json", "orders/create"),
        ),
        "partial_fulfilment": (
            _sample("fulfillments_create_1.json", "fulfillments/create"),
            _sample("fulfillments_create_2.json", "fulfillments/create"),
        ),
        "cancellation_after_invoice": (_sample("orders_cancelled.json", "orders/cancelled"),),
        "partial_refund_with_restock": (_sample("refunds_create_restock.json", "refunds/create"),),
        "partial_refund_without_restock": (
            _sample("refunds_create_no_restock.json", "refunds/create"),
        ),
        "ids_above_2_53": (_sample("orders_create.json", "orders/create"),),
        "shop_vs_presentment_currency": (_sample("orders_create.json", "orders/create"),),
        "deleted_product": (_sample("orders_create.json", "orders/create"),),
    }
    behaviour_expectations = {"ids_above_2_53": "5829371929123456789"}

    def change(self, sample: Sample, payload: Any) -> Any:
        """A new version: orders and fulfilments get a later updated_at, refunds are new refunds."""
        if sample.event == "orders":
            for order in payload["orders"]:
                order["updated_at"] = "2026-03-06T10:00:00-05:00"
        elif sample.event == "refunds/create":
            payload["id"] += 1
            for txn in payload["transactions"]:
                txn["id"] += 1
        else:
            target = payload.get("order", payload)
            target["updated_at"] = "2026-03-06T10:00:00-05:00"
        return payload


def test_kit_envelopes_round_trip_as_json() -> None:
    """What the kit validated is what travels: the JSON parses back into the same envelope."""
    sample = _sample("orders_create.json", "orders/create")
    from connectors.testing import check_sample_translates

    for envelope in check_sample_translates(ShopifyConnector, sample):
        assert Envelope.model_validate(json.loads(envelope.model_dump_json())) == envelope
