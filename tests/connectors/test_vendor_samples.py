"""Public vendor sample payloads (../shared/fixtures/vendor-samples) through the connectors.

The folder exists on the project's build machines only, so this test skips without it; the
connectors' own fixtures (tests/connectors/<name>/fixtures) cover the same shapes everywhere.

Every sample of a kind the built-in connectors accept must translate; the table says which event
each file is, and why the others are not translated. One sample's totals contradict its own lines
(``CONTRADICTORY``): it translates with the totals its lines imply and Shopify's own figures kept as
``reported_totals``, which the router's totals rule holds for a person.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from canonical import Order
from connectors.base import load_payload
from connectors.registry import get_connector
from connectors.spec import TranslationContext
from connectors.testing.checks import validate_envelope

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "vendor-samples"
CTX = TranslationContext(
    tenant="acme", instance="samples", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)

#: file -> (connector, vendor event)
ACCEPTED: dict[str, tuple[str, str]] = {
    "shopify/webhook_orders_create.json": ("shopify", "orders/create"),
    "shopify/webhook_orders_updated.json": ("shopify", "orders/updated"),
    "shopify/webhook_refunds_create.json": ("shopify", "refunds/create"),
    "shopify/webhook_fulfillments_create.json": ("shopify", "fulfillments/create"),
    "shopify/rest_admin_fulfillment.json": ("shopify", "fulfillments/create"),
    "stripe/event_payment_intent_succeeded.json": ("stripe", "payment_intent.succeeded"),
    "stripe/event_payment_intent_payment_failed.json": ("stripe", "payment_intent.payment_failed"),
    "easypost/webhook_event_tracker_updated.json": ("easypost", "tracker.updated"),
    "easypost/webhook_event_tracker_updated__raw_signed_body.json": ("easypost", "tracker.updated"),
    "woocommerce/rest_v3_order_retrieve.json": ("woocommerce", "order.updated"),
    "amazon_sp_api/orders_v0_getOrders_example.json": ("amazon", "getOrders"),
    "amazon_sp_api/orders_v0_getOrder_example.json": ("amazon", "getOrder"),
    "amazon_sp_api/notification_ORDER_CHANGE.json": ("amazon", "ORDER_CHANGE"),
    "amazon_sp_api/orders_v0_getOrderItems_example.json": ("amazon", "getOrderItems"),
    "avalara/createTransaction_response_SalesInvoice_committed.json": (
        "avalara",
        "CreateTransaction",
    ),
    # shopify_python_api's 2008 fixture: three 199.00 lines but total_line_items_price 398.00
    "shopify/rest_admin_order.json": ("shopify", "orders/updated"),
}

#: samples whose vendor totals contradict their lines: kept as reported_totals
CONTRADICTORY = {"shopify/rest_admin_order.json"}

#: accepted samples that rightly translate to no envelope, and why
EMPTY: dict[str, str] = {
    "amazon_sp_api/orders_v0_getOrders_example.json": "its only order is Pending (not yet paid)",
    "amazon_sp_api/orders_v0_getOrder_example.json": "a Pending order (not yet paid)",
    "amazon_sp_api/notification_ORDER_CHANGE.json": "a trigger to re-read the order, no snapshot",
    "amazon_sp_api/orders_v0_getOrderItems_example.json": (
        "items without their order header (fetch_order attaches them); its JPY amounts with cents "
        "would be refused by the order translation"
    ),
}

#: file -> why no connector translates it
NOT_ACCEPTED: dict[str, str] = {
    "shopify/rest_admin_inventory_level.json": "inventory levels are outbound only for Shopify",
    "shopify/webhook_inventory_levels_update.json": "inventory_levels/update is not subscribed",
    "shopify/rest_admin_transaction.json": "transactions are read through refunds/create",
    "stripe/event_charge_succeeded.json": "payment_intent.succeeded carries the capture",
    "stripe/stripe_mock_fixture_event.json": "a plan.created event",
    "stripe/stripe_mock_fixture_charge.json": "a bare, unrefunded charge, no event",
    "stripe/stripe_mock_fixture_payment_intent.json": "a bare intent, no event",
    "stripe/stripe_mock_fixture_refund.json": "a bare refund; refunds arrive in charge.refunded",
    "easypost/event_retrieve.json": "GET /events/:id omits the result the webhook carries",
    "easypost/shipment_buy.json": "a label purchase response (read by EasyPostConnector.buy_label)",
    "woocommerce/rest_v3_order_refund_retrieve.json": (
        "a refund resource alone names neither its currency nor what was restocked: the refunds "
        "event pairs it with its order (WooCommerceConnector.fetch_refunds), and order 723 is "
        "not among the samples"
    ),
    "amazon_sp_api/orders_2026-01-01_getOrder_example.json": "Orders API 2026-01-01 is not read yet",
    "amazon_sp_api/notification_FULFILLMENT_ORDER_STATUS.json": "FBA outbound is not supported yet",
    "amazon_sp_api/notification_ITEM_INVENTORY_EVENT_CHANGE.json": "FBA inventory is not read yet",
    "avalara/voidTransaction_response.json": "a voided document; the canonical model has no tax void",
}

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="vendor-samples folder is absent")


def _connector_names() -> set[str]:
    return {connector for connector, _ in ACCEPTED.values()}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_sample_translates(name: str) -> None:
    connector, event = ACCEPTED[name]
    envelopes = get_connector(connector).translate(
        event, load_payload((SAMPLES / name).read_bytes()), CTX
    )
    assert bool(envelopes) is (name not in EMPTY)
    for envelope in envelopes:
        validate_envelope(envelope)


@pytest.mark.parametrize("name", sorted(CONTRADICTORY))
def test_contradictory_totals_are_kept_as_reported(name: str) -> None:
    connector, event = ACCEPTED[name]
    [envelope] = get_connector(connector).translate(
        event, load_payload((SAMPLES / name).read_bytes()), CTX
    )
    order = envelope.payload
    assert isinstance(order, Order)
    assert order.reported_totals is not None
    assert order.reported_totals != order.totals


def test_every_sample_of_a_built_in_connector_is_classified() -> None:
    folders = {Path(name).parts[0] for name in ACCEPTED}
    present = {
        str(path.relative_to(SAMPLES))
        for folder in folders
        for path in (SAMPLES / folder).glob("*.json")
    }
    unclassified = present - set(ACCEPTED) - set(NOT_ACCEPTED)
    assert not unclassified, f"classify these samples: {sorted(unclassified)}"


def test_easypost_published_test_vector_verifies() -> None:
    body = (
        SAMPLES / "easypost" / "webhook_event_tracker_updated__raw_signed_body.json"
    ).read_bytes()
    connector = get_connector("easypost")({"api_key": "EZTKx", "webhook_secrets": ["s\u00e9cret"]})
    connector.verify_webhook(
        {
            "X-Hmac-Signature": "hmac-sha256-hex="
            "38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"
        },
        body,
    )


def test_woocommerce_refund_sample_translates_with_its_order() -> None:
    """The published refund resource, paired as fetch_refunds pairs it with (a stub of) order 723."""
    refund = load_payload(
        (SAMPLES / "woocommerce" / "rest_v3_order_refund_retrieve.json").read_bytes()
    )
    order = {"id": 723, "currency": "USD", "payment_method": "bacs", "line_items": []}
    envelopes = get_connector("woocommerce").translate(
        "refunds", {"order": order, "refunds": [refund]}, CTX
    )
    assert [e.event_type for e in envelopes] == ["payment.refunded"]  # no lines refunded
    assert str(envelopes[0].payload.amount.amount) == "10.00"  # type: ignore[union-attr]
    for envelope in envelopes:
        validate_envelope(envelope)
