"""WooCommerce through the conformance kit, plus its field mappings."""

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
from connectors.base import load_payload
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
from connectors.woocommerce import WooCommerceConnector

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://shop.example.com/wp-json/wc/v3"
CONFIG: dict[str, Any] = {
    "store_url": "https://shop.example.com",
    "consumer_key": "ck_0123456789abcdef0123456789abcdef01234567",
    "consumer_secret": "cs_0123456789abcdef0123456789abcdef01234567",
    "webhook_secrets": ["woo&amp;secret-new", "woo-secret-old"],
    "max_attempts": 3,
}
CTX = TranslationContext(
    tenant="acme", instance="woo_de", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)
WINDOW = TimeWindow(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


def _sample(name: str, event: str = "order.updated") -> Sample:
    return Sample.from_file(event, FIXTURES / name)


def _page(orders: list[Any], next_page: str | None) -> httpx.Response:
    headers = {"X-WP-Total": "3", "X-WP-TotalPages": "2"}
    if next_page:
        headers["Link"] = f'<{API}/orders?per_page=2&page={next_page}>; rel="next"'
    return httpx.Response(200, json=orders, headers=headers)


class TestWooCommerceConformance(ConnectorConformance):
    connector = WooCommerceConnector
    valid_config = CONFIG
    invalid_configs = [
        {**CONFIG, "store_url": "http://shop.example.com"},
        {**CONFIG, "webhook_secrets": []},
    ]
    samples = samples_from(
        FIXTURES,
        {
            "order_created.json": "order.created",
            "order_updated_paid.json": "order.updated",
            "order_cancelled.json": "order.updated",
            "order_updated_partial_refund.json": "order.updated",
            "orders_page.json": "orders",
            "refunds_restocked.json": "refunds",
            "refunds_not_restocked.json": "refunds",
        },
    )
    outbound = [
        OutboundCase(
            name="products.update_stock",
            method="PUT",
            url=f"{API}/products/4711",
            call=lambda c: c.set_stock("4711", 12),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(200, json={"id": 4711, "stock_quantity": 12}),
        )
    ]
    availability = AvailabilityCase(
        sku="MUG-BLUE-L",
        available=12,
        external_ids={"product_id": "4711", "variant_id": "4712"},
        method="PUT",
        url=f"{API}/products/4711/variations/4712",
        body={"manage_stock": True, "stock_quantity": 12},
        ok=lambda: httpx.Response(
            200,
            json={
                "id": 4712,
                "sku": "MUG-BLUE-L",
                "manage_stock": True,
                "stock_quantity": 12,
                "stock_status": "instock",
                "backorders": "no",
            },
        ),
    )
    pagination = PaginationCase(
        method="GET",
        url=f"{API}/orders",
        call=lambda c: c.iter_orders(WINDOW),  # type: ignore[attr-defined]
        pages=lambda: [_page([{"id": 1}, {"id": 2}], "2"), _page([{"id": 3}], None)],
        looping_pages=lambda: [_page([{"id": 1}], "2"), _page([{"id": 2}], "2")],
        expected_items=3,
    )
    behaviours = {
        "paid_before_created": (
            _sample("order_updated_paid.json"),
            _sample("order_created.json", "order.created"),
        ),
        "cancellation_after_invoice": (_sample("order_cancelled.json"),),
        "ids_above_2_53": (_sample("order_created.json", "order.created"),),
        "deleted_product": (_sample("order_created.json", "order.created"),),
        "partial_refund_with_restock": (_sample("refunds_restocked.json", "refunds"),),
        "partial_refund_without_restock": (_sample("refunds_not_restocked.json", "refunds"),),
    }
    behaviour_expectations = {"ids_above_2_53": "9007199254740993"}
    waivers = {
        "partial_fulfilment": "WooCommerce core has no shipments; a 3PL or carrier reports them",
        "shop_vs_presentment_currency": "WooCommerce core sells each order in one currency",
    }

    def change(self, sample: Sample, payload: Any) -> Any:
        if sample.event == "refunds":  # a further refund: new resources, new ids
            for refund in payload["refunds"]:
                refund["id"] += 100
            return payload
        orders = payload if isinstance(payload, list) else [payload]
        for order in orders:
            order["date_modified_gmt"] = "2026-03-06T08:00:00"
        return payload


def order_of(name: str) -> Order:
    envelope = WooCommerceConnector.translate(
        "order.updated", load_payload((FIXTURES / name).read_bytes()), CTX
    )[0]
    assert isinstance(envelope.payload, Order)
    return envelope.payload


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def test_lines_coupons_fees_and_rounded_taxes() -> None:
    order = order_of("order_created.json")
    mug, poster, fee = order.lines
    assert (mug.unit_price, mug.quantity, mug.discount_total) == (eur("12.00"), 3, eur("3.60"))
    assert [(t.title, t.rate, t.amount) for t in mug.tax_lines] == [
        ("MwSt.", Decimal("0.19"), eur("6.16"))
    ]
    assert (poster.sku, poster.product_id) == (None, None)
    assert (fee.line_id, fee.requires_shipping, fee.unit_price) == ("fee-8814", False, eur("2.50"))
    assert order.totals.total == eur("68.79")
    assert order.taxes_included is False


def test_times_are_the_gmt_fields() -> None:
    order = order_of("order_created.json")
    assert order.placed_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def test_refund_listed_on_the_order_becomes_a_payment_refunded() -> None:
    envelopes = WooCommerceConnector.translate(
        "order.updated",
        load_payload((FIXTURES / "order_updated_partial_refund.json").read_bytes()),
        CTX,
    )
    refund = envelopes[1].payload
    assert envelopes[1].event_type == "payment.refunded"
    assert refund.amount == eur("21.42")  # type: ignore[union-attr]
    assert refund.transaction_id == "10801"  # type: ignore[union-attr]


def test_a_total_that_does_not_reconcile_is_kept_as_reported() -> None:
    payload = load_payload((FIXTURES / "order_created.json").read_bytes())
    [consistent] = WooCommerceConnector.translate("order.created", payload, CTX)
    assert isinstance(consistent.payload, Order)
    assert consistent.payload.reported_totals is None
    payload["total"] = "68.80"
    [envelope] = WooCommerceConnector.translate("order.created", payload, CTX)
    order = envelope.payload
    assert isinstance(order, Order)
    assert order.totals == consistent.payload.totals
    assert order.reported_totals is not None
    assert str(order.reported_totals.total.amount) == "68.80"


def test_uneven_subtotal_names_the_field() -> None:
    payload = load_payload((FIXTURES / "order_created.json").read_bytes())
    payload["line_items"][0]["subtotal"] = "36.01"
    with pytest.raises(TranslationError) as caught:
        WooCommerceConnector.translate("order.created", payload, CTX)
    assert caught.value.field == "line_items[0].subtotal"


def test_ping_is_recognised_and_stock_body_is_exact() -> None:
    assert WooCommerceConnector.is_ping({"X-WC-Webhook-ID": "12"}, b"webhook_id=12")
    assert not WooCommerceConnector.is_ping({"X-WC-Webhook-Signature": "x"}, b"webhook_id=12")
    connector = WooCommerceConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        route = mock.put(f"{API}/products/4711/variations/4712").mock(
            return_value=httpx.Response(200, json={"id": 4712})
        )
        connector.set_stock("4711", -3, variation_id="4712")
    assert route.calls.last.request.content == b'{"manage_stock":true,"stock_quantity":0}'
    assert route.calls.last.request.headers["Authorization"].startswith("Basic ")
