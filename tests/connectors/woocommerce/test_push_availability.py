"""WooCommerce's push_availability against the documented REST v3 product and variation updates."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from connectors.errors import MissingExternalIdError, RateLimited, RequestRejected
from connectors.woocommerce import WooCommerceConnector
from tests.connectors.woocommerce.test_conformance import API, CONFIG

PRODUCT = {
    "id": 4711,
    "name": "Mug",
    "type": "simple",
    "sku": "MUG-BLUE",
    "manage_stock": True,
    "stock_quantity": 9,
    "stock_status": "instock",
}


def connector() -> WooCommerceConnector:
    return WooCommerceConnector(CONFIG, sleep=lambda _s: None)


def test_simple_product_gets_put_with_managed_stock() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.put(f"{API}/products/4711").mock(
            return_value=httpx.Response(200, json=PRODUCT)
        )
        connector().push_availability("MUG-BLUE", 9, external_ids={"product_id": "4711"})
    request = route.calls.last.request
    assert json.loads(request.content) == {"manage_stock": True, "stock_quantity": 9}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].startswith("Basic ")


def test_variation_goes_under_its_parent_product() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.put(f"{API}/products/4711/variations/4712").mock(
            return_value=httpx.Response(200, json={**PRODUCT, "id": 4712, "type": "variation"})
        )
        connector().push_availability(
            "MUG-BLUE-L", -2, external_ids={"product_id": "4711", "variant_id": "4712"}
        )
    assert json.loads(route.calls.last.request.content) == {
        "manage_stock": True,
        "stock_quantity": 0,
    }


def test_a_variation_without_its_parent_product_names_product_id() -> None:
    with respx.mock(assert_all_called=False) as mock:
        any_call = mock.route()
        with pytest.raises(MissingExternalIdError, match="'MUG-BLUE-L' has no product_id") as e:
            connector().push_availability("MUG-BLUE-L", 1, external_ids={"variant_id": "4712"})
    assert any_call.call_count == 0
    assert "https://shop.example.com" in str(e.value)


def test_deleted_product_is_permanent_and_throttling_is_transient() -> None:
    with respx.mock() as mock:
        mock.put(f"{API}/products/4711").mock(
            return_value=httpx.Response(
                404,
                json={
                    "code": "woocommerce_rest_product_invalid_id",
                    "message": "Invalid ID.",
                    "data": {"status": 404},
                },
            )
        )
        with pytest.raises(RequestRejected):
            connector().push_availability("MUG", 1, external_ids={"product_id": "4711"})
    with respx.mock() as mock:
        mock.put(f"{API}/products/4711").mock(
            return_value=httpx.Response(429, headers={"Retry-After": "2"})
        )
        with pytest.raises(RateLimited) as caught:
            connector().push_availability("MUG", 1, external_ids={"product_id": "4711"})
    assert caught.value.retry_after == 2.0
