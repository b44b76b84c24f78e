"""Inventory pushes to a vendor that is slow or throttles: delayed, never lost, never stale.

The path is the one ``hub run`` serves (:func:`tests.support.serving`): a signed Shopify order
webhook in, the ledger's ``availability.changed`` outbox events, the relay and dispatcher of
:mod:`hub.outbound`, the Shopify connector's ``push_availability`` over its shared HTTP client, to a
vendor on loopback (:class:`tests.faults.vendor.FakeShopify`, a real HTTP server, so the client's
own timeouts fire; respx could not make a call slow). Stock: 10 of each SKU; the order takes 2
``TSHIRT-RED-M`` and 1 ``MUG-WHITE``, so the channel must end at 8 and 9.

``test_a_vendor_answering_429_for_a_long_stretch``: the vendor answers every push with 429 and
``Retry-After: 0.5`` for 8 seconds (16 of its own rate-limit windows: "a minute" compressed by
shrinking Retry-After), and the order arrives in the middle of it. The ``from: ledger`` route's
retry policy (6 in-process attempts, each of the connector's 4 calls waiting out Retry-After)
outlasts the throttle, while the default policy (3 attempts, about 5.5 s here) would not. Pass
criteria: nothing reaches the channel before the throttle ends (pushes are delayed); more 429s
were answered than the default policy would have waited out (the route's policy was used); no
dead letter; after recovery the channel holds the ledger's current level of both SKUs (8 and 9),
pushed once each after recovery, and the ledger's outbox has nothing left to relay.

``test_a_slow_vendor_times_out_and_the_pushes_still_arrive``: the connector's timeout is 0.5 s and
the vendor takes 3 s to answer for 4 seconds, during which the order arrives. Pass criteria: the
pushes time out (the vendor saw calls the client gave up on) yet nothing is dead-lettered; after
recovery the channel holds the ledger's current level (8 and 9) and the outbox is drained. Run
twice: with a vendor that applies a level when the request arrives, and with one that applies it
only when it has finished the slow work, after the client gave up: there the timed-out push of the
opening level 10 lands after the newer 8, and the hub's settling push (``settle_seconds`` after
the next successful push of a SKU whose push lost its answer) puts the channel back at 8; the
levels stay current afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from connectors.webhooks import HmacBodyVerifier
from hub.runtime import HubRuntime
from tests.faults.hubkit import ENV, INVENTORY_ITEMS, open_outbound_hub, order_body
from tests.faults.streaming import wait_until
from tests.faults.vendor import FakeShopify
from tests.support import serving

STOCK = {"TSHIRT-RED-M": 10, "MUG-WHITE": 10}
AFTER_ORDER = {"TSHIRT-RED-M": 8, "MUG-WHITE": 9}
ITEM_OF = {sku: int(item) for sku, item in INVENTORY_ITEMS.items()}


async def _post_order(client: httpx.AsyncClient, order_id: int) -> None:
    body = json.dumps(order_body(order_id)).encode()
    headers = {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        **HmacBodyVerifier("X-Shopify-Hmac-Sha256", encoding="base64").sign(
            body, ENV["SHOPIFY_SECRET"]
        ),
    }
    answer = await client.post("/webhooks/acme/shopify_us", content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def _ledger_levels(runtime: HubRuntime) -> dict[str, int]:
    return {
        row.sku: row.available
        for row in runtime.ledger.availability("acme", channel="shopify_us")
        if row.sku in ITEM_OF
    }


def _settling_pushes() -> float:
    from prometheus_client import REGISTRY

    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "hub_settling_pushes"
        for sample in family.samples
        if sample.name == "hub_settling_pushes_total"
    )


def _converged(runtime: HubRuntime, vendor: FakeShopify) -> bool:
    levels, _ = vendor.snapshot()
    ledger = _ledger_levels(runtime)
    return ledger == AFTER_ORDER and all(levels.get(ITEM_OF[s]) == n for s, n in ledger.items())


async def test_a_vendor_answering_429_for_a_long_stretch(tmp_path: Path) -> None:
    """Pass criteria: see the module docstring (first scenario)."""
    throttle = 8.0
    with FakeShopify(retry_after="0.5") as vendor:
        runtime = open_outbound_hub(
            str(tmp_path / "ledger.sqlite3"),
            stock=STOCK,
            settings={"api_base": vendor.origin},
            retry={"in_process_attempts": 6, "base_delay": 0.2, "max_delay": 2},
        )
        try:
            vendor.throttle_until = time.monotonic() + throttle
            async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
                await asyncio.sleep(throttle / 2)
                await _post_order(client, 8101)
                await wait_until(lambda: _converged(runtime, vendor), 60, "the current levels")
                await asyncio.sleep(0.5)  # anything still queued would go out now
            letters = runtime.operations.dead_letters(tenant="acme")
            left = runtime.ledger.unpublished(100)
        finally:
            runtime.close()
        levels, calls = vendor.snapshot()

    throttled = [c for c in calls if c.status == 429]
    accepted = [c for c in calls if c.status == 200]
    assert letters == []
    assert left == []
    assert accepted, calls
    assert min(c.at for c in accepted) >= vendor.throttle_until  # delayed, not sent early
    assert len(throttled) > 4 * 3  # more than the default policy's 3 attempts x 4 calls
    assert levels == {ITEM_OF[sku]: n for sku, n in AFTER_ORDER.items()}
    # after the throttle each SKU's level went out once (the two changes of a SKU coalesced, or
    # the opening level first and then the one after the order, in the ledger's order)
    for sku, item in ITEM_OF.items():
        pushed = [c.available for c in accepted if c.item == item]
        assert pushed[-1] == AFTER_ORDER[sku], (sku, pushed)
        assert pushed in ([AFTER_ORDER[sku]], [STOCK[sku], AFTER_ORDER[sku]]), (sku, pushed)


@pytest.mark.parametrize(
    "apply_late",
    [
        pytest.param(False, id="vendor-applies-on-arrival"),
        pytest.param(True, id="vendor-applies-when-done"),
    ],
)
async def test_a_slow_vendor_times_out_and_the_pushes_still_arrive(
    tmp_path: Path, apply_late: bool
) -> None:
    """Pass criteria: see the module docstring (second scenario)."""
    with FakeShopify(apply_late=apply_late) as vendor:
        runtime = open_outbound_hub(
            str(tmp_path / "ledger.sqlite3"),
            stock=STOCK,
            # the vendor may apply a push up to 3 s after it arrived: settle after 3.5 s
            settings={"api_base": vendor.origin, "timeout_seconds": 0.5, "settle_seconds": 3.5},
        )
        try:
            # 3 s a call: longer than the client's longest wait between two tries (0.5 s timeout
            # plus at most 2 s backoff), so a slow call is always in the vendor when it recovers
            vendor.delay = 3.0
            async with serving(runtime, ENV) as url, httpx.AsyncClient(base_url=url) as client:
                await asyncio.sleep(2)
                await _post_order(client, 8201)
                await asyncio.sleep(2)
                vendor.delay = 0.0
                await wait_until(lambda: _converged(runtime, vendor), 60, "the current levels")
                await asyncio.sleep(3.5)  # the slow calls still in the vendor finish meanwhile
                # a late write of an older level may have landed; the settling push repairs it
                await wait_until(lambda: _converged(runtime, vendor), 15, "the settled levels")
                settled = _settling_pushes()
                await asyncio.sleep(4.5)  # and nothing undoes it afterwards
            letters = runtime.operations.dead_letters(tenant="acme")
            left = runtime.ledger.unpublished(100)
        finally:
            runtime.close()
        levels, calls = vendor.snapshot()

    gave_up = [c for c in calls if c.answered_at - c.at >= 1.0]
    assert gave_up, calls  # the client timed out on these
    assert settled > 0  # the hub re-sent the current level after the lost answers
    assert letters == []
    assert left == []
    assert levels == {ITEM_OF[sku]: n for sku, n in AFTER_ORDER.items()}
