"""Poison messages and governance on the real runtime and ledger (SQLite), over real Redis Streams.

``test_poison_never_blocks_and_fixed_messages_replay_exactly_once``: every partition starts with
poison (malformed JSON, a schema-violating order, an order with an unknown SKU, a high-value order,
a refund the ledger refuses: nothing was captured) followed by clean orders.
Pass criteria: every clean order is applied although poison sits at the head of every partition;
each poison message lands in the dead-letter store (malformed, schema-violating, refused by the
ledger) or the exception/review queue (unknown SKU, high value) with its reason; no entry stays
pending. After the fix (corrected payloads, the missing SKU added, the review approved, the
payment captured) a replay applies each exactly once, and a second replay is a duplicate. The invariant
checker passes at the end.

``test_governance_review_exception_and_straight_through``: a clean order goes straight through
and allocates; a high-value order waits in review with no reservation until approved, then
allocates; an order priced off the catalogue becomes a pricing exception and never reaches the
ledger. Invariants hold at the end.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from hub.runtime import HubRuntime
from router.idempotency import RedisFastPath
from router.pipeline import Disposition
from router.ports import RawMessage
from router.transport.redis_streams import partition_of
from tests.faults.hubkit import open_hub, order_body, process_all, raw, stripe_capture
from tests.faults.invariants import check_invariants
from tests.faults.streaming import pending, publish, running_worker, wait_until

PARTITIONS = 4
CLEAN = 200
RULES: dict[str, Any] = {
    "payment": {"enabled": False},
    # an order's quantities are changed below without its vendor totals: not what this is about
    "totals": {"enabled": False},
    "high_value": {"thresholds": {"USD": 1000}},
    "pricing": {"tolerance_percent": 2},
}
BASE = 5_200_000_000_000


def _poison(partition: int) -> dict[str, RawMessage]:
    """One message of each poison kind; their ids make them land on ``partition``."""
    schema = order_body(BASE + 900 + partition)
    schema["currency"] = "US Dollars"
    ghost = order_body(BASE + 910 + partition)
    ghost["line_items"][1]["sku"] = "GHOST-MUG"
    big = order_body(BASE + 920 + partition, quantity=100)
    # a refund of an order nothing was captured for: the ledger refuses it
    refund = _refund(BASE + 930 + partition, partition)
    return {
        "malformed": raw(f"p{partition}-malformed", "orders/create", b'{"id": 1, "line_items": ['),
        "schema": raw(f"p{partition}-schema", "orders/create", schema),
        "unknown_sku": raw(f"p{partition}-unknown_sku", "orders/create", ghost),
        "high_value": raw(f"p{partition}-high_value", "orders/create", big),
        "refused": raw(f"p{partition}-refused", "charge.refunded", refund, instance="stripe"),
    }


def _key_on(partition: int, name: str) -> str:
    """A partition key for ``name`` that lands on ``partition``."""
    for salt in range(10_000):
        key = f"{name}/{salt}"
        if partition_of(key, PARTITIONS) == partition:
            return key
    raise AssertionError("no key found")  # pragma: no cover


def _open(url: str, prefix: str, redis_url: str) -> tuple[HubRuntime, Redis]:
    client = Redis.from_url(redis_url)
    broker = {
        "kind": "redis",
        "url": redis_url,
        "partitions": PARTITIONS,
        "prefix": prefix,
        "batch_size": 50,
        "claim_idle_ms": 1000,
    }
    runtime = open_hub(
        url,
        stock={"TSHIRT-RED-M": 1000, "MUG-WHITE": 500},
        governance=RULES,
        broker=broker,
        fast_path=RedisFastPath(client, prefix=f"{prefix}:idem", claim_ttl=1),
    )
    return runtime, client


async def test_poison_never_blocks_and_fixed_messages_replay_exactly_once(
    tmp_path: Path, redis_url: str
) -> None:
    """Pass criteria: see the module docstring (first scenario)."""
    prefix = f"hub-test:{uuid.uuid4().hex[:8]}"
    runtime, client = _open(str(tmp_path / "ledger.sqlite3"), prefix, redis_url)
    try:
        # The orders the refused refunds belong to exist before the run (2 x TSHIRT each), still
        # pending payment: nothing collected, so a refund has nothing to come out of.
        setup = [
            raw(f"base{p}", "orders/create", order_body(BASE + 930 + p, financial_status="pending"))
            for p in range(4)
        ]
        assert all(r.terminal for r in (await process_all(runtime.router, setup)).values())
        poison = {p: _poison(p) for p in range(PARTITIONS)}
        raws: list[RawMessage] = []
        keys: list[str] = []
        for partition, messages in poison.items():  # poison first, at the head of each partition
            for message in messages.values():
                raws.append(message)
                keys.append(_key_on(partition, message.id))
        clean = [raw(f"clean{n}", "orders/create", order_body(BASE + n)) for n in range(CLEAN)]
        raws += clean
        keys += [_key_on(n % PARTITIONS, m.id) for n, m in enumerate(clean)]
        await publish(runtime, raws, keys)

        expected_processed = 2 + len(setup) + CLEAN
        async with running_worker(runtime):
            await wait_until(
                lambda: runtime.ledger.processed_count() >= expected_processed, 60, "clean orders"
            )
            await wait_until(lambda: _open_letters(runtime) >= 3 * PARTITIONS, 30, "dead letters")
            for _ in range(100):
                if await pending(runtime) == 0:
                    break
                await _sleep()
        assert await pending(runtime) == 0
        assert runtime.ledger.processed_count() == expected_processed
        for n in range(CLEAN):
            order = runtime.ledger.order(f"shopify_us:{BASE + n}", tenant="acme")
            assert order is not None
            assert order["state"] == "allocated"

        letters = {row.raw.id: row for row in runtime.operations.dead_letters(limit=1000)}
        held = {row.message.raw.id: row for row in runtime.operations.held(limit=1000)}
        for messages in poison.values():
            assert letters[messages["malformed"].id].stage == "translate"
            assert "not valid JSON" in letters[messages["malformed"].id].reason
            assert "currency" in letters[messages["schema"].id].reason
            assert letters[messages["refused"].id].stage == "deliver"
            assert "above what was captured" in letters[messages["refused"].id].reason
            ghost = held[messages["unknown_sku"].id]
            assert (ghost.queue, ghost.rule) == ("exception", "master_data")
            assert "GHOST-MUG" in ghost.reason
            big = held[messages["high_value"].id]
            assert (big.queue, big.rule) == ("review", "high_value")
        assert len(letters) == 3 * PARTITIONS
        assert len(held) == 2 * PARTITIONS
        check_invariants(
            runtime.ledger, accepted=[m.id for m in raws + setup], direct=2
        )  # poison waits in its queues; nothing is lost or applied

        # -- the fixes, then replays: each applies once, a second replay is a duplicate --------
        runtime.ledger.upsert_sku("acme", "GHOST-MUG")
        runtime.ledger.apply([_receipt("GHOST-MUG", 10)])
        runtime.catalog.reload()
        enlarged = [  # the captures the refunds need
            raw(
                f"capture{p}",
                "payment_intent.succeeded",
                stripe_capture(BASE + 930 + p, event_id=f"evt_capture_{p}"),
                instance="stripe",
            )
            for p in range(4)
        ]
        assert all(
            r.dispositions == [Disposition.APPLIED]
            for r in (await process_all(runtime.router, enlarged)).values()
        )
        fixed: list[RawMessage] = []
        for partition, messages in poison.items():
            good = order_body(BASE + 940 + partition)
            fixed.append(dataclasses.replace(messages["malformed"], body=_json(good)))
            schema = order_body(BASE + 900 + partition)
            fixed.append(dataclasses.replace(messages["schema"], body=_json(schema)))
            fixed.append(letters[messages["refused"].id].raw)  # replayed as it is
        for attempt, expected in ((1, Disposition.APPLIED), (2, Disposition.DUPLICATE)):
            results = await process_all(runtime.router, fixed)
            assert {m.id: results[m.id].dispositions for m in fixed} == {
                m.id: [expected] for m in fixed
            }, attempt
            for messages in poison.values():
                row = held[messages["unknown_sku"].id]
                resumed = await runtime.router.resume(
                    row.message, actor="ops", envelope=row.message.envelope
                )
                assert resumed.dispositions == [expected]
                row = held[messages["high_value"].id]
                assert (await runtime.router.resume(row.message, actor="ops")).dispositions == [
                    expected
                ]
        runtime.operations.mark_replayed([row.id for row in letters.values()])
        for row in held.values():
            runtime.operations.decide(row.id, status="approved", actor="ops")
        for partition in range(PARTITIONS):
            order = runtime.ledger.order(f"shopify_us:{BASE + 910 + partition}", tenant="acme")
            assert order is not None
            assert order["state"] == "allocated"
        report = check_invariants(
            runtime.ledger, accepted=[m.id for m in raws + setup + enlarged], direct=3
        )
        assert report.dead_letters == 0
        assert not report.held
        assert report.processed["applied"] == 3 + len(setup) + CLEAN + 4 + 5 * PARTITIONS
    finally:
        runtime.close()
        await client.aclose()


async def test_governance_review_exception_and_straight_through(tmp_path: Path) -> None:
    """Pass criteria: see the module docstring (second scenario)."""
    runtime = open_hub(
        str(tmp_path / "ledger.sqlite3"),
        stock={"TSHIRT-RED-M": 1000, "MUG-WHITE": 500},
        governance=RULES,
    )
    try:
        runtime.ledger.db.execute(
            "INSERT INTO catalog_prices (tenant, channel, sku, currency, amount) "
            "VALUES ('acme', 'shopify_us', 'TSHIRT-RED-M', 'USD', '25.00')"
        )
        runtime.catalog.reload()
        mispriced = order_body(BASE + 3)
        line = mispriced["line_items"][0]
        line["price"] = "40.00"
        if "price_set" in line:  # Shopify's shop-currency amount is the one the hub reads
            line["price_set"]["shop_money"]["amount"] = "40.00"
        clean = raw("clean", "orders/create", order_body(BASE + 1))
        big = raw("big", "orders/create", order_body(BASE + 2, quantity=100))
        wrong = raw("wrong", "orders/create", mispriced)
        results = await process_all(runtime.router, [clean, big, wrong])
        assert results["clean"].dispositions == [Disposition.APPLIED]
        assert results["big"].dispositions == [Disposition.REVIEW]
        assert results["wrong"].dispositions == [Disposition.EXCEPTION]
        assert "pricing" in results["wrong"].reasons[0]

        assert _state(runtime, BASE + 1) == "allocated"
        assert runtime.ledger.order(f"shopify_us:{BASE + 2}", tenant="acme") is None
        assert _allocated(runtime) == 2  # only the clean order holds stock
        [review] = runtime.operations.held(queue="review")
        assert review.rule == "high_value"

        approved = await runtime.router.resume(review.message, actor="ops@acme")
        runtime.operations.decide(review.id, status="approved", actor="ops@acme")
        assert approved.dispositions == [Disposition.APPLIED]
        assert _state(runtime, BASE + 2) == "allocated"
        assert _allocated(runtime) == 2 + 100
        [exception] = runtime.operations.held(queue="exception")
        assert exception.rule == "pricing"
        assert runtime.ledger.order(f"shopify_us:{BASE + 3}", tenant="acme") is None
        report = check_invariants(runtime.ledger, accepted=["clean", "big", "wrong"], direct=2)
        assert report.held == {"exception": 1}
        approvals = runtime.ledger.db.query(
            "SELECT actor FROM audit_log WHERE stage = 'review' AND outcome = 'approved'"
        )
        assert approvals == [("ops@acme",)]
    finally:
        runtime.close()


def _state(runtime: HubRuntime, order_id: int) -> str | None:
    order = runtime.ledger.order(f"shopify_us:{order_id}", tenant="acme")
    return None if order is None else str(order["state"])


def _allocated(runtime: HubRuntime) -> int:
    return sum(p.allocated for p in runtime.ledger.positions("acme", sku="TSHIRT-RED-M"))


def _open_letters(runtime: HubRuntime) -> int:
    return len(runtime.operations.dead_letters(limit=1000))


def _refund(order_id: int, partition: int) -> dict[str, Any]:
    """Stripe's ``charge.refunded`` of 23.40 USD of ``order_id`` (a partial refund)."""
    import copy
    import json

    from tests.faults.hubkit import FIXTURES

    path = FIXTURES / "stripe" / "fixtures" / "charge_refunded_partial.json"
    data = copy.deepcopy(json.loads(path.read_text()))
    data["id"] = f"evt_refund_{partition}"
    charge = data["data"]["object"]
    charge["id"] = f"ch_refund_{partition}"
    charge["payment_intent"] = f"pi_evt_capture_{partition}"
    charge["metadata"] = {"order_id": str(order_id), "order_channel": "shopify_us"}
    for index, refund in enumerate(charge.get("refunds", {}).get("data", [])):
        refund["id"] = f"re_{partition}_{index}"
        refund["charge"] = charge["id"]
        refund["payment_intent"] = charge["payment_intent"]
    return data


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode()


def _receipt(sku: str, quantity: int) -> Any:
    from tests.support import receipt

    return receipt(sku, quantity)


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.1)
