"""Amazon SP-API through the conformance kit, plus its mappings, polling and LWA token."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from canonical.money import Money
from canonical.order import Order
from connectors.amazon import AmazonConnector
from connectors.amazon.mapping import orders_to_refresh
from connectors.base import dump_payload, load_payload
from connectors.errors import TranslationError
from connectors.pagination import TimeWindow
from connectors.spec import TranslationContext
from connectors.testing import (
    AvailabilityCase,
    ConnectorConformance,
    OutboundCase,
    PaginationCase,
    Sample,
    samples_from,
)

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://sellingpartnerapi-na.amazon.com"
CONFIG: dict[str, Any] = {
    "seller_id": "A3TH9S8BH6GOGM",
    "marketplace_ids": ["ATVPDKIKX0DER"],
    "endpoint": API,
    "client_id": "amzn1.application-oa2-client.0123456789abcdef",
    "client_secret": "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef",
    "refresh_token": "Atzr|IwEBIA0123456789abcdef",
    "access_token": "Atza|IwEBIJ0123456789abcdef",
    "max_attempts": 3,
}
CTX = TranslationContext(
    tenant="acme", instance="amazon_us", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)
WINDOW = TimeWindow(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


def refund_sample() -> Sample:
    """The first RefundEventList item of the documented listFinancialEvents response, as the
    refunds poll hands it to the hub."""
    page = load_payload((FIXTURES / "listFinancialEvents_refunds.json").read_bytes())
    event = page["payload"]["FinancialEvents"]["RefundEventList"][0]
    return Sample("refundEvent", dump_payload(event), "listFinancialEvents_refunds.json#refund0")


def _orders_page(ids: list[str], token: str | None) -> httpx.Response:
    payload: dict[str, Any] = {
        "Orders": [{"AmazonOrderId": i, "OrderStatus": "Pending"} for i in ids]
    }
    if token:
        payload["NextToken"] = token
    return httpx.Response(200, json={"payload": payload})


#: Why the two refund behaviours stay waived now that refunds are polled (see mapping's docstring).
REFUND_WAIVER = (
    "Amazon refunds (Finances RefundEventList, the refunds poll) emit payment.refunded only: a "
    "refund event names the adjustment (OrderAdjustmentItemId), not the order line, and does not "
    "say whether the goods came back or were restocked, so there is no return with restock lines "
    "to check"
)


class TestAmazonConformance(ConnectorConformance):
    connector = AmazonConnector
    valid_config = CONFIG
    invalid_configs = [
        {**CONFIG, "endpoint": "https://example.com"},
        {**CONFIG, "marketplace_ids": []},
    ]
    samples = [
        *samples_from(
            FIXTURES,
            {
                "getOrders_with_items.json": "getOrders",
                "getOrder_de_vat_included.json": "getOrder",
                "getOrder_canceled.json": "getOrder",
                "notification_order_change.json": "ORDER_CHANGE",
                "getOrderItems.json": "getOrderItems",
            },
        ),
        refund_sample(),
    ]
    outbound = [
        OutboundCase(
            name="patchListingsItem",
            method="PATCH",
            url=f"{API}/listings/2021-08-01/items/A3TH9S8BH6GOGM/MUG-BLUE",
            call=lambda c: c.set_quantity("MUG-BLUE", 7),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(
                200, json={"sku": "MUG-BLUE", "status": "ACCEPTED", "submissionId": "f1dc2914"}
            ),
        ),
        OutboundCase(
            name="listFinancialEvents",
            method="GET",
            url=f"{API}/finances/v0/financialEvents",
            call=lambda c: list(c.poll("refunds", WINDOW)),
            ok=lambda: httpx.Response(
                200,
                content=(FIXTURES / "listFinancialEvents_refunds.json").read_bytes(),
                headers={"Content-Type": "application/json"},
            ),
        ),
    ]
    availability = AvailabilityCase(
        sku="MUG-BLUE",
        available=7,
        external_ids={"seller_sku": "MUG-BLUE-US"},
        method="PATCH",
        url=f"{API}/listings/2021-08-01/items/A3TH9S8BH6GOGM/MUG-BLUE-US",
        body={
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "merge",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
                }
            ],
        },
        ok=lambda: httpx.Response(
            200,
            json={
                "sku": "MUG-BLUE-US",
                "status": "ACCEPTED",
                "submissionId": "f1dc2914e8a14d4f9b9ce6c7a3b9e2d1",
                "issues": [],
            },
        ),
    )
    pagination = PaginationCase(
        method="GET",
        url=f"{API}/orders/v0/orders",
        call=lambda c: c.iter_orders(WINDOW, with_items=False),  # type: ignore[attr-defined]
        pages=lambda: [_orders_page(["1", "2"], "tok-1"), _orders_page(["3"], None)],
        looping_pages=lambda: [_orders_page(["1"], "tok-1"), _orders_page(["2"], "tok-1")],
        expected_items=3,
    )
    behaviours = {
        "cancellation_after_invoice": (
            Sample.from_file("getOrder", FIXTURES / "getOrder_canceled.json"),
        ),
    }
    waivers = {
        "webhooks": "SP-API notifications come through SQS/EventBridge, authenticated by AWS",
        "paid_before_created": "Amazon shows an order only once paid (Pending orders are skipped)",
        "partial_fulfilment": "Amazon shipments are the hub's outbound confirmations",
        "partial_refund_with_restock": REFUND_WAIVER,
        "partial_refund_without_restock": REFUND_WAIVER,
        "ids_above_2_53": "Amazon ids are strings (113-5678901-2345678), never JSON numbers",
        "shop_vs_presentment_currency": "Orders v0 has one currency: the marketplace's",
        "deleted_product": "every Amazon order item carries the SellerSKU and ASIN it sold under",
    }

    def change(self, sample: Sample, payload: Any) -> Any:
        if sample.event in ("ORDER_CHANGE", "getOrderItems"):
            return payload  # no envelope either way: nothing to compare
        if sample.event == "refundEvent":  # a later refund of the same items
            payload["PostedDate"] = "2026-03-09T09:15:02Z"
            return payload
        body = payload["payload"]
        for order in body.get("Orders", [body]):
            order["LastUpdateDate"] = "2026-03-05T10:00:00Z"
        return payload


def _orders(name: str, event: str) -> list[Order]:
    envelopes = AmazonConnector.translate(event, load_payload((FIXTURES / name).read_bytes()), CTX)
    return [e.payload for e in envelopes]  # type: ignore[misc]


def test_unit_price_is_item_price_over_quantity_and_pending_is_skipped() -> None:
    orders = _orders("getOrders_with_items.json", "getOrders")
    assert [o.external_id for o in orders] == ["113-5678901-2345678", "113-5678901-2345679"]
    mug = orders[0].lines[0]
    assert mug.unit_price == Money(amount=Decimal("19.99"), currency="USD")
    assert mug.discount_total == Money(amount=Decimal("4.00"), currency="USD")
    assert orders[0].taxes_included is False
    assert orders[1].cancelled_at is not None


def test_eu_order_includes_vat_and_reconciles() -> None:
    (order,) = _orders("getOrder_de_vat_included.json", "getOrder")
    assert order.taxes_included is True
    assert order.totals.total == Money(amount=Decimal("47.98"), currency="EUR")


def test_total_that_matches_neither_reading_is_refused() -> None:
    payload = load_payload((FIXTURES / "getOrder_de_vat_included.json").read_bytes())
    payload["payload"]["OrderTotal"]["Amount"] = "50.00"
    with pytest.raises(TranslationError) as caught:
        AmazonConnector.translate("getOrder", payload, CTX)
    assert caught.value.field == "payload.OrderTotal"


def test_items_missing_names_the_field() -> None:
    payload = load_payload((FIXTURES / "getOrders_with_items.json").read_bytes())
    del payload["payload"]["Orders"][0]["OrderItems"]
    with pytest.raises(TranslationError) as caught:
        AmazonConnector.translate("getOrders", payload, CTX)
    assert caught.value.field == "payload.Orders[0].OrderItems"


def test_order_change_names_the_order_to_refresh() -> None:
    note = load_payload((FIXTURES / "notification_order_change.json").read_bytes())
    assert orders_to_refresh(note) == ["113-5678901-2345678"]


def test_poll_attaches_items_and_uses_a_refreshed_lwa_token() -> None:
    config = {k: v for k, v in CONFIG.items() if k != "access_token"}
    connector = AmazonConnector(config, sleep=lambda _s: None)
    header = load_payload((FIXTURES / "getOrders_with_items.json").read_bytes())["payload"][
        "Orders"
    ][0]
    items = header.pop("OrderItems")
    with respx.mock() as mock:
        token = mock.post("https://api.amazon.com/auth/o2/token").mock(
            return_value=httpx.Response(
                200, json={"access_token": "Atza|fresh", "expires_in": 3600}
            )
        )
        mock.get(f"{API}/orders/v0/orders").mock(
            return_value=httpx.Response(200, json={"payload": {"Orders": [header]}})
        )
        item_route = mock.get(f"{API}/orders/v0/orders/113-5678901-2345678/orderItems").mock(
            return_value=httpx.Response(
                200,
                json={"payload": {"AmazonOrderId": "113-5678901-2345678", "OrderItems": items}},
            )
        )
        (order,) = list(connector.iter_orders(WINDOW))
    assert token.call_count == 1
    assert item_route.calls.last.request.headers["x-amz-access-token"] == "Atza|fresh"
    assert b"grant_type=refresh_token" in token.calls.last.request.content
    (envelope,) = AmazonConnector.translate("getOrder", {"payload": order}, CTX)
    assert envelope.payload.external_id == "113-5678901-2345678"  # type: ignore[union-attr]
