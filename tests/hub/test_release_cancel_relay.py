"""The relay's side of a release cancelled after the fact (``order.release_cancelled``).

It goes to the instance serving the node the request was released to, through the route that
sends that instance ``fulfillment.requested`` (the cancellation is implied); a connector that
cannot cancel there makes it a dead letter telling the operator to cancel by hand; a request's
release and its cancellation never reach the node at the same time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from canonical.fulfillment import FulfillmentCancellation
from hub.config.model import Deployment
from hub.outbound import RequestLocks, cancellation_for, dispatcher_for
from router.outbound import OutboxEvent
from router.ports import DeadLetter
from tests.support import acme_tenant


class _Cancels:
    name: ClassVar[str] = "node"
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested", "fulfillment.cancelled")

    def __init__(self) -> None:
        self.cancelled: list[FulfillmentCancellation] = []

    def cancel_fulfillment(self, cancellation: FulfillmentCancellation) -> str:
        self.cancelled.append(cancellation)
        return f"cancelled {cancellation.request_id}"


class _CannotCancel:
    name: ClassVar[str] = "oldnode"
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested",)


class _Letters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def put(self, letters: Any) -> None:
        self.letters.extend(letters)


def _runtime(instances: dict[str, Any], events: list[str]) -> Any:
    tenant = acme_tenant()
    tenant["locations"] = {
        "node_a": {"kind": "3pl", "priority": 1},
        "node_b": {"kind": "3pl", "priority": 2},
    }
    for name, location in (("at_a", "node_a"), ("at_b", "node_b")):
        tenant["connectors"][name] = {
            "type": "shipbob",
            "location": location,
            "settings": {"channel_id": "1"},
            "secrets": {"access_token": "env:T", "webhook_secrets": ["env:H"]},
        }
    tenant["routes"].append({"from": "ledger", "events": events, "to": ["at_a", "at_b"]})
    deployment = Deployment.model_validate({"tenants": {"acme": tenant}})
    return SimpleNamespace(
        deployment=deployment,
        instances={("acme", name): connector for name, connector in instances.items()},
        operations=_Letters(),
    )


def _event(location: str = "node_a") -> OutboxEvent:
    return OutboxEvent(
        id=7,
        tenant="acme",
        event_type="order.release_cancelled",
        key="shopify_us:9101",
        payload={
            "order": "shopify_us:9101",
            "request_id": f"release/{location}/20260302-w1/shopify_us:9101",
            "location": location,
            "requested_at": "2026-03-02T15:00:00.000000Z",
            "reason": "order cancelled: open requests cancelled",
        },
        created_at=datetime(2026, 3, 2, 16, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "events", [["fulfillment.requested"], ["fulfillment.cancelled"], ["*"]], ids=str
)
async def test_the_cancellation_goes_to_the_node_it_was_released_to(events: list[str]) -> None:
    at_a, at_b = _Cancels(), _Cancels()
    runtime = _runtime({"at_a": at_a, "at_b": at_b}, events)
    await dispatcher_for(runtime).dispatch([_event("node_a")])
    [sent] = at_a.cancelled
    assert at_b.cancelled == []
    assert runtime.operations.letters == []
    assert sent.request_id == "release/node_a/20260302-w1/shopify_us:9101"
    assert sent.order.key == "shopify_us:9101"
    assert sent.location == "node_a"
    assert sent.requested_at == datetime(2026, 3, 2, 15, tzinfo=UTC)


async def test_a_route_without_fulfilment_sends_no_cancellation() -> None:
    at_a = _Cancels()
    runtime = _runtime({"at_a": at_a, "at_b": _Cancels()}, ["availability.changed"])
    await dispatcher_for(runtime).dispatch([_event()])
    assert at_a.cancelled == []


async def test_a_node_that_cannot_cancel_is_a_dead_letter_for_the_operator() -> None:
    runtime = _runtime({"at_a": _CannotCancel(), "at_b": _Cancels()}, ["fulfillment.requested"])
    await dispatcher_for(runtime).dispatch([_event()])
    [letter] = runtime.operations.letters
    assert letter.stage == "outbound"
    assert letter.raw.instance == "at_a"
    assert letter.raw.event == "order.release_cancelled"
    assert "PermanentError" in letter.reason
    assert "cannot cancel at the node: cancel it there by hand" in letter.reason


def test_the_cancellation_carries_no_personal_data() -> None:
    cancellation = cancellation_for("acme", _event().payload)
    assert set(cancellation.model_dump()) == {
        "type", "tenant", "request_id", "order", "location", "reason", "requested_at",
        "cancelled_at",
    }  # fmt: skip


async def test_a_cancellation_waits_for_the_release_of_its_request() -> None:
    locks, order = RequestLocks(), []

    async def release() -> None:
        async with locks.hold("acme", "req-1"):
            order.append("release starts")
            await asyncio.sleep(0.05)  # creating the node's order
            order.append("release done")

    async def cancel(request_id: str) -> None:
        async with locks.hold("acme", request_id):
            order.append(f"cancel {request_id}")

    await asyncio.gather(release(), cancel("req-1"), cancel("req-2"))
    assert order == ["release starts", "cancel req-2", "release done", "cancel req-1"]
    assert locks._locks == {}  # nothing kept once a request is done
