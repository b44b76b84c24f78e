"""Our unmodified connectors, pointed at the simulation by ``api_base``, complete their calls; the
fault plan answers 429 with Retry-After, and the journal records every call."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connectors.pagination import TimeWindow
from connectors.registry import discover
from simulation import generate
from simulation.journal import FaultPlan
from simulation.orders import DAY_START
from simulation.server import SimulationServer, World


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
