"""The relay stores the node's reference for a release (``Ledger.note_node_reference``) after the
node answered, and a failure to store it neither fails nor repeats the release.

A fake node connector and a real SQLite ledger holding the released request; the request the
relay rebuilds from the ledger is stubbed (``hub.release.run.request_for``), as only its id and
node matter here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from hub.config.model import Deployment
from hub.ledger import Ledger
from hub.outbound import dispatcher_for
from router.outbound import OutboxEvent
from router.ports import DeadLetter
from tests.ledger.factory import order, receipt, setup_master_data
from tests.ledger.test_reconciliation import request
from tests.support import acme_tenant

REQUEST_ID = "release/node_a/20260302-w1/web:1"


class _Node:
    name: ClassVar[str] = "node"
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested", "fulfillment.cancelled")

    def __init__(self, answer: str | None = "7788") -> None:
        self.answer = answer
        self.requests: list[Any] = []

    def request_fulfillment(self, request: Any) -> str | None:
        self.requests.append(request)
        return self.answer


class _Letters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def put(self, letters: Any) -> None:
        self.letters.extend(letters)


class _BrokenLedger:
    """A ledger whose write of the reference fails (the database went away meanwhile)."""

    def __init__(self) -> None:
        self.calls = 0

    def note_node_reference(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        raise RuntimeError("connection lost")


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    url = str(tmp_path / "ledger.sqlite3")
    Ledger.migrate(url)
    with Ledger(url) as opened:
        setup_master_data(opened, skus=("SKU-A",), locations=("node_a",))
        results = opened.apply(
            [
                receipt("ra", "SKU-A", "node_a", 5),
                order("1", [("l1", "SKU-A", 1)]),
                request(REQUEST_ID, "1", "node_a", [("l1", "SKU-A", 1)]),
            ]
        )
        assert [r.outcome for r in results] == ["applied"] * 3
        yield opened


@pytest.fixture(autouse=True)
def _rebuilt_request(monkeypatch: pytest.MonkeyPatch) -> None:
    def request_for(reader: Any, tenant: str, payload: Any, policy: Any, at: Any) -> Any:
        return SimpleNamespace(request_id=payload["request_id"], location=payload["location"])

    monkeypatch.setattr("hub.release.run.request_for", request_for)


def _runtime(node: _Node, ledger: Any) -> Any:
    tenant = acme_tenant()
    tenant["locations"] = {"node_a": {"kind": "3pl", "priority": 1}}
    tenant["connectors"]["at_a"] = {
        "type": "shipbob",
        "location": "node_a",
        "settings": {"channel_id": "1"},
        "secrets": {"access_token": "env:T", "webhook_secrets": ["env:H"]},
    }
    tenant["routes"].append({"from": "ledger", "events": ["fulfillment.requested"], "to": ["at_a"]})
    return SimpleNamespace(
        deployment=Deployment.model_validate({"tenants": {"acme": tenant}}),
        instances={("acme", "at_a"): node},
        operations=_Letters(),
        ledger=ledger,
    )


def _released(event_id: int = 11) -> OutboxEvent:
    return OutboxEvent(
        id=event_id,
        tenant="acme",
        event_type="order.released",
        key="web:1",
        payload={"order": "web:1", "location": "node_a", "request_id": REQUEST_ID},
        created_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )


def _stored(ledger: Ledger) -> str | None:
    [row] = ledger.db.query(
        "SELECT node_reference FROM fulfilment_requests WHERE request_id = ?", (REQUEST_ID,)
    )
    return None if row[0] is None else str(row[0])


async def test_the_relay_stores_the_nodes_reference_with_the_request(ledger: Ledger) -> None:
    node = _Node("7788")
    runtime = _runtime(node, ledger)
    await dispatcher_for(runtime, reader=object()).dispatch([_released(11)])
    assert len(node.requests) == 1
    assert runtime.operations.letters == []
    assert _stored(ledger) == "7788"
    view = ledger.order("web:1", tenant="acme")
    assert view is not None
    [noted] = [e for e in view["timeline"] if e["event"] == "fulfillment.node_reference"]
    assert noted["message_id"] == "outbox/11"  # the outbox event that reported it
    assert noted["detail"] == f"request {REQUEST_ID} at node_a: node reference 7788"


async def test_a_node_that_answers_no_reference_stores_nothing(ledger: Ledger) -> None:
    runtime = _runtime(_Node(None), ledger)
    await dispatcher_for(runtime, reader=object()).dispatch([_released()])
    assert runtime.operations.letters == []
    assert _stored(ledger) is None


async def test_failing_to_store_it_neither_fails_nor_repeats_the_release(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node, broken = _Node("7788"), _BrokenLedger()
    runtime = _runtime(node, broken)
    with caplog.at_level(logging.INFO, logger="hub.outbound"):
        await dispatcher_for(runtime, reader=object()).dispatch([_released()])
    assert broken.calls == 1
    assert len(node.requests) == 1  # released once: no retry of the node's call
    assert runtime.operations.letters == []  # and no dead letter
    released = [r for r in caplog.records if r.levelno == logging.INFO and "released" in r.message]
    assert "its reference there: 7788" in released[0].getMessage()
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"could not store {REQUEST_ID}'s reference at node_a (7788)" in warning.getMessage()
