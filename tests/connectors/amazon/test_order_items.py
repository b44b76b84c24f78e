"""getOrderItems on its own: the checked event, and the standalone refresh of one order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from canonical.order import Order
from connectors.amazon import AmazonConnector
from connectors.amazon.mapping import order_items
from connectors.base import dump_payload, load_payload
from connectors.errors import TranslationError
from tests.connectors.amazon.test_conformance import API, CONFIG, CTX, FIXTURES

ORDER_ID = "113-5678901-2345678"
JSON = {"Content-Type": "application/json"}


def fixture(name: str) -> Any:
    return load_payload((FIXTURES / name).read_bytes())


def documented_order() -> tuple[dict[str, Any], list[Any]]:
    """The header getOrder returns and the items getOrderItems returns, for ORDER_ID."""
    order = fixture("getOrders_with_items.json")["payload"]["Orders"][0]
    items = order.pop("OrderItems")
    return order, items


def response(body: Any) -> httpx.Response:
    return httpx.Response(200, content=dump_payload(body), headers=JSON)


def test_get_order_items_is_checked_and_makes_no_snapshot() -> None:
    payload = fixture("getOrderItems.json")
    assert AmazonConnector.translate("getOrderItems", payload, CTX) == []
    order_id, items, token = order_items(payload)
    assert order_id == "302-1234567-7654321"
    assert [item["OrderItemId"] for item in items] == ["30212345678901"]
    assert token is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["payload"].pop("AmazonOrderId"), "payload.AmazonOrderId"),
        (lambda p: p["payload"]["OrderItems"][0].pop("OrderItemId"), "payload.OrderItems[0]"),
        (
            lambda p: p["payload"]["OrderItems"][0].update(QuantityOrdered="two"),
            "payload.OrderItems[0].QuantityOrdered",
        ),
    ],
)
def test_a_bad_items_response_names_the_field(change: Any, field: str) -> None:
    payload = fixture("getOrderItems.json")
    change(payload)
    with pytest.raises(TranslationError) as caught:
        AmazonConnector.translate("getOrderItems", payload, CTX)
    assert caught.value.field.startswith(field)


def test_order_change_refreshes_the_order_with_every_items_page() -> None:
    header, items = documented_order()
    connector = AmazonConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock(assert_all_called=True) as mock:
        get_order = mock.get(f"{API}/orders/v0/orders/{ORDER_ID}").mock(
            return_value=response({"payload": header})
        )
        get_items = mock.get(f"{API}/orders/v0/orders/{ORDER_ID}/orderItems").mock(
            side_effect=[
                response(
                    {
                        "payload": {
                            "AmazonOrderId": ORDER_ID,
                            "OrderItems": items[:1],
                            "NextToken": "2YgYW55IGNhcm5hbCBwbGVhcw",
                        }
                    }
                ),
                response({"payload": {"AmazonOrderId": ORDER_ID, "OrderItems": items[1:]}}),
            ]
        )
        (envelope,) = connector.refresh_orders(fixture("notification_order_change.json"), CTX)
    assert get_order.call_count == 1
    assert [dict(call.request.url.params) for call in get_items.calls] == [
        {},
        {"NextToken": "2YgYW55IGNhcm5hbCBwbGVhcw"},
    ]
    order = envelope.payload
    assert isinstance(order, Order)
    assert [line.line_id for line in order.lines] == [i["OrderItemId"] for i in items]
    # the refresh derives the key the getOrders poll derives for the same version
    (polled,) = [
        e
        for e in AmazonConnector.translate("getOrders", fixture("getOrders_with_items.json"), CTX)
        if e.payload.external_id == ORDER_ID  # type: ignore[union-attr]
    ]
    assert envelope.idempotency_key == polled.idempotency_key


def test_a_pending_order_is_refreshed_without_items() -> None:
    header, _ = documented_order()
    header = {**header, "OrderStatus": "Pending"}
    connector = AmazonConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{API}/orders/v0/orders/{ORDER_ID}").mock(
            return_value=response({"payload": header})
        )
        fetched = connector.fetch_order(ORDER_ID)
        assert connector.refresh_orders(fixture("notification_order_change.json"), CTX) == []
    assert "OrderItems" not in fetched["payload"]


def test_items_of_another_order_are_refused() -> None:
    _, items = documented_order()
    connector = AmazonConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        mock.get(f"{API}/orders/v0/orders/{ORDER_ID}/orderItems").mock(
            return_value=response(
                {"payload": {"AmazonOrderId": "113-0000000-0000000", "OrderItems": items}}
            )
        )
        with pytest.raises(TranslationError, match="answered for 113-0000000-0000000"):
            connector.order_items(ORDER_ID)
