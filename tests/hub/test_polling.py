"""Scheduled polls: the deployment's `poll:`, the durable high-water mark, and the embedded hub
reading a Shopify store with no webhook at all (Shopify's documented GET orders.json, mocked by
respx).

Pass criteria: a poll the connector does not offer is a validation error naming the ones it does;
the first run reads the backfill window, the next one from the high-water mark less the overlap;
each order read becomes one raw message translated as `orders/updated`; a vendor failure moves no
mark and records its error; `hub run` polls on start and the polled order reaches the ledger;
a webhook for the same order version afterwards is a duplicate.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml

from hub.config import validate_text
from hub.config.model import Deployment
from hub.polling import PollCursors, poll_once, scheduled_polls
from hub.runtime import HubRuntime, open_runtime
from router.ports import RawMessage
from tests.support import acme_tenant, paid_order, receipt, serving, shopify_webhook_headers

ENV = {"SHOPIFY_TOKEN": "shpat_test", "SHOPIFY_SECRET": "shopify-app-secret"}
ORDERS = "https://acme.myshopify.com/admin/api/2025-01/orders.json"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _document(poll: dict[str, Any] | None) -> dict[str, Any]:
    tenant = acme_tenant()
    if poll is not None:
        tenant["connectors"]["shopify_us"]["poll"] = poll
    return {"version": 1, "tenants": {"acme": tenant}}


def test_a_poll_the_connector_does_not_offer_is_refused_with_the_ones_it_does() -> None:
    good, problems = validate_text(
        yaml.safe_dump(_document({"orders": {"every_seconds": 120}})), check_secrets=False
    )
    assert good is not None
    assert not problems
    _, problems = validate_text(
        yaml.safe_dump(_document({"inventory": {"every_seconds": 120}})), check_secrets=False
    )
    [problem] = [str(p) for p in problems]
    assert "shopify offers no poll 'inventory'" in problem
    assert "its polls: orders" in problem


@pytest.fixture
def runtime(tmp_path: Path) -> Any:
    deployment = Deployment.model_validate(
        _document({"orders": {"every_seconds": 60, "overlap_seconds": 600}})
    )
    runtime = open_runtime(
        deployment, ledger_url=str(tmp_path / "ledger.sqlite3"), environ=ENV, auto_migrate=True
    )
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        runtime.ledger.upsert_sku("acme", sku)
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 10), receipt("MUG-WHITE", 10)])
    runtime.catalog.reload()
    try:
        yield runtime
    finally:
        runtime.close()


def _page(*orders: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, json={"orders": list(orders)}, headers={"X-Shopify-Shop-Api-Call-Limit": "1/40"}
    )


async def test_windows_move_with_the_high_water_mark_and_a_failure_moves_nothing(
    runtime: HubRuntime,
) -> None:
    [poll] = scheduled_polls(runtime)
    assert (poll.spec.name, poll.spec.event, poll.spec.windowed) == (
        "orders",
        "orders/updated",
        True,
    )
    cursors = PollCursors(runtime.ledger_url)
    delivered: list[RawMessage] = []

    async def deliver(raws: list[RawMessage]) -> None:
        delivered.extend(raws)

    try:
        with respx.mock() as vendor:
            listing = vendor.get(ORDERS).mock(side_effect=[_page(paid_order(9101)), _page()])
            first = await poll_once(runtime, cursors, poll, deliver, now=NOW)
            later = NOW + timedelta(minutes=5)
            second = await poll_once(runtime, cursors, poll, deliver, now=later)
        asked = [dict(call.request.url.params) for call in listing.calls]
        assert asked[0]["updated_at_min"] == (NOW - timedelta(days=1)).isoformat()  # backfill
        assert asked[0]["updated_at_max"] == NOW.isoformat()
        assert asked[0]["status"] == "any"
        assert asked[1]["updated_at_min"] == (NOW - timedelta(minutes=10)).isoformat()  # overlap
        assert asked[1]["updated_at_max"] == later.isoformat()
        assert (first.outcome, first.items, second.outcome, second.items) == ("ok", 1, "ok", 0)
        [raw] = delivered
        assert (raw.tenant, raw.instance, raw.event) == ("acme", "shopify_us", "orders/updated")
        assert json.loads(raw.body)["id"] == 9101
        assert raw.headers["x-hub-polled"] == "orders"
        state = cursors.get("acme", "shopify_us", "orders")
        assert state is not None
        assert state.high_water == later

        with respx.mock() as vendor:
            vendor.get(ORDERS).mock(return_value=httpx.Response(401, json={"errors": "nope"}))
            failed = await poll_once(
                runtime, cursors, poll, deliver, now=later + timedelta(hours=1)
            )
        assert failed.outcome == "failed"
        state = cursors.get("acme", "shopify_us", "orders")
        assert state is not None
        assert state.high_water == later  # the next run reads the whole gap again
        assert state.last_outcome == "failed"
        assert state.last_error is not None
        assert "Authentication" in state.last_error
        assert len(delivered) == 1
    finally:
        cursors.close()


async def test_hub_run_polls_the_store_and_the_polled_order_reaches_the_ledger(
    runtime: HubRuntime,
) -> None:
    order = paid_order(9102)
    with respx.mock(assert_all_called=False) as vendor:
        vendor.route(host="127.0.0.1").pass_through()
        listing = vendor.get(ORDERS).mock(side_effect=lambda _: _page(order))
        async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
            for _ in range(300):
                if runtime.ledger.order("shopify_us:9102", tenant="acme") is not None:
                    break
                await asyncio.sleep(0.05)
            view = runtime.ledger.order("shopify_us:9102", tenant="acme")
            assert view is not None, "the polled order never reached the ledger"
            assert view["state"] == "allocated"
            # the same order version by webhook afterwards: the key a poll derived, a duplicate
            body = json.dumps(order).encode()
            headers = shopify_webhook_headers(body, ENV["SHOPIFY_SECRET"], topic="orders/updated")
            answer = await client.post("/webhooks/acme/shopify_us", content=body, headers=headers)
            assert answer.status_code == 200

            def outcomes() -> list[str]:
                trail = runtime.operations.audit_trail("acme", order_key="shopify_us:9102")
                return sorted(r.outcome for r in trail if r.stage in {"deliver", "deduplicate"})

            for _ in range(300):
                if len(outcomes()) == 2:
                    break
                await asyncio.sleep(0.05)
            assert outcomes() == ["applied", "duplicate"]
        assert listing.called


async def test_a_worker_at_scale_publishes_what_it_polls_and_applies_it(
    tmp_path: Path, redis_url: str
) -> None:
    """At scale the poll's leader publishes each item to the broker's streams (not straight to
    its own router), so it is partitioned, acknowledged and reclaimed like a webhook."""
    import uuid

    from redis.asyncio import Redis

    from tests.faults.streaming import running_worker, wait_until

    prefix = f"hub-test:{uuid.uuid4().hex[:8]}"
    document = _document({"orders": {"every_seconds": 60}})
    document["broker"] = {
        "kind": "redis",
        "url": redis_url,
        "partitions": 2,
        "prefix": prefix,
        "batch_size": 50,
        "claim_idle_ms": 1000,
    }
    runtime = open_runtime(
        Deployment.model_validate(document),
        ledger_url=str(tmp_path / "ledger.sqlite3"),
        environ=ENV,
        auto_migrate=True,
    )
    client = Redis.from_url(redis_url)
    try:
        for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
            runtime.ledger.upsert_sku("acme", sku)
        runtime.ledger.apply([receipt("TSHIRT-RED-M", 10), receipt("MUG-WHITE", 10)])
        runtime.catalog.reload()
        with respx.mock(assert_all_called=False) as vendor:
            vendor.get(ORDERS).mock(side_effect=lambda _: _page(paid_order(9103)))
            async with running_worker(runtime):
                await wait_until(
                    lambda: runtime.ledger.order("shopify_us:9103", tenant="acme") is not None,
                    30,
                    "the polled order in the ledger",
                )
        streams = [key async for key in client.scan_iter(match=f"{prefix}*")]
        assert streams
        entries = 0
        for key in streams:
            if (await client.type(key)) == b"stream":
                entries += await client.xlen(key)
        assert entries == 1  # the one polled order, through the stream
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        runtime.close()
