"""``hub run`` end to end: real HTTP webhooks into the embedded hub, asserted on the ledger.

Pass criteria: a genuine Shopify order webhook is stored, translated, governed and applied (stock
allocated in the ledger, an audit trail per stage); a forged one is refused with 401 and leaves no
trace; a redelivered one is counted once; an order with an unknown product waits in the exception
queue with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.config.model import Deployment
from hub.runtime import HubRuntime, open_runtime
from tests.support import SHOPIFY_ORDER, acme_tenant, paid_order, receipt, serving

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "connectors"
    / "shopify"
    / "fixtures"
    / "orders_create.json"
)
SECRET = "shopify-app-secret"


def _deployment() -> Deployment:
    return Deployment.model_validate({"tenants": {"acme": acme_tenant()}})


def _signed(body: bytes, topic: str = "orders/create", secret: str = SECRET) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": digest,
        "x-shopify-shop-domain": "acme.myshopify.com",
    }


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[HubRuntime, str]]:
    runtime = open_runtime(
        _deployment(),
        ledger_url=str(tmp_path / "ledger.sqlite3"),
        environ={"SHOPIFY_TOKEN": "shpat_test", "SHOPIFY_SECRET": SECRET},
        auto_migrate=True,
    )
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        runtime.ledger.upsert_sku("acme", sku)
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 10)])
    runtime.catalog.reload()
    try:
        async with serving(runtime) as base:
            yield runtime, base
    finally:
        runtime.close()


async def _eventually(check: Any, seconds: float = 10.0) -> Any:
    for _ in range(int(seconds / 0.05)):
        result = check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


async def test_a_genuine_webhook_reaches_the_ledger_once(hub: tuple[HubRuntime, str]) -> None:
    runtime, base = hub
    body = json.dumps(paid_order()).encode()
    async with httpx.AsyncClient(base_url=base) as client:
        first = await client.post("/webhooks/acme/shopify_us", content=body, headers=_signed(body))
        again = await client.post("/webhooks/acme/shopify_us", content=body, headers=_signed(body))
    assert first.status_code == 200, first.text
    assert again.status_code == 200
    order_key = f"shopify_us:{paid_order()['id']}"
    order = await _eventually(lambda: runtime.ledger.order(order_key, tenant="acme"))
    [position] = [p for p in runtime.ledger.positions() if p.sku == "TSHIRT-RED-M"]
    assert (position.on_hand, position.allocated) == (10, 2)
    assert order is not None

    def delivery_outcomes() -> list[str]:
        trail = runtime.operations.audit_trail("acme", order_key=order_key)
        return sorted(r.outcome for r in trail if r.stage in {"deliver", "deduplicate"})

    assert await _eventually(lambda: len(delivery_outcomes()) == 2)
    assert delivery_outcomes() == ["applied", "duplicate"]


async def test_a_forged_webhook_is_refused_and_leaves_no_trace(hub: tuple[HubRuntime, str]) -> None:
    runtime, base = hub
    body = json.dumps(paid_order()).encode()
    async with httpx.AsyncClient(base_url=base) as client:
        forged = await client.post(
            "/webhooks/acme/shopify_us", content=body, headers=_signed(body, secret="wrong")
        )
        unknown = await client.post("/webhooks/acme/nope", content=body, headers=_signed(body))
    assert (forged.status_code, unknown.status_code) == (401, 404)
    await asyncio.sleep(0.3)
    assert runtime.ledger.order(f"shopify_us:{paid_order()['id']}", tenant="acme") is None
    assert (
        runtime.operations.audit_trail("acme", order_key=f"shopify_us:{paid_order()['id']}") == []
    )


async def test_an_order_with_an_unknown_product_waits_in_the_exception_queue(
    hub: tuple[HubRuntime, str],
) -> None:
    runtime, base = hub
    body = SHOPIFY_ORDER.read_bytes()
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.post(
            "/webhooks/acme/shopify_us", content=body, headers=_signed(body)
        )
    assert response.status_code == 200
    [held] = await _eventually(lambda: runtime.operations.held(queue="exception"))
    assert held.rule == "master_data"
    assert "lines.1" in held.reason
    [position] = [p for p in runtime.ledger.positions() if p.sku == "TSHIRT-RED-M"]
    assert position.allocated == 0


async def test_metrics_are_scraped_and_parsed(hub: tuple[HubRuntime, str]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    runtime, base = hub
    held = SHOPIFY_ORDER.read_bytes()  # waits in the exception queue
    good = json.dumps(paid_order(777)).encode()  # is applied
    async with httpx.AsyncClient(base_url=base) as client:
        for body in (held, good):
            response = await client.post(
                "/webhooks/acme/shopify_us", content=body, headers=_signed(body)
            )
            assert response.status_code == 200
        await _eventually(lambda: runtime.operations.held())
        await _eventually(lambda: runtime.ledger.order("shopify_us:777", tenant="acme"))
        text = (await client.get("/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("hub_held_messages", (("queue", "exception"), ("tenant", "acme")))] == 1
    assert samples[("hub_messages_total", (("outcome", "exception"), ("stage", "govern")))] >= 1
    assert ("hub_inbox_backlog", ()) in samples
    assert samples[("hub_messages_total", (("outcome", "applied"), ("stage", "deliver")))] >= 1
    assert any(
        name == "hub_stage_duration_seconds_bucket" and ("stage", "deliver") in labels
        for name, labels in samples
    )


async def test_one_trace_from_the_webhook_to_the_ledger(
    hub: tuple[HubRuntime, str], spans: Any
) -> None:
    runtime, base = hub
    body = json.dumps(paid_order(888)).encode()
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.post(
            "/webhooks/acme/shopify_us",
            content=body,
            headers=_signed(body) | {"traceparent": caller},
        )
    assert response.status_code == 200
    await _eventually(lambda: runtime.ledger.order("shopify_us:888", tenant="acme"))
    await _eventually(
        lambda: any(s.name.startswith("hub.route") for s in spans.get_finished_spans())
    )
    finished = [
        s
        for s in spans.get_finished_spans()
        if f"{s.context.trace_id:032x}" == caller.split("-")[1]
    ]
    by_name = {s.name.split(" ")[0]: s for s in finished}
    assert {"hub.ingress", "hub.route", "hub.translate", "hub.govern", "hub.ledger.apply"} <= set(
        by_name
    )
    assert f"{by_name['hub.ingress'].parent.span_id:016x}" == "b7ad6b7169203331"
    assert by_name["hub.route"].parent.span_id == by_name["hub.ingress"].context.span_id
    assert by_name["hub.ledger.apply"].parent.span_id == by_name["hub.route"].context.span_id
    assert by_name["hub.ingress"].attributes["http.response.status_code"] == 200
    assert by_name["hub.ledger.apply"].attributes["hub.order_key"] == "shopify_us:888"
    text = repr([(s.name, dict(s.attributes or {})) for s in finished])
    for personal in ("Jane Doe", "jane@example.com", "123 Main Street", "+1 518 555 0100"):
        assert personal not in text
