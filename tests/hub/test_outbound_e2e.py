"""End to end through `hub run`: a signed webhook in, the ledger's effect, the audit trail, and the
inventory push out to the vendor (Shopify's documented inventory_levels/set.json, mocked by respx).

Pass criteria: after an order allocates stock, Shopify is told the new available quantity of each
SKU at the configured location (exact documented request body, integer ids); a 429 with
Retry-After is waited out, not dead-lettered; a push Shopify refuses (422) becomes an outbound dead
letter, and replaying it after the fix sends the ledger's current level; instances without a
`from: ledger` route are never written to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.config.model import Deployment
from hub.runtime import HubRuntime, open_runtime
from tests.support import acme_tenant, paid_order, receipt, serving, shopify_webhook_headers

SECRET = "shopify-app-secret"
ENV = {
    "SHOPIFY_TOKEN": "shpat_test",
    "SHOPIFY_SECRET": SECRET,
    "OPS": "ops-token",
    "OTHER_TOKEN": "shpat_other",
}
LOCATION = "655441491"
ITEMS = {"TSHIRT-RED-M": "808950810", "MUG-WHITE": "39072856"}
SET_LEVEL = "https://acme.myshopify.com/admin/api/2025-01/inventory_levels/set.json"


def _deployment() -> Deployment:
    tenant = acme_tenant()
    tenant["connectors"]["shopify_us"]["settings"]["location_id"] = LOCATION
    # a second store on another channel, with no route from the ledger: it must get no push
    tenant["channels"]["shopify_ca"] = {"kind": "shopify"}
    tenant["connectors"]["shopify_ca"] = {
        "type": "shopify",
        "channel": "shopify_ca",
        "settings": {"shop_domain": "acme-ca.myshopify.com", "location_id": "1"},
        "secrets": {"access_token": "env:OTHER_TOKEN", "webhook_secrets": ["env:SHOPIFY_SECRET"]},
    }
    tenant["routes"].append(
        {"from": "ledger", "events": ["availability.changed"], "to": ["shopify_us"]}
    )
    return Deployment.model_validate(
        {
            "tenants": {"acme": tenant},
            "admin": {
                "tokens": [
                    {"name": "ops", "token": "env:OPS", "role": "operator", "tenants": ["acme"]}
                ]
            },
        }
    )


def _signed(body: bytes) -> dict[str, str]:
    return shopify_webhook_headers(body, SECRET)


def _level(request: httpx.Request) -> httpx.Response:
    """Shopify's documented answer: the inventory level as set."""
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "inventory_level": {
                "inventory_item_id": body["inventory_item_id"],
                "location_id": body["location_id"],
                "available": body["available"],
                "updated_at": "2026-03-02T10:00:00-05:00",
                "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{body['location_id']}"
                f"?inventory_item_id={body['inventory_item_id']}",
            }
        },
        headers={"X-Shopify-Shop-Api-Call-Limit": "1/40"},
    )


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[HubRuntime, str]]:
    runtime = open_runtime(
        _deployment(), ledger_url=str(tmp_path / "ledger.sqlite3"), environ=ENV, auto_migrate=True
    )
    for sku, item in ITEMS.items():
        runtime.ledger.upsert_sku("acme", sku)
        runtime.ledger.upsert_channel("acme", "shopify_us")
        runtime.ledger.map_external_id("acme", "shopify_us", item, sku, id_kind="inventory_item_id")
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 10), receipt("MUG-WHITE", 10)])
    runtime.catalog.reload()
    try:
        yield runtime, ""
    finally:
        runtime.close()


async def _metrics(client: httpx.AsyncClient) -> dict[tuple[str, tuple[Any, ...]], float]:
    """The hub's /metrics, parsed with Prometheus' own text-format parser."""
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    return _parse(answer.text)


def _parse(text: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _pushed(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


async def _wait(check: Any, what: str, seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_order_webhook_ends_as_inventory_pushes_to_the_channel(
    hub: tuple[HubRuntime, str],
) -> None:
    runtime, _ = hub
    with respx.mock(assert_all_called=False) as vendor:
        vendor.route(host="127.0.0.1").pass_through()
        other_store = vendor.post(host="acme-ca.myshopify.com")
        # Shopify throttles the first call (429, Retry-After: 1), then answers as documented
        levels = vendor.post(SET_LEVEL).mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), *[_level] * 50]
        )
        before = _parse(generate_latest().decode())  # this process' registry, before serving
        async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
            # the receipts applied before start are pushed first: 10 of each
            await _wait(lambda: len(_pushed(levels)) >= 2, "the opening levels")
            body = json.dumps(paid_order(9001)).encode()
            answer = await client.post(
                "/webhooks/acme/shopify_us", content=body, headers=_signed(body)
            )
            assert answer.status_code == 200
            await _wait(lambda: len(_pushed(levels)) >= 4, "the levels after the order")
            after = await _metrics(client)

        def grew(name: str, **labels: str) -> float:
            key = (name, tuple(sorted(labels.items())))
            return after.get(key, 0.0) - before.get(key, 0.0)

        delivered = grew("hub_availability_pushes_total", channel="shopify_us", outcome="delivered")
        assert delivered == len(_pushed(levels)) - 1  # every accepted push, once
        assert grew("hub_vendor_rate_limited_total", connector="shopify") == 1
        assert (
            grew(
                "hub_outbound_calls_total",
                connector="shopify",
                operation="inventory_levels.set",
                outcome="2xx",
            )
            == delivered
        )
        assert grew("hub_availability_push_delay_seconds_count") == delivered

        assert levels.calls[0].response.status_code == 429  # waited out, then sent again
        pushes = _pushed(levels)
        by_item: dict[int, list[int]] = {}
        for push in pushes:
            assert set(push) == {"location_id", "inventory_item_id", "available"}
            assert push["location_id"] == int(LOCATION)
            by_item.setdefault(push["inventory_item_id"], []).append(push["available"])
        assert by_item[int(ITEMS["TSHIRT-RED-M"])][-1] == 10 - 2
        assert by_item[int(ITEMS["MUG-WHITE"])][-1] == 10 - 1
        assert levels.calls[-1].request.headers["X-Shopify-Access-Token"] == "shpat_test"
        assert not other_store.called  # no route from the ledger to shopify_ca

    order = runtime.ledger.order("shopify_us:9001", tenant="acme")
    assert order is not None
    assert order["state"] == "allocated"
    trail = runtime.operations.audit_trail("acme", order_key="shopify_us:9001")
    assert [(r.stage, r.outcome) for r in trail][-1] == ("deliver", "applied")
    assert runtime.operations.dead_letters(tenant="acme") == []


async def test_a_refused_push_is_a_dead_letter_and_its_replay_sends_the_current_level(
    hub: tuple[HubRuntime, str],
) -> None:
    runtime, _ = hub
    with respx.mock(assert_all_called=False) as vendor:
        vendor.route(host="127.0.0.1").pass_through()
        refusal = httpx.Response(
            422, json={"errors": {"inventory_item_id": ["Inventory item does not exist"]}}
        )
        levels = vendor.post(SET_LEVEL).mock(return_value=refusal)
        async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
            await _wait(
                lambda: len(runtime.operations.dead_letters(tenant="acme")) == 2,
                "both opening pushes to be refused",
            )
            letters = runtime.operations.dead_letters(tenant="acme")
            assert {letter.stage for letter in letters} == {"outbound"}
            assert all("422" in letter.reason for letter in letters)

            body = json.dumps(paid_order(9002)).encode()
            await client.post("/webhooks/acme/shopify_us", content=body, headers=_signed(body))
            await _wait(
                lambda: len(runtime.operations.dead_letters(tenant="acme")) == 4,
                "the pushes after the order to be refused too",
            )

            levels.mock(side_effect=_level)  # the item is fixed in Shopify
            tshirt = min(  # the oldest: it recorded 10, before the order took 2
                (
                    letter
                    for letter in runtime.operations.dead_letters(tenant="acme")
                    if json.loads(letter.raw.body)["sku"] == "TSHIRT-RED-M"
                ),
                key=lambda letter: letter.id,
            )
            assert json.loads(tshirt.raw.body)["available"] == 10
            replayed = await client.post(
                f"/admin/v1/tenants/acme/dead-letters/{tshirt.id}/replay",
                headers={"authorization": f"Bearer {ENV['OPS']}"},
            )
            assert replayed.status_code == 200, replayed.text
            assert replayed.json()["outcome"] == ["delivered"]

        last = json.loads(levels.calls[-1].request.content)
        assert last["inventory_item_id"] == int(ITEMS["TSHIRT-RED-M"])
        assert last["available"] == 10 - 2  # the ledger's level now, not the refused one (10)


async def test_one_trace_from_the_webhook_to_the_channel_push(
    hub: tuple[HubRuntime, str], spans: Any
) -> None:
    """Pass criteria: the vendor's traceparent starts one trace that holds the ingress, the route
    and its stages, the ledger apply, the outbound push (child of the message's route span, read
    back from the outbox) and the connector's HTTP call (child of the push), with no personal
    data in any of them."""
    runtime, _ = hub
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    trace_id = caller.split("-")[1]
    with respx.mock(assert_all_called=False) as vendor:
        vendor.route(host="127.0.0.1").pass_through()
        levels = vendor.post(SET_LEVEL).mock(side_effect=_level)
        async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
            await _wait(lambda: len(levels.calls) >= 2, "the opening levels")
            body = json.dumps(paid_order(9301)).encode()
            headers = _signed(body) | {"traceparent": caller}
            answer = await client.post("/webhooks/acme/shopify_us", content=body, headers=headers)
            assert answer.status_code == 200

            def traced(name: str) -> list[Any]:
                return [
                    s
                    for s in spans.get_finished_spans()
                    if s.name.startswith(name) and f"{s.context.trace_id:032x}" == trace_id
                ]

            await _wait(lambda: len(traced("hub.outbound")) >= 2, "the traced pushes")
    finished = [s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]
    by_name: dict[str, list[Any]] = {}
    for span in finished:
        by_name.setdefault(span.name.split(" ")[0], []).append(span)
    [route] = by_name["hub.route"]
    [ingress] = by_name["hub.ingress"]
    assert route.parent.span_id == ingress.context.span_id
    assert by_name["hub.ledger.apply"][0].parent.span_id == route.context.span_id
    pushes = by_name["hub.outbound"]
    assert len(pushes) == 2  # one per SKU the order changed, both in the order's trace
    assert {p.parent.span_id for p in pushes} == {route.context.span_id}
    assert {p.attributes["hub.destination"] for p in pushes} == {"shopify_us"}
    calls = [s for s in finished if s.name == "shopify inventory_levels.set"]
    assert {c.parent.span_id for c in calls} == {p.context.span_id for p in pushes}
    assert all(c.attributes["http.response.status_code"] == 200 for c in calls)
    text = repr([(s.name, dict(s.attributes or {})) for s in finished])
    for personal in ("Jane Doe", "jane@example.com", "123 Main Street", "shpat_test", SECRET):
        assert personal not in text
