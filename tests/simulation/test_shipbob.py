"""The ShipBob simulator keeps ``reference_id`` unique as ShipBob does, and its shipment webhooks
carry the ``reference_id`` and ``tags`` of the ShipBob order the hub created, so ``hub demo``
exercises the connector's inbound mapping of both."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from canonical.fulfillment import FulfillmentLine, FulfillmentRequest, Shipment
from canonical.party import Address
from connectors.errors import RequestRejected
from connectors.registry import discover
from connectors.spec import TranslationContext
from simulation import generate
from simulation.scenario import Delivery
from simulation.sender import WebhookSender
from simulation.server import SimulationServer, World
from simulation.vendors import shipbob as shipbob_vendor

SECRET = "whsec_c2VjcmV0LWtleS0xMjM0NTY3OA=="
CTX = TranslationContext(
    tenant="demo", instance="shipbob", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    locations={"6": "shipbob_6"},
)  # fmt: skip


def _connector(url: str):
    return discover()["shipbob"]({
        "access_token": "pat", "channel_id": "1", "webhook_secrets": [SECRET],
        "api_base": f"{url}/shipbob", "max_attempts": 1,
    })  # fmt: skip


def _request(key: str, request_id: str) -> FulfillmentRequest:
    channel, _, external = key.partition(":")
    return FulfillmentRequest(
        tenant="demo", request_id=request_id,
        order={"channel": channel, "external_id": external}, location="shipbob_6",
        lines=[FulfillmentLine(line_id="1", sku="SKU-1", quantity=1)],
        ship_to=Address(name="Jane Doe", line1="1 Main St", city="Albany", country="US"),
        requested_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )  # fmt: skip


def _shipment_delivery(scenario) -> Delivery:
    return next(
        d for d in scenario.deliveries if d.vendor == "shipbob" and d.topic == "order_shipped"
    )


def test_a_duplicate_reference_is_refused_with_a_422_and_a_create_is_idempotent() -> None:
    world = World()
    with SimulationServer(world) as sim:
        body = {
            "reference_id": "release/shipbob_6/20260302-w1/shopify_us:1",
            "shipping_method": "Standard",
            "type": "DTC",
            "products": [],
            "tags": [],
        }
        assert httpx.post(f"{sim.url}/shipbob/1.0/order", json=body).status_code == 201
        again = httpx.post(f"{sim.url}/shipbob/1.0/order", json=body)
        assert again.status_code == 422
        assert "ReferenceId" in again.json()["errors"]
        too_long = httpx.post(f"{sim.url}/shipbob/1.0/order",
                              json={**body, "reference_id": "x" * 301})  # fmt: skip
        assert too_long.status_code == 400

        shipbob = _connector(sim.url)
        first = _request("shopify_us:2", "release/shipbob_6/20260302-w1/shopify_us:2")
        remainder = _request("shopify_us:2", "release/shipbob_6/20260302-w3/shopify_us:2")
        created = shipbob.request_fulfillment(first)
        assert shipbob.request_fulfillment(first) == created  # the relay's retry: same order
        assert shipbob.request_fulfillment(remainder) != created  # the remainder: its own
        shipbob.close()
    orders = list(world.remember("shipbob").values())
    assert [o["reference_id"] for o in orders] == [
        body["reference_id"],
        first.request_id,
        remainder.request_id,
    ]


def test_a_reference_of_another_order_is_refused() -> None:
    world = World()
    with SimulationServer(world) as sim:
        httpx.post(f"{sim.url}/shipbob/1.0/order", json={
            "reference_id": "fr-9", "products": [], "tags": []})  # fmt: skip
        shipbob = _connector(sim.url)
        with pytest.raises(RequestRejected, match="taken by ShipBob order") as refused:
            shipbob.request_fulfillment(_request("shopify_us:3", "fr-9"))
        shipbob.close()
    assert refused.value.status_code == 422
    assert len(world.remember("shipbob")) == 1


def test_a_shipment_webhook_carries_the_reference_and_tags_of_the_order_the_hub_created() -> None:
    scenario = generate(3, 60)
    delivery = _shipment_delivery(scenario)
    key = delivery.order_key
    assert key is not None
    world = World.for_scenario(scenario)
    assert world.as_sent(delivery) is delivery  # not released to ShipBob: as the scenario wrote it
    with SimulationServer(world) as sim:
        shipbob = _connector(sim.url)
        request_id = f"release/shipbob_6/20260302-w1/{key}"
        order_id = shipbob.request_fulfillment(_request(key, request_id))
        shipbob.close()
    sent = world.as_sent(delivery)
    body = json.loads(sent.body)
    assert body["reference_id"] == request_id
    assert str(body["order_id"]) == order_id
    assert {"name": "hub_order_key", "value": key} in body["tags"]
    assert {"name": "hub_request_id", "value": request_id} in body["tags"]
    (envelope,) = discover()["shipbob"].translate("order_shipped", body, CTX)
    assert isinstance(envelope.payload, Shipment)
    assert envelope.payload.order.key == key
    assert envelope.payload.request_id == request_id

    # a cancelled order is not the one shipped; the old order-key reference still maps
    for order in world.remember("shipbob").values():
        order["status"] = "Cancelled"
    old = json.loads(world.as_sent(delivery).body)
    assert old["reference_id"] == key
    (envelope,) = discover()["shipbob"].translate("order_shipped", old, CTX)
    assert envelope.payload.order.key == key


def test_the_sender_sends_the_webhook_as_the_vendor_knows_it_at_each_attempt() -> None:
    scenario = generate(3, 60)
    delivery = _shipment_delivery(scenario)
    orders = [{"id": 7, "reference_id": "fr-7", "status": "Processing",
               "tags": [{"name": "hub_order_key", "value": delivery.order_key}]}]  # fmt: skip
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "m1"})

    def as_sent(d: Delivery) -> Delivery:
        body = shipbob_vendor.shipped_from(json.loads(d.body), orders)
        return replace(d, body=json.dumps(body).encode())

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(hub))
        sender = WebhookSender("http://hub", "demo", {"shipbob": SECRET}, client=client,
                               as_sent=as_sent)  # fmt: skip
        await sender.send(delivery)
        await sender.aclose()

    asyncio.run(run())
    (request,) = seen
    assert json.loads(request.content)["reference_id"] == "fr-7"
    verifier = _connector("http://127.0.0.1:9")
    verifier.verify_webhook(dict(request.headers), request.content)  # signed as sent
    verifier.close()
