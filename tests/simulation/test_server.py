"""Our unmodified connectors, pointed at the simulation by ``api_base``, complete their calls; the
fault plan answers 429 with Retry-After, and the journal records every call."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from canonical.fulfillment import FulfillmentLine, FulfillmentRequest
from canonical.money import Money
from canonical.order import OrderRef
from connectors.base import load_payload
from connectors.errors import RetriableError
from connectors.pagination import TimeWindow
from connectors.registry import discover
from connectors.spec import TranslationContext
from simulation import generate
from simulation.journal import FaultPlan
from simulation.orders import DAY_START
from simulation.server import SimulationServer, World
from simulation.vendors import avalara as avalara_rates


def test_connectors_talk_to_the_simulated_vendors() -> None:
    scenario = generate(5, 120)
    product = scenario.catalogue.products[0]
    with SimulationServer(World.for_scenario(scenario)) as sim:
        shopify = discover()["shopify"]({
            "shop_domain": "demo-store.myshopify.com", "access_token": "shpat_sim",
            "webhook_secrets": ["s"], "api_base": f"{sim.url}/shopify",
        })  # fmt: skip
        level = shopify.set_inventory_level(str(product.shopify_inventory_item_id), "655441", 7)
        assert level["available"] == 7
        assert str(level["inventory_item_id"]) == str(product.shopify_inventory_item_id)

        amazon = discover()["amazon"]({
            "seller_id": "A2SIMSELLER", "marketplace_ids": ["ATVPDKIKX0DER"],
            "endpoint": "https://sellingpartnerapi-na.amazon.com", "client_id": "amzn1.sim",
            "client_secret": "s", "refresh_token": "Atzr|sim", "api_base": f"{sim.url}/amazon",
            "lwa_endpoint": f"{sim.url}/amazon",
        })  # fmt: skip
        window = TimeWindow(DAY_START, datetime(2026, 3, 3, tzinfo=UTC))
        orders = list(amazon.iter_orders(window))
        assert [o["AmazonOrderId"] for o in orders] == [
            o.spec.external_id for o in scenario.amazon_orders
        ]
        assert all(o["OrderItems"] for o in orders)
        journal = sim.world.journal
        assert len(journal.calls("amazon", "lwa.token")) == 1
        assert len(journal.calls("amazon", "getOrderItems")) == len(orders)
        assert journal.calls("shopify")[0].body["available"] == 7
        shopify.close()
        amazon.close()


def test_the_fault_plan_rate_limits_with_retry_after_and_the_journal_keeps_it() -> None:
    world = World(faults=FaultPlan(seed=1, rate_limited=1.0, slow=0.0, retry_after=0.5))
    with SimulationServer(world) as sim:
        response = httpx.post(
            f"{sim.url}/shopify/admin/api/2025-01/inventory_levels/set.json",
            json={"location_id": 1, "inventory_item_id": 2, "available": 3},
            headers={"X-Shopify-Access-Token": "shpat_sim"},
        )
        journal = httpx.get(f"{sim.url}/_simulation/journal").json()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0.5"
    assert "Exceeded" in response.json()["errors"]
    assert [(c["vendor"], c["operation"], c["status"]) for c in journal] == [
        ("shopify", "inventory_levels.set", 429)
    ]


def _connector(vendor: str, sim_url: str, **settings: object):
    return discover()[vendor]({**settings, "api_base": f"{sim_url}/{vendor}", "max_attempts": 2})


def _shopify_order(scenario):
    delivery = next(d for d in scenario.deliveries if d.topic == "orders/create")
    ctx = TranslationContext(tenant="demo", instance="shopify_us", received_at=datetime.now(UTC))
    (envelope,) = discover()["shopify"].translate("orders/create", load_payload(delivery.body), ctx)
    return envelope.payload, ctx


def test_payment_carrier_tax_and_3pl_connectors_complete_their_calls() -> None:
    scenario = generate(5, 60)
    order, ctx = _shopify_order(scenario)
    with SimulationServer(World.for_scenario(scenario)) as sim:
        stripe = _connector("stripe", sim.url, api_key="sk_test_sim", webhook_secrets=["w"])
        refund = stripe.refund("pi_3Sim1", Money.of("12.50", "USD"), idempotency_key="hub-key-1")
        assert refund == stripe.refund(
            "pi_3Sim1", Money.of("12.50", "USD"), idempotency_key="hub-key-1"
        )

        easypost = _connector("easypost", sim.url, api_key="EZTK_sim", webhook_secrets=["w"])
        created = httpx.post(f"{sim.url}/easypost/v2/shipments", json={"shipment": {
            "to_address": {"city": "Brooklyn"}, "parcel": {"weight": 10}}}).json()  # fmt: skip
        package = easypost.buy_label(created["id"], created["rates"][1]["id"])
        assert package.tracking_number.startswith("9400")

        avalara = _connector(
            "avalara", sim.url, account_id="2000134479", license_key="KEY", company_code="DEMO",
            ship_from={"line1": "5501 W Ogden Ave", "city": "Cicero", "region": "IL",
                       "postal_code": "60804", "country": "US"},
        )  # fmt: skip
        quote = avalara.quote(order, ctx)
        assert quote.event_type == "tax.quoted"
        rate = avalara_rates.RATES[order.shipping_address.region]
        expected = sum((line.net.amount * rate).quantize(Decimal("0.01")) for line in order.lines)
        assert quote.payload.total_tax.amount == expected + sum(
            ((s.price.amount) * rate).quantize(Decimal("0.01")) for s in order.shipping_lines
        )
        assert avalara.commit(order, ctx).event_type == "tax.committed"

        shipbob = _connector("shipbob", sim.url, access_token="pat", channel_id="1",
                             webhook_secrets=["whsec_c2VjcmV0LWtleS0xMjM0NTY3OA=="])  # fmt: skip
        request = FulfillmentRequest(
            tenant="demo", request_id="fr-1", order=OrderRef(channel="shopify_us",
            external_id=order.external_id), location="shipbob_6",
            lines=[FulfillmentLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity)
                   for line in order.lines],
            ship_to=order.shipping_address, requested_at=datetime.now(UTC),
        )  # fmt: skip
        shipbob_id = shipbob.create_fulfillment_order(request)
        stored = httpx.get(f"{sim.url}/shipbob/1.0/order/{shipbob_id}").json()
        assert stored["reference_id"] == "fr-1"  # one ShipBob order per request
        assert {"name": "hub_order_key", "value": order.key} in stored["tags"]
        for connector in (stripe, easypost, avalara, shipbob):
            connector.close()


def test_a_tax_engine_outage_is_an_error_never_a_guess() -> None:
    scenario = generate(5, 60)
    order, ctx = _shopify_order(scenario)
    world = World(faults=FaultPlan(rate_limited=0.0, slow=0.0, tax_failures=1.0))
    with SimulationServer(world) as sim:
        avalara = _connector(
            "avalara", sim.url, account_id="2000134479", license_key="KEY", company_code="DEMO",
            ship_from={"line1": "1 Main St", "city": "Cicero", "region": "IL",
                       "postal_code": "60804", "country": "US"},
        )  # fmt: skip
        with pytest.raises(RetriableError):
            avalara.quote(order, ctx)
        avalara.close()
    assert {c.status for c in world.journal.calls("avalara")} == {500}


def test_shopify_reconciliation_polls_pages_and_finds_what_the_ledger_missed() -> None:
    scenario = generate(9, 120)
    keys = scenario.facts.orders["shopify_us"]
    with SimulationServer(World.for_scenario(scenario, clock=lambda: 12 * 3600)) as sim:
        shopify = discover()["shopify"]({
            "shop_domain": "demo-store.myshopify.com", "access_token": "shpat_sim",
            "webhook_secrets": ["s"], "api_base": f"{sim.url}/shopify", "page_size": 7,
        })  # fmt: skip
        window = TimeWindow(DAY_START, datetime(2026, 3, 3, tzinfo=UTC))
        ctx = TranslationContext(
            tenant="demo", instance="shopify_us", received_at=datetime.now(UTC)
        )
        known = set(keys[: len(keys) // 2])
        report = shopify.reconcile(window, ctx, lambda key: DAY_START if key in known else None)
        pages = len(sim.world.journal.calls("shopify", "orders.list"))
        shopify.close()
    placed_by_noon = {
        f"shopify_us:{body['id']}"
        for at, body in World.for_scenario(scenario).shopify_orders
        if at <= 12 * 3600
    }
    assert report.checked == len(placed_by_noon) > 7
    assert set(report.missing) == placed_by_noon - known
    assert set(report.stale) == placed_by_noon & known  # the ledger's copies are older
    assert pages == -(-len(placed_by_noon) // 7)
