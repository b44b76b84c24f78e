"""Builders shared by the end-to-end tests: the demo tenant, Shopify orders, stock receipts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from canonical import Envelope, MovementKind, SourceRef, StockMovement

ROOT = Path(__file__).resolve().parents[1]
SHOPIFY_ORDER = ROOT / "tests" / "connectors" / "shopify" / "fixtures" / "orders_create.json"


def acme_tenant(
    *, token_env: str = "SHOPIFY_TOKEN", secret_env: str = "SHOPIFY_SECRET"
) -> dict[str, Any]:
    """Tenant ``acme``: one Shopify store feeding channel ``shopify_us``, one warehouse."""
    return {
        "channels": {"shopify_us": {"kind": "shopify"}},
        "locations": {"wh_east": {"kind": "warehouse", "priority": 1}},
        "connectors": {
            "shopify_us": {
                "type": "shopify",
                "channel": "shopify_us",
                "settings": {"shop_domain": "acme.myshopify.com"},
                "secrets": {
                    "access_token": f"env:{token_env}",
                    "webhook_secrets": [f"env:{secret_env}"],
                },
            }
        },
        "routes": [{"from": "shopify_us", "to": ["ledger"]}],
    }


def paid_order(order_id: int | None = None) -> dict[str, Any]:
    """The project's Shopify order fixture, paid, its second line mapped to SKU ``MUG-WHITE``.

    Each order allocates 2 x ``TSHIRT-RED-M`` and 1 x ``MUG-WHITE``.
    """
    order = copy.deepcopy(json.loads(SHOPIFY_ORDER.read_text()))
    order["financial_status"] = "paid"
    order["line_items"][1]["sku"] = "MUG-WHITE"
    if order_id is not None:
        order["id"] = order_id
        order["name"] = f"#{order_id}"
    return order


def receipt(sku: str, quantity: int, location: str = "wh_east", tenant: str = "acme") -> Envelope:
    """A stock receipt envelope, as a warehouse system would send it."""
    movement = StockMovement(
        tenant=tenant,
        movement_id=f"stock-{sku}-{location}",
        kind=MovementKind.RECEIPT,
        sku=sku,
        location=location,
        quantity=quantity,
        occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return Envelope.wrap(
        movement,
        event_type="stock.moved",
        source=SourceRef(connector="wms", instance="wms"),
        source_ids=(movement.movement_id,),
        occurred_at=movement.occurred_at,
    )


def shopify_webhook_headers(
    body: bytes, secret: str, topic: str = "orders/create", shop: str = "acme.myshopify.com"
) -> dict[str, str]:
    """The headers Shopify sends with a webhook: its topic and the body's HMAC-SHA256 (base64)."""
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": digest,
        "x-shopify-shop-domain": shop,
    }


@contextlib.asynccontextmanager
async def serving(runtime: Any, environ: Mapping[str, str] | None = None) -> AsyncIterator[str]:
    """Run the embedded hub (ingress, worker, admin API) on a free port; yields its base URL."""
    from hub.serve import serve_embedded
    from tests.faults.harness import free_port

    port = free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve_embedded(
            runtime,
            host="127.0.0.1",
            port=port,
            on_started=started.set,
            should_exit=stop,
            environ=environ,
        )
    )
    await asyncio.wait_for(started.wait(), 10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
