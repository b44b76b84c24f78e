"""An order cancelled after its release tells its node: one ``order.release_cancelled`` outbox
event per released request the ledger cancels, on SQLite and PostgreSQL.

The event names the order, the request, the node, when the request was released and why; never
the buyer. A request that already shipped (or closed short) is not cancelled, so its node is told
nothing; neither is anyone about an order that was never released.
"""

from __future__ import annotations

import pytest

from hub.ledger import Ledger
from tests.ledger.factory import TENANT, at, order, receipt, setup_master_data
from tests.ledger.test_reconciliation import _outcomes, line, request, shipped

CANCELLED = "order.release_cancelled"


@pytest.fixture
def released(ledger: Ledger) -> Ledger:
    """Order 1 (3 x SKU-A on line l1, 1 x SKU-B on l2) allocated at wh_a and released there as
    request req-1; order 2 (1 x SKU-C) allocated, never released."""
    setup_master_data(ledger, skus=("SKU-A", "SKU-B", "SKU-C"))
    outcomes = _outcomes(
        ledger,
        [
            receipt("ra", "SKU-A", "wh_a", 10),
            receipt("rb", "SKU-B", "wh_a", 10),
            receipt("rc", "SKU-C", "wh_a", 10),
            order("1", [("l1", "SKU-A", 3), ("l2", "SKU-B", 1)]),
            request("req-1", "1", "wh_a", [("l1", "SKU-A", 3), ("l2", "SKU-B", 1)]),
            order("2", [("l1", "SKU-C", 1)]),
        ],
    )
    assert outcomes == ["applied"] * 6
    return ledger


def _cancellations(ledger: Ledger) -> list[dict[str, object]]:
    return [
        dict(event.payload) for event in ledger.unpublished(1000) if event.event_type == CANCELLED
    ]


def _cancel(version: int = 2, *, event_type: str = "order.cancelled") -> object:
    return order(
        "1", [("l1", "SKU-A", 3), ("l2", "SKU-B", 1)], version=version, event_type=event_type
    )


def test_cancelling_a_released_order_emits_one_event_for_its_request(released: Ledger) -> None:
    assert _outcomes(released, [_cancel()]) == ["applied"]
    [event] = [e for e in released.unpublished(1000) if e.event_type == CANCELLED]
    assert event.tenant == TENANT
    assert event.key == "web:1"
    assert dict(event.payload) == {
        "order": "web:1",
        "request_id": "req-1",
        "location": "wh_a",
        "requested_at": at(10).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "reason": "order cancelled: open requests cancelled",
    }


def test_a_redelivered_or_later_cancellation_emits_nothing_more(released: Ledger) -> None:
    assert _outcomes(released, [_cancel()]) == ["applied"]
    assert _outcomes(released, [_cancel()]) == ["duplicate"]
    # a later snapshot of the cancelled order: applied, but its requests are closed already
    assert _outcomes(released, [_cancel(3, event_type="order.updated")]) == ["applied"]
    assert len(_cancellations(released)) == 1


def test_a_partly_shipped_request_is_still_cancelled_at_its_node(released: Ledger) -> None:
    split = shipped("s1", "1", "wh_a", [line("l2", "SKU-B", 1)], request_id="req-1")
    assert _outcomes(released, [split, _cancel()]) == ["applied", "applied"]
    assert [c["request_id"] for c in _cancellations(released)] == ["req-1"]


def test_a_request_that_shipped_is_not_cancelled_at_its_node(released: Ledger) -> None:
    whole = shipped(
        "s1", "1", "wh_a", [line("l1", "SKU-A", 3), line("l2", "SKU-B", 1)], request_id="req-1"
    )
    assert _outcomes(released, [whole, _cancel()]) == ["applied", "applied"]
    assert _cancellations(released) == []


def test_an_order_never_released_tells_no_node(released: Ledger) -> None:
    cancel = order("2", [("l1", "SKU-C", 1)], version=2, event_type="order.cancelled")
    assert _outcomes(released, [cancel]) == ["applied"]
    assert _cancellations(released) == []


def test_only_the_requests_still_open_are_cancelled_each_once(ledger: Ledger) -> None:
    """An order released as two requests: the one that shipped is left alone, the other is
    cancelled at its node once, and each event names its own request."""
    setup_master_data(ledger, skus=("SKU-A", "SKU-B"))
    outcomes = _outcomes(
        ledger,
        [
            receipt("ra", "SKU-A", "wh_a", 10),
            receipt("rb", "SKU-B", "wh_b", 10),
            order("1", [("l1", "SKU-A", 3), ("l2", "SKU-B", 1)]),
            request("req-a", "1", "wh_a", [("l1", "SKU-A", 3)]),
            request("req-b", "1", "wh_b", [("l2", "SKU-B", 1)], minutes=11),
            shipped("s1", "1", "wh_b", [line("l2", "SKU-B", 1)], request_id="req-b"),
            _cancel(),
            _cancel(3, event_type="order.updated"),
        ],
    )
    assert outcomes == ["applied"] * 8
    assert [(c["request_id"], c["location"]) for c in _cancellations(ledger)] == [("req-a", "wh_a")]
