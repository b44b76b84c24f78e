"""End to end: an order in through `hub run`, released by `hub release run`, out to ShipBob.

Pass criteria: the order allocates at the 3PL node; `hub release run` releases it; the outbox relay
hands the released order to the ShipBob instance serving that node as ShipBob's documented
`POST /1.0/order` (reference_id = the release's request id, the SKUs and quantities reserved there,
the buyer's address, the request id and order key as tags); running the same wave again sends
nothing more; a node without a `from: ledger` route to it is never called. The same for an own
warehouse served by EasyPost (one label bought), and a cancellation after the release reaching
ShipBob (or, once shipped, an outbound dead letter).
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.config.model import Deployment
from hub.runtime import open_runtime
from tests.support import acme_tenant, paid_order, receipt, serving, shopify_webhook_headers

SECRET = "shopify-app-secret"
ENV = {
    "SHOPIFY_TOKEN": "shpat_test",
    "SHOPIFY_SECRET": SECRET,
    "SHIPBOB_TOKEN": "shipbob-pat",
    "SHIPBOB_HOOK": "whsec_" + base64.b64encode(b"shipbob-webhook-key").decode(),
}
ORDER_URL = "https://api.shipbob.com/1.0/order"


def _deployment_document() -> dict[str, Any]:
    tenant = acme_tenant()
    tenant["locations"] = {
        "shipbob_chi": {"kind": "3pl", "priority": 1},
        "shipbob_ny": {"kind": "3pl", "priority": 2},
    }
    shipbob = {
        "type": "shipbob",
        "settings": {"channel_id": "100102"},
        "secrets": {"access_token": "env:SHIPBOB_TOKEN", "webhook_secrets": ["env:SHIPBOB_HOOK"]},
    }
    tenant["connectors"]["shipbob_chi"] = {**shipbob, "location": "shipbob_chi"}
    tenant["connectors"]["shipbob_ny"] = {**shipbob, "location": "shipbob_ny"}
    tenant["routes"].append(
        {"from": "ledger", "events": ["fulfillment.requested"], "to": ["shipbob_chi"]}
    )
    return {"tenants": {"acme": tenant}}


async def _node_reference(runtime: Any, request_id: str) -> str | None:
    """The node's reference the relay stored with the request (it lands just after the call)."""
    for _ in range(100):
        rows = runtime.ledger._read(  # under the ledger's lock: the relay writes meanwhile
            "SELECT node_reference FROM fulfilment_requests WHERE tenant = ? AND request_id = ?",
            ("acme", request_id),
        )
        if rows and rows[0][0] is not None:
            return str(rows[0][0])
        await asyncio.sleep(0.05)
    return None


def _noted(runtime: Any, key: str) -> list[str]:
    view = runtime.ledger.order(key, tenant="acme")
    assert view is not None
    return [e["detail"] for e in view["timeline"] if e["event"] == "fulfillment.node_reference"]


def _signed(body: bytes) -> dict[str, str]:
    return shopify_webhook_headers(body, SECRET)


def _created(request: httpx.Request) -> httpx.Response:
    """ShipBob's documented answer to POST /1.0/order: the order it created."""
    body = json.loads(request.content)
    return httpx.Response(
        201,
        json={
            "id": 7788,
            "created_date": "2026-03-02T15:00:00+00:00",
            "reference_id": body["reference_id"],
            "order_number": body["order_number"],
            "status": "Processing",
            "type": "DTC",
            "channel": {"id": 100102, "name": "hub"},
            "shipping_method": body["shipping_method"],
            "recipient": body["recipient"],
            "products": [
                {"id": 10 + n, "reference_id": p["reference_id"], "quantity": p["quantity"]}
                for n, p in enumerate(body["products"])
            ],
            "tags": body["tags"],
            "shipments": [],
        },
    )


async def _until(check: Any, what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _open_hub(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    document: dict[str, Any],
    env: dict[str, str],
    location: str,
) -> tuple[Any, list[str]]:
    """The deployment written to a file and opened on a SQLite ledger holding 10 of each SKU
    at ``location``; returns the runtime and the ``hub release run`` command line."""
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ledger_url = str(tmp_path / "ledger.sqlite3")
    runtime = open_runtime(
        Deployment.model_validate(document), ledger_url=ledger_url, environ=env, auto_migrate=True
    )
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        runtime.ledger.upsert_sku("acme", sku)
    runtime.ledger.apply(
        [receipt("TSHIRT-RED-M", 10, location), receipt("MUG-WHITE", 10, location)]
    )
    runtime.catalog.reload()
    return runtime, ["release", "run", "--config", str(config), "--ledger", ledger_url, "--json"]


async def _order_and_release(
    runtime: Any, client: httpx.AsyncClient, order: dict[str, Any], release: list[str]
) -> dict[str, Any]:
    """Shopify's webhook for ``order``, then, once it allocated, one ``hub release run``;
    returns the release's outcome for it."""
    body = json.dumps(order).encode()
    answer = await client.post("/webhooks/acme/shopify_us", content=body, headers=_signed(body))
    assert answer.status_code == 200
    key = f"shopify_us:{order['id']}"
    await _until(
        lambda: (runtime.ledger.order(key, tenant="acme") or {}).get("state") == "allocated",
        "the order to allocate",
    )
    result = await asyncio.to_thread(CliRunner().invoke, app, release)
    assert result.exit_code == 0, result.output
    [outcome] = json.loads(result.output)["tenants"][0]["results"]
    assert outcome["outcome"] == "applied"
    return dict(outcome)


async def test_a_released_order_becomes_a_shipbob_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, release = _open_hub(tmp_path, monkeypatch, _deployment_document(), ENV, "shipbob_chi")
    try:
        with respx.mock(assert_all_called=False) as vendor:
            vendor.route(host="127.0.0.1").pass_through()
            orders = vendor.post(ORDER_URL).mock(side_effect=_created)
            async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
                outcome = await _order_and_release(runtime, client, paid_order(9101), release)
                await _until(lambda: orders.called, "the ShipBob order")
                released = runtime.ledger.order("shopify_us:9101", tenant="acme")
                assert released is not None
                assert released["state"] == "released"
                again = await asyncio.to_thread(CliRunner().invoke, app, release)
                assert again.exit_code == 0, again.output
                await asyncio.sleep(0.5)  # a second push would have left by now
                # the ShipBob order's id is stored with the request, once
                reference = await _node_reference(runtime, outcome["request_id"])
                timeline = _noted(runtime, "shopify_us:9101")
    finally:
        runtime.close()

    assert reference == "7788"
    assert timeline == [f"request {outcome['request_id']} at shipbob_chi: node reference 7788"]

    [call] = orders.calls  # exactly one ShipBob order, and none for the unrouted node
    sent = json.loads(call.request.content)
    assert call.request.headers["shipbob_channel_id"] == "100102"
    assert call.request.headers["authorization"] == "Bearer shipbob-pat"
    assert sent["reference_id"] == outcome["request_id"]  # one ShipBob order per request
    assert outcome["request_id"].endswith("/shopify_us:9101")
    assert sent["order_number"] == "9101"
    assert sorted((p["reference_id"], p["quantity"]) for p in sent["products"]) == [
        ("MUG-WHITE", 1),
        ("TSHIRT-RED-M", 2),
    ]
    assert sent["recipient"]["address"]["country"]
    assert sent["tags"] == [
        {"name": "hub_request_id", "value": outcome["request_id"]},
        {"name": "hub_order_key", "value": "shopify_us:9101"},
    ]


EASYPOST = "https://api.easypost.com/v2/shipments"


def _easypost_document() -> dict[str, Any]:
    """Own warehouse wh_east, served by an EasyPost instance that buys its labels."""
    tenant = acme_tenant()
    tenant["connectors"]["labels_east"] = {
        "type": "easypost",
        "location": "wh_east",
        "settings": {
            "origins": {
                "wh_east": {
                    "company": "Acme Goods East",
                    "line1": "200 Harbor Way",
                    "city": "Newark",
                    "region": "NJ",
                    "postal_code": "07114",
                    "country": "US",
                }
            },
            "parcel": {"weight_oz": 16, "tare_oz": 2},
            "sku_weights_oz": {"TSHIRT-RED-M": 6, "MUG-WHITE": 12},
            "service_levels": {"standard": {"carrier": "USPS", "services": ["GroundAdvantage"]}},
        },
        "secrets": {"api_key": "env:EASYPOST_KEY", "webhook_secrets": ["env:EASYPOST_HOOK"]},
    }
    tenant["routes"].append(
        {"from": "ledger", "events": ["fulfillment.requested"], "to": ["labels_east"]}
    )
    return {"tenants": {"acme": tenant}}


def _easypost_vendor(vendor: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
    """EasyPost as documented, remembering its shipments: list, create (rates), buy."""
    shipments: list[dict[str, Any]] = []

    def create(request: httpx.Request) -> httpx.Response:
        spec = json.loads(request.content)["shipment"]
        shipment_id = f"shp_{len(shipments) + 1:032x}"
        rates = [
            {"id": f"rate_{n}{shipment_id[4:]}"[:37], "object": "Rate", "carrier": carrier,
             "service": service, "rate": rate, "currency": "USD", "delivery_days": days,
             "shipment_id": shipment_id}
            for n, (carrier, service, rate, days) in enumerate(
                [("USPS", "Priority", "9.10", 2), ("USPS", "GroundAdvantage", "7.40", 4),
                 ("UPS", "Ground", "6.90", 3)]
            )
        ]  # fmt: skip
        shipment = {
            "id": shipment_id, "object": "Shipment", "reference": spec["reference"],
            "to_address": spec["to_address"], "from_address": spec["from_address"],
            "parcel": spec["parcel"], "rates": rates, "selected_rate": None,
            "postage_label": None, "tracking_code": None, "messages": [],
        }  # fmt: skip
        shipments.insert(0, shipment)
        return httpx.Response(201, json=shipment)

    def buy(request: httpx.Request) -> httpx.Response:
        shipment = next(s for s in shipments if s["id"] == request.url.path.split("/")[3])
        rate_id = json.loads(request.content)["rate"]["id"]
        shipment["selected_rate"] = next(r for r in shipment["rates"] if r["id"] == rate_id)
        shipment["tracking_code"] = "9400100208303109920417"
        shipment["postage_label"] = {
            "object": "PostageLabel",
            "label_url": "https://easypost-files.s3.us-west-2.amazonaws.com/files/l.png",
        }
        return httpx.Response(200, json=shipment)

    vendor.get(EASYPOST).mock(
        side_effect=lambda _r: httpx.Response(200, json={"shipments": shipments, "has_more": False})
    )
    created = vendor.post(EASYPOST).mock(side_effect=create)
    bought = vendor.post(url__regex=rf"{EASYPOST}/shp_[0-9a-f]+/buy").mock(side_effect=buy)
    return created, bought, shipments


async def test_a_release_to_an_own_warehouse_served_by_easypost_buys_one_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**ENV, "EASYPOST_KEY": "EZTK0123456789abcdef", "EASYPOST_HOOK": "easypost-hook"}
    runtime, release = _open_hub(tmp_path, monkeypatch, _easypost_document(), env, "wh_east")
    try:
        with respx.mock(assert_all_called=False) as vendor:
            vendor.route(host="127.0.0.1").pass_through()
            created, bought, shipments = _easypost_vendor(vendor)
            async with serving(runtime, env) as url, httpx.AsyncClient(base_url=url) as client:
                outcome = await _order_and_release(runtime, client, paid_order(9102), release)
                await _until(lambda: bought.called, "the label purchase")
                again = await asyncio.to_thread(CliRunner().invoke, app, release)
                assert again.exit_code == 0, again.output
                await asyncio.sleep(0.5)  # a second purchase would have left by now
                reference = await _node_reference(runtime, outcome["request_id"])
        released = runtime.ledger.order("shopify_us:9102", tenant="acme")
    finally:
        runtime.close()

    assert reference == shipments[0]["id"]  # the bought label's shipment, stored with the request

    assert created.call_count == 1
    assert bought.call_count == 1
    [shipment] = shipments
    assert shipment["reference"] == outcome["request_id"]
    assert shipment["parcel"] == {"weight": 26}  # 2 x 6 + 1 x 12 + 2 tare, in ounces
    assert shipment["from_address"]["street1"] == "200 Harbor Way"
    assert shipment["to_address"]["country"]
    assert shipment["selected_rate"]["service"] == "GroundAdvantage"  # mapped, not UPS's 6.90
    assert released is not None
    assert released["state"] == "released"  # no shipment is booked at label purchase


def _shipbob_vendor(vendor: Any, *, shipped: bool) -> tuple[Any, Any, Any]:
    """ShipBob API 1.0 as documented, remembering its orders: create, list by ReferenceIds, cancel.
    ``shipped``: the centre ships each order as soon as it is created (a Completed shipment)."""
    orders: list[dict[str, Any]] = []

    def create(request: httpx.Request) -> httpx.Response:
        answer = _created(request)
        order = json.loads(answer.content)
        if shipped:
            order["status"] = "Fulfilled"
            order["shipments"] = [
                {"id": 55001, "order_id": order["id"], "reference_id": order["reference_id"],
                 "status": "Completed", "status_details": [],
                 "location": {"id": 6, "name": "Cicero (IL)"},
                 "tracking": {"carrier": "USPS", "tracking_number": "9400111899223197428490"}}
            ]  # fmt: skip
        else:
            order["shipments"] = [
                {"id": 55001, "order_id": order["id"], "reference_id": order["reference_id"],
                 "status": "Processing", "status_details": [], "tracking": None}
            ]  # fmt: skip
        orders.append(order)
        return answer

    def listed(request: httpx.Request) -> httpx.Response:
        wanted = set(request.url.params["ReferenceIds"].split(","))
        return httpx.Response(200, json=[o for o in orders if o["reference_id"] in wanted])

    def cancel(request: httpx.Request) -> httpx.Response:
        order = next(o for o in orders if str(o["id"]) == request.url.path.split("/")[3])
        order["status"] = "Cancelled"
        for shipment in order["shipments"]:
            shipment["status"] = "Cancelled"
        results = [
            {"action": "Cancel", "shipment_id": s["id"], "is_success": True, "reason": None}
            for s in order["shipments"]
        ]
        return httpx.Response(
            200,
            json={"order_id": order["id"], "order": order, "status": "Success",
                  "canceled_shipment_results": results},
        )  # fmt: skip

    created = vendor.post(ORDER_URL).mock(side_effect=create)
    vendor.get(ORDER_URL).mock(side_effect=listed)
    cancelled = vendor.post(url__regex=rf"{ORDER_URL}/\d+/cancel").mock(side_effect=cancel)
    return created, cancelled, orders


@pytest.mark.parametrize("shipped", [False, True], ids=["in time", "already shipped"])
async def test_an_order_cancelled_after_its_release_is_cancelled_at_shipbob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: bool
) -> None:
    """Pass criteria: the order is released to ShipBob (one order created); the channel cancels
    it; the relay finds the ShipBob order by reference and request id and cancels it with one
    ``POST /1.0/order/{id}/cancel``, through the route that sends it releases (no route names the
    cancellation); the cancellation delivered again calls nothing more. When ShipBob already
    shipped it, nothing is cancelled and an outbound dead letter tells the operator to intercept.
    """
    runtime, release = _open_hub(tmp_path, monkeypatch, _deployment_document(), ENV, "shipbob_chi")
    order = paid_order(9103)
    cancelled_body = dict(order, cancelled_at="2026-03-02T16:00:00-05:00")
    cancelled_body.update(updated_at="2026-03-02T16:00:00-05:00", cancel_reason="customer")
    cancellation = json.dumps(cancelled_body).encode()
    cancel_headers = shopify_webhook_headers(cancellation, SECRET, topic="orders/cancelled")
    try:
        with respx.mock(assert_all_called=False) as vendor:
            vendor.route(host="127.0.0.1").pass_through()
            created, cancelled, orders = _shipbob_vendor(vendor, shipped=shipped)
            async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
                outcome = await _order_and_release(runtime, client, order, release)
                await _until(lambda: created.called, "the ShipBob order")

                for _ in range(2):  # the channel's cancellation, then its redelivery
                    answer = await client.post(
                        "/webhooks/acme/shopify_us", content=cancellation, headers=cancel_headers
                    )
                    assert answer.status_code == 200
                    if shipped:
                        await _until(
                            lambda: runtime.operations.dead_letters(tenant="acme"),
                            "the cancellation's dead letter",
                        )
                    else:
                        await _until(lambda: cancelled.called, "the ShipBob cancel")
                await asyncio.sleep(0.5)  # a second cancel would have left by now
                letters = runtime.operations.dead_letters(tenant="acme")
        state = (runtime.ledger.order("shopify_us:9103", tenant="acme") or {}).get("state")
    finally:
        runtime.close()

    assert state == "cancelled"
    assert created.call_count == 1
    [shipbob_order] = orders
    assert shipbob_order["reference_id"] == outcome["request_id"]
    assert shipbob_order["tags"] == [
        {"name": "hub_request_id", "value": outcome["request_id"]},
        {"name": "hub_order_key", "value": "shopify_us:9103"},
    ]
    if not shipped:
        assert cancelled.call_count == 1
        assert cancelled.calls.last.request.url.path == f"/1.0/order/{shipbob_order['id']}/cancel"
        assert cancelled.calls.last.request.headers["shipbob_channel_id"] == "100102"
        assert shipbob_order["status"] == "Cancelled"
        assert letters == []
        return
    assert not cancelled.called
    [letter] = letters
    assert (letter.stage, letter.instance, letter.event) == (
        "outbound",
        "shipbob_chi",
        "order.release_cancelled",
    )
    assert "TooLateToCancel" in letter.reason
    assert f"ShipBob order {shipbob_order['id']}" in letter.reason
    assert "9400111899223197428490" in letter.reason
    assert "intercept" in letter.reason
    assert json.loads(letter.raw.body)["request_id"] == outcome["request_id"]
