"""Shopify's push_availability against the documented REST shapes (inventory_levels/set, variants)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from connectors.errors import (
    ConnectorConfigError,
    FatalError,
    MissingExternalIdError,
    RequestRejected,
)
from connectors.shopify import ShopifyConnector
from tests.connectors.shopify.test_conformance import API, CONFIG

LEVEL = {
    "inventory_level": {
        "inventory_item_id": 43729076125927,
        "location_id": 65432109876,
        "available": 0,
        "updated_at": "2026-03-02T10:00:00-05:00",
        "admin_graphql_api_id": "gid://shopify/InventoryLevel/65432109876"
        "?inventory_item_id=43729076125927",
    }
}
VARIANT = {
    "variant": {
        "id": 41234567890123,
        "product_id": 7012345678901,
        "title": "Blue / L",
        "sku": "MUG-BLUE-L",
        "inventory_management": "shopify",
        "inventory_item_id": 43729076125927,
        "inventory_quantity": 5,
        "admin_graphql_api_id": "gid://shopify/ProductVariant/41234567890123",
    }
}


def connector(**overrides: object) -> ShopifyConnector:
    return ShopifyConnector({**CONFIG, **overrides}, sleep=lambda _s: None)


def test_push_sets_the_level_at_the_configured_location_and_clamps_oversold_to_zero() -> None:
    shop = connector()
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{API}/inventory_levels/set.json").mock(
            return_value=httpx.Response(200, json=LEVEL)
        )
        shop.push_availability(
            "MUG-BLUE-L", -4, external_ids={"inventory_item_id": "43729076125927"}
        )
    request = route.calls.last.request
    assert request.content == (
        b'{"location_id":65432109876,"inventory_item_id":43729076125927,"available":0}'
    )
    assert request.headers["X-Shopify-Access-Token"] == CONFIG["access_token"]


def test_only_a_variant_id_reads_the_inventory_item_once() -> None:
    shop = connector()
    with respx.mock(assert_all_called=True) as mock:
        variant = mock.get(f"{API}/variants/41234567890123.json").mock(
            return_value=httpx.Response(200, json=VARIANT)
        )
        level = mock.post(f"{API}/inventory_levels/set.json").mock(
            return_value=httpx.Response(200, json=LEVEL)
        )
        for available in (7, 6):
            shop.push_availability(
                "MUG-BLUE-L", available, external_ids={"variant_id": "41234567890123"}
            )
    assert variant.call_count == 1
    bodies = [json.loads(call.request.content) for call in level.calls]
    assert [(b["inventory_item_id"], b["available"]) for b in bodies] == [
        (43729076125927, 7),
        (43729076125927, 6),
    ]


def test_untracked_variant_is_a_permanent_error() -> None:
    untracked = {"variant": {**VARIANT["variant"], "inventory_item_id": None}}
    with respx.mock() as mock:
        mock.get(f"{API}/variants/41234567890123.json").mock(
            return_value=httpx.Response(200, json=untracked)
        )
        with pytest.raises(FatalError, match="variant 41234567890123 has no inventory_item_id"):
            connector().push_availability("X", 1, external_ids={"variant_id": "41234567890123"})


def test_missing_ids_name_the_sku_the_shop_and_the_kinds() -> None:
    with respx.mock(assert_all_called=False) as mock:
        any_call = mock.route()
        with pytest.raises(MissingExternalIdError) as caught:
            connector().push_availability("MUG-BLUE-L", 3, external_ids={"product_id": "70123"})
    assert any_call.call_count == 0
    message = str(caught.value)
    assert "SKU 'MUG-BLUE-L' has no inventory_item_id or variant_id" in message
    assert "acme-test.myshopify.com" in message
    assert caught.value.kinds == ("inventory_item_id", "variant_id")


def test_without_a_location_the_push_is_a_config_error() -> None:
    config = {k: v for k, v in CONFIG.items() if k != "location_id"}
    shop = ShopifyConnector(config)
    with pytest.raises(ConnectorConfigError, match="needs location_id"):
        shop.push_availability("MUG", 1, external_ids={"inventory_item_id": "1"})
    with pytest.raises(ConnectorConfigError, match="location_id"):
        ShopifyConnector.parse_config({**CONFIG, "location_id": "warehouse-1"})


def test_untracked_item_refused_by_shopify_is_permanent() -> None:
    with respx.mock() as mock:
        route = mock.post(f"{API}/inventory_levels/set.json").mock(
            return_value=httpx.Response(
                422,
                json={"errors": ["Inventory item does not have inventory tracking enabled"]},
            )
        )
        with pytest.raises(RequestRejected) as caught:
            connector().push_availability("MUG", 1, external_ids={"inventory_item_id": "1"})
    assert route.call_count == 1
    assert caught.value.status_code == 422


def test_graphql_ids_are_read_and_a_bad_id_is_a_permanent_error() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{API}/inventory_levels/set.json").mock(
            return_value=httpx.Response(200, json=LEVEL)
        )
        connector().push_availability(
            "MUG-BLUE-L",
            5,
            external_ids={"inventory_item_id": "gid://shopify/InventoryItem/43729076125927"},
        )
    assert json.loads(route.calls.last.request.content)["inventory_item_id"] == 43729076125927
    with respx.mock(assert_all_called=False) as mock:
        any_call = mock.route()
        with pytest.raises(FatalError, match="variant_id 'MUG-BLUE-L' in the catalogue"):
            connector().push_availability("MUG", 1, external_ids={"variant_id": "MUG-BLUE-L"})
    assert any_call.call_count == 0
