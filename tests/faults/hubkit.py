"""A real hub for fault scenarios: the deployment, the runtime, stock, and vendor payloads.

The scenarios run the hub's own composition root (:func:`hub.runtime.open_runtime`): the real
ledger (SQLite or PostgreSQL), the operations store beside it, the connectors' translation and the
router, so what they prove is what ``hub run`` and ``hub worker`` do. Only the transport differs
between scenarios (called directly, or Redis Streams), never the ledger or the stores.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.config.model import Deployment
from hub.ledger.store import Ledger
from hub.runtime import DeploymentTranslator, HubRuntime, open_runtime
from router.idempotency import FastPath
from router.pipeline import RawResult, Router
from router.ports import RawMessage
from tests.support import ROOT, acme_tenant, paid_order, receipt

__all__ = [
    "ENV",
    "FIXTURES",
    "deployment",
    "fulfillment",
    "open_hub",
    "open_outbound_hub",
    "order_body",
    "process_all",
    "raw",
    "stripe_capture",
]

FIXTURES = ROOT / "tests" / "connectors"
ENV = {
    "SHOPIFY_TOKEN": "shpat_x",
    "SHOPIFY_SECRET": "s",
    "STRIPE_KEY": "sk_x",
    "STRIPE_SECRET": "w",
}
T0 = datetime(2026, 3, 2, tzinfo=UTC)
#: The Shopify location id of the fulfilment fixtures, mapped to the warehouse that holds stock.
SHOPIFY_LOCATION = "65432109876"
#: The Shopify location the hub pushes its levels to, and each SKU's inventory item there.
PUSH_LOCATION = "655441491"
INVENTORY_ITEMS = {"TSHIRT-RED-M": "808950810", "MUG-WHITE": "39072856"}


def deployment(
    ledger_url: str,
    *,
    governance: Mapping[str, Any] | None = None,
    broker: Mapping[str, Any] | None = None,
) -> Deployment:
    """Tenant ``acme`` (Shopify and Stripe into the ledger) with the given governance rules.

    By default the rules a clean test order passes: the payment rule is off because the Shopify
    fixture's orders arrive ``pending`` and the hub reserves at capture.
    """
    tenant = acme_tenant()
    tenant["connectors"]["stripe"] = {
        "type": "stripe",
        "secrets": {"api_key": "env:STRIPE_KEY", "webhook_secrets": ["env:STRIPE_SECRET"]},
    }
    tenant["routes"] = [{"from": "*", "to": ["ledger"]}]
    tenant["governance"] = dict(governance or {"payment": {"enabled": False}})
    document: dict[str, Any] = {
        "version": 1,
        "tenants": {"acme": tenant},
        "ledger": {"url": ledger_url},
    }
    if broker is not None:
        document["broker"] = dict(broker)
    return Deployment.model_validate(document)


def open_hub(
    ledger_url: str,
    *,
    stock: Mapping[str, int] | None = None,
    governance: Mapping[str, Any] | None = None,
    broker: Mapping[str, Any] | None = None,
    fast_path: FastPath | None = None,
) -> HubRuntime:
    """Migrate the ledger, open the runtime, register the SKUs and receive ``stock`` at wh_east.

    The receipts are applied to the ledger directly (a WMS feed, not a vendor webhook), so the
    invariant checker is told about them with ``direct=len(stock)``.
    """
    Ledger.migrate(ledger_url)
    runtime = open_runtime(
        deployment(ledger_url, governance=governance, broker=broker),
        ledger_url=ledger_url,
        environ=ENV,
        fast_path=fast_path,
    )
    stock = dict(stock or {})
    for sku in ("TSHIRT-RED-M", "MUG-WHITE", *stock):
        runtime.ledger.upsert_sku("acme", sku)
    if stock:
        runtime.ledger.apply([receipt(sku, quantity) for sku, quantity in stock.items()])
    runtime.catalog.reload()
    # Shopify names its locations by number; this deployment ships them from wh_east.
    runtime.router.reconfigure(
        translator=DeploymentTranslator(
            runtime.instances, locations={"acme": {SHOPIFY_LOCATION: "wh_east"}}
        )
    )
    return runtime


def raw(raw_id: str, event: str, body: Any, *, instance: str = "shopify_us") -> RawMessage:
    """A vendor payload as the ingress accepted it (``body`` as JSON, or bytes as they came)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawMessage(
        id=raw_id,
        tenant="acme",
        instance=instance,
        event=event,
        body=data,
        received_at=T0,
    )


def order_body(
    order_id: int,
    *,
    updated_at: str | None = None,
    financial_status: str = "paid",
    cancelled: bool = False,
    quantity: int | None = None,
) -> dict[str, Any]:
    """The Shopify order fixture (2 x TSHIRT-RED-M, 1 x MUG-WHITE) as one version of one order."""
    order = paid_order(order_id)
    order["financial_status"] = financial_status
    if updated_at is not None:
        order["updated_at"] = updated_at
    if quantity is not None:
        order["line_items"][0]["quantity"] = quantity
    if cancelled:
        order["cancelled_at"] = order["updated_at"]
        order["cancel_reason"] = "customer"
    return order


def fulfillment(order_id: int, *, fulfillment_id: int = 1) -> dict[str, Any]:
    """A Shopify fulfilment of 1 x TSHIRT-RED-M of ``order_id`` from the mapped warehouse."""
    path = FIXTURES / "shopify" / "fixtures" / "fulfillments_create_1.json"
    data = copy.deepcopy(json.loads(path.read_text()))
    body = data.get("fulfillment", data)
    body["order_id"] = order_id
    body["id"] = fulfillment_id
    body["location_id"] = int(SHOPIFY_LOCATION)
    return data


def stripe_capture(order_id: int, *, event_id: str = "evt_1") -> dict[str, Any]:
    """Stripe's ``payment_intent.succeeded`` for the whole of ``order_id`` (64.80 USD)."""
    path = FIXTURES / "stripe" / "fixtures" / "payment_intent_succeeded.json"
    data = copy.deepcopy(json.loads(path.read_text()))
    data["id"] = event_id
    intent = data["data"]["object"]
    intent["id"] = f"pi_{event_id}"
    intent["metadata"] = {"order_id": str(order_id), "order_channel": "shopify_us"}
    return data


async def process_all(
    router: Router, raws: Sequence[RawMessage], *, batch_size: int = 200, rounds: int = 20
) -> dict[str, RawResult]:
    """Run ``raws`` through the router in batches, redelivering what is not terminal (as a
    transport would), and return each raw message's last result."""
    last: dict[str, RawResult] = {}
    todo = list(raws)
    for _ in range(rounds):
        again: list[RawMessage] = []
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            for message, result in zip(batch, await router.process(batch), strict=True):
                last[message.id] = result
                if not result.terminal:
                    again.append(message)
        if not again:
            return last
        todo = again
    raise AssertionError(f"{len(todo)} messages never reached a terminal outcome")


def open_outbound_hub(
    ledger_url: str,
    *,
    stock: Mapping[str, int],
    settings: Mapping[str, Any] | None = None,
    retry: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] = ENV,
    extra: Mapping[str, Any] | None = None,
) -> HubRuntime:
    """The embedded hub with inventory pushes on (as ``hub run`` opens it).

    Tenant ``acme``'s Shopify store feeds the ledger, and a route ``from: ledger`` sends
    ``availability.changed`` back to it at :data:`PUSH_LOCATION` (``settings`` are added to the
    connector's settings, ``retry`` is that route's retry policy, ``extra`` are top-level keys of
    the deployment such as ``admin``); the SKUs are mapped to :data:`INVENTORY_ITEMS` and
    ``stock`` is received at wh_east, so the opening levels are pushed first.
    """
    tenant = acme_tenant()
    connector_settings = tenant["connectors"]["shopify_us"]["settings"]
    connector_settings.update({"location_id": PUSH_LOCATION, **(settings or {})})
    route: dict[str, Any] = {
        "from": "ledger",
        "events": ["availability.changed"],
        "to": ["shopify_us"],
    }
    if retry is not None:
        route["retry"] = dict(retry)
    tenant["routes"].append(route)
    document = {"version": 1, "tenants": {"acme": tenant}, "ledger": {"url": ledger_url}}
    document.update(extra or {})
    runtime = open_runtime(
        Deployment.model_validate(document),
        ledger_url=ledger_url,
        environ=environ,
        auto_migrate=True,
    )
    runtime.ledger.upsert_channel("acme", "shopify_us")
    for sku, item in INVENTORY_ITEMS.items():
        runtime.ledger.upsert_sku("acme", sku)
        runtime.ledger.map_external_id("acme", "shopify_us", item, sku, id_kind="inventory_item_id")
    runtime.ledger.apply([receipt(sku, quantity) for sku, quantity in stock.items()])
    runtime.catalog.reload()
    return runtime
