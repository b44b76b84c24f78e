"""The scenario is deterministic, realistic enough to matter, and speaks formats our connectors read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.base import load_payload
from connectors.registry import discover
from connectors.spec import TranslationContext
from simulation import generate
from simulation.scenario import DAY, FLASH_START
from simulation.sender import vendor_headers
from simulation.vendors import amazon

RECEIVED = datetime(2026, 3, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def scenario():
    return generate(7, 300)


def _ctx(instance: str) -> TranslationContext:
    return TranslationContext(tenant="demo", instance=instance, received_at=RECEIVED)


def test_a_seed_gives_the_same_day_byte_for_byte(scenario) -> None:
    again = generate(7, 300)
    assert [(d.at, d.topic, d.body, d.delivery_id) for d in again.deliveries] == [
        (d.at, d.topic, d.body, d.delivery_id) for d in scenario.deliveries
    ]
    assert again.catalogue == scenario.catalogue
    other = generate(8, 300)
    assert [d.body for d in other.deliveries] != [d.body for d in scenario.deliveries]


def test_the_day_has_the_promised_order_count_and_shape(scenario) -> None:
    facts = scenario.facts
    assert facts.orders_total == 300
    assert all(len(keys) > 0 for keys in facts.orders.values())
    assert len(scenario.amazon_orders) == len(facts.orders["amazon_us"])
    assert all(0 <= d.at < DAY for d in scenario.deliveries)
    assert [d.at for d in scenario.deliveries] == sorted(d.at for d in scenario.deliveries)
    kinds = {d.kind for d in scenario.deliveries}
    assert {"normal", "duplicate", "forged", "early", "late"} <= kinds
    assert facts.price_mismatch
    assert facts.high_value
    assert facts.unknown_sku
    assert facts.cancelled
    assert facts.shipped


def test_flash_sale_demand_outruns_its_stock_on_every_channel(scenario) -> None:
    flash = scenario.catalogue.flash
    spike = [d for d in scenario.deliveries if FLASH_START <= d.at < FLASH_START + 1800]
    assert len(spike) > len(scenario.deliveries) / 10
    for product in flash:
        demand = scenario.facts.flash_demand[product.sku]
        assert sum(demand.values()) > scenario.catalogue.total_stock(product.sku)
        assert set(demand) == {"shopify_us", "woo_us", "amazon_us"}


def test_every_delivery_translates_with_our_connectors(scenario) -> None:
    registry = discover()
    produced = 0
    for delivery in scenario.deliveries:
        connector = registry[delivery.vendor]
        payload = load_payload(delivery.body)
        headers = vendor_headers(delivery, "whsec_c2VjcmV0LWtleS0xMjM0NTY3OA==")
        assert connector.webhook_event(headers, payload) == delivery.topic
        produced += len(connector.translate(delivery.topic, payload, _ctx(delivery.instance)))
    assert produced >= len(scenario.deliveries)


def test_every_amazon_order_translates_with_its_items(scenario) -> None:
    asins = {p.sku: p.asin for p in scenario.catalogue.products}
    for order in scenario.amazon_orders:
        moment, status = order.versions[-1]
        raw = {**amazon.order_header(order.spec, status=status, updated=moment),
               "OrderItems": amazon.order_items(order.spec, asins)}  # fmt: skip
        (envelope,) = discover()["amazon"].translate(
            "getOrder", load_payload(json.dumps(raw)), _ctx("amazon_us")
        )
        assert envelope.payload.totals.total.amount == order.spec.total


def test_a_scenario_needs_orders() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        generate(1, 3)


@pytest.mark.parametrize("seed", range(40))
def test_every_product_has_its_own_id_on_every_channel(seed: int) -> None:
    products = generate(seed, 10).catalogue.products
    for ids in (
        [p.woo_product_id for p in products],
        [p.shopify_variant_id for p in products],
        [p.shopify_inventory_item_id for p in products],
        [p.asin for p in products],
    ):
        assert len(set(ids)) == len(products)
