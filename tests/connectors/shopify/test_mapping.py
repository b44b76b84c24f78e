"""Shopify field mappings: money, currencies, discounts, taxes, ids, states, refunds, shipments."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canonical.fulfillment import Shipment
from canonical.money import Money
from canonical.order import Order, PaymentStatus
from canonical.payment import PaymentEvent
from canonical.returns import ReturnRequest
from connectors.base import load_payload
from connectors.errors import TranslationError
from connectors.shopify import ShopifyConnector
from connectors.spec import TranslationContext

FIXTURES = Path(__file__).parent / "fixtures"
CTX = TranslationContext(
    tenant="acme",
    instance="shopify_us",
    received_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    locations={"65432109876": "wh_east"},
)


def load(name: str) -> Any:
    return load_payload((FIXTURES / name).read_bytes())


def order_of(payload: Any, event: str = "orders/create") -> Order:
    (envelope,) = ShopifyConnector.translate(event, payload, CTX)
    assert isinstance(envelope.payload, Order)
    return envelope.payload


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def test_order_money_is_shop_currency_with_presentment_kept() -> None:
    order = order_of(load("orders_create.json"))
    assert order.currency == "USD"
    assert order.totals.total == usd("64.80")
    assert order.totals.items_subtotal == usd("62.50")
    assert order.totals.discount_total == usd("5.00")
    assert order.totals.tax_total == usd("2.30")
    assert order.totals.shipping_total == usd("5.00")
    assert order.presentment is not None
    assert order.presentment.total == Money(amount=Decimal("88.13"), currency="CAD")


def test_discount_allocations_and_tax_lines_stay_on_their_lines() -> None:
    first, second = order_of(load("orders_create.json")).lines
    assert [d.amount for d in first.discounts] == [usd("5.00")]
    assert [(t.title, t.rate, t.amount) for t in first.tax_lines] == [
        ("NY State Tax", Decimal("0.04"), usd("1.80"))
    ]
    assert second.discounts == []
    assert second.tax_total == usd("0.50")


def test_ids_above_2_53_are_exact_strings() -> None:
    order = order_of(load("orders_create.json"))
    assert order.external_id == "5829371929123456789"
    assert order.lines[0].line_id == "13572468013579246801"
    assert order.lines[0].product_id == "7482910384756102938"
    assert order.customer is not None
    assert order.customer.external_id == "7390238475610293847"


def test_deleted_product_line_has_no_sku_or_product() -> None:
    line = order_of(load("orders_create.json")).lines[1]
    assert (line.sku, line.product_id, line.variant_id) == (None, None, None)
    assert line.title == "Discontinued mug"


def test_event_type_follows_the_snapshot_not_the_topic() -> None:
    created = ShopifyConnector.translate("orders/updated", load("orders_create.json"), CTX)
    assert created[0].event_type == "order.created"
    paid = ShopifyConnector.translate("orders/updated", load("orders_updated_paid.json"), CTX)
    assert paid[0].event_type == "order.updated"
    assert paid[0].payload.payment_status is PaymentStatus.PAID  # type: ignore[union-attr]
    cancelled = ShopifyConnector.translate("orders/updated", load("orders_cancelled.json"), CTX)
    assert cancelled[0].event_type == "order.cancelled"
    assert cancelled[0].payload.cancel_reason == "customer"  # type: ignore[union-attr]


def test_webhook_and_reconciliation_poll_derive_the_same_key() -> None:
    webhook = ShopifyConnector.translate("orders/create", load("orders_create.json"), CTX)
    polled = ShopifyConnector.translate("orders", load("orders_page.json"), CTX)
    assert webhook[0].idempotency_key == polled[0].idempotency_key
    assert webhook[0].idempotency_key != polled[1].idempotency_key


def test_same_instant_in_another_offset_is_the_same_version() -> None:
    payload = load("orders_create.json")
    shifted = copy.deepcopy(payload)
    shifted["updated_at"] = "2026-03-02T14:15:00Z"
    shifted["created_at"] = "2026-03-02T14:15:00Z"
    assert (
        ShopifyConnector.translate("orders/create", payload, CTX)[0].idempotency_key
        == ShopifyConnector.translate("orders/create", shifted, CTX)[0].idempotency_key
    )


def test_wrapped_rest_order_and_test_flag() -> None:
    wrapped = load("rest_order_test_wrapped.json")
    assert set(wrapped) == {"order"}
    order = order_of(wrapped)
    assert order.is_test is True
    assert order.presentment is None  # presentment currency equals shop currency


def test_order_level_discount_without_allocations_is_spread_over_lines() -> None:
    payload = load("orders_create.json")
    payload["line_items"][0]["discount_allocations"] = []
    order = order_of(payload)
    # 5.00 spread by net value 50.00 : 12.50 -> 4.00 and 1.00
    assert [line.discount_total for line in order.lines] == [usd("4.00"), usd("1.00")]
    assert order.totals.total == usd("64.80")


def test_totals_that_contradict_the_lines_are_kept_as_reported_not_trusted_or_refused() -> None:
    consistent = order_of(load("orders_create.json"))
    assert consistent.reported_totals is None
    payload = load("orders_create.json")
    payload["total_price_set"]["shop_money"]["amount"] = "65.80"
    payload["total_line_items_price_set"]["shop_money"]["amount"] = "60.00"
    order = order_of(payload)
    assert order.totals == consistent.totals  # what the lines imply
    assert order.reported_totals is not None
    assert str(order.reported_totals.total.amount) == "65.80"
    assert str(order.reported_totals.items_subtotal.amount) == "60.00"
    assert order.reported_totals.tax_total == consistent.totals.tax_total


def test_bad_amount_names_the_vendor_field() -> None:
    payload = load("orders_create.json")
    payload["line_items"][1]["price_set"]["shop_money"]["amount"] = "12.505"
    with pytest.raises(TranslationError) as caught:
        order_of(payload)
    assert caught.value.field == "line_items[1].price_set.shop_money.amount"
    assert "line_items[1].price_set.shop_money.amount" in str(caught.value)


def test_missing_id_names_the_field() -> None:
    payload = load("orders_create.json")
    del payload["id"]
    with pytest.raises(TranslationError, match="'id'"):
        order_of(payload)


def test_refund_with_restock() -> None:
    envelopes = ShopifyConnector.translate(
        "refunds/create", load("refunds_create_restock.json"), CTX
    )
    returned = next(e.payload for e in envelopes if isinstance(e.payload, ReturnRequest))
    payment = next(e.payload for e in envelopes if isinstance(e.payload, PaymentEvent))
    assert returned.location == "wh_east"
    assert [(line.line_id, line.quantity, line.restock) for line in returned.lines] == [
        ("13572468013579246801", 1, True)
    ]
    assert returned.lines[0].refund_amount == usd("22.50")
    assert payment.amount == Money(amount=Decimal("31.82"), currency="CAD")
    assert payment.transaction_id == "8192837465019283746"
    assert payment.order is not None
    assert payment.order.external_id == "5829371929123456789"


def test_refund_without_restock_and_without_sku() -> None:
    envelopes = ShopifyConnector.translate(
        "refunds/create", load("refunds_create_no_restock.json"), CTX
    )
    returned = next(e.payload for e in envelopes if isinstance(e.payload, ReturnRequest))
    assert returned.lines[0].restock is False
    assert returned.lines[0].sku is None


def test_fulfillment_becomes_a_shipment_at_the_mapped_location() -> None:
    (envelope,) = ShopifyConnector.translate(
        "fulfillments/create", load("fulfillments_create_1.json"), CTX
    )
    shipment = envelope.payload
    assert isinstance(shipment, Shipment)
    assert shipment.location == "wh_east"
    assert shipment.tracking_numbers == ["1Z999AA10123456784"]
    assert [(line.sku, line.quantity) for line in shipment.lines] == [("TSHIRT-RED-M", 1)]


def test_unmapped_location_gets_a_connector_slug() -> None:
    ctx = TranslationContext(tenant="acme", instance="shopify_us", received_at=CTX.received_at)
    (envelope,) = ShopifyConnector.translate(
        "fulfillments/create", load("fulfillments_create_1.json"), ctx
    )
    assert envelope.payload.location == "shopify_65432109876"  # type: ignore[union-attr]


def test_unknown_event_is_a_typed_error() -> None:
    from connectors.errors import UnknownEventError

    with pytest.raises(UnknownEventError, match="orders/create"):
        ShopifyConnector.translate("orders/paid_in_full", {}, CTX)
