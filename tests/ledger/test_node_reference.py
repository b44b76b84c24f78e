"""``Ledger.note_node_reference``: the node's own id for a released request (a ShipBob order id,
an EasyPost shipment id), on SQLite and PostgreSQL.

Stored once, the same value again is a no-op, a different later value replaces it and the
order's timeline records each value; an unknown request is a clear error, never a silent row.
"""

from __future__ import annotations

import pytest

from hub.fulfilment_report import FulfilmentReports
from hub.ledger import Ledger, UnknownRequestError
from hub.reports import Reports
from tests.ledger.factory import TENANT, order, receipt, setup_master_data
from tests.ledger.test_reconciliation import _outcomes, request

EVENT = "fulfillment.node_reference"


@pytest.fixture
def released(ledger: Ledger) -> Ledger:
    """Order 1 (2 x SKU-A) released to wh_a as req-1; order 2 (1 x SKU-B) released as req-2."""
    setup_master_data(ledger, skus=("SKU-A", "SKU-B"))
    outcomes = _outcomes(
        ledger,
        [
            receipt("ra", "SKU-A", "wh_a", 10),
            receipt("rb", "SKU-B", "wh_a", 10),
            order("1", [("l1", "SKU-A", 2)]),
            request("req-1", "1", "wh_a", [("l1", "SKU-A", 2)]),
            order("2", [("l1", "SKU-B", 1)]),
            request("req-2", "2", "wh_a", [("l1", "SKU-B", 1)]),
        ],
    )
    assert outcomes == ["applied"] * 6
    return ledger


def _stored(ledger: Ledger, request_id: str) -> tuple[str | None, str | None]:
    [row] = ledger.db.query(
        "SELECT node_reference, node_reference_at FROM fulfilment_requests "
        "WHERE tenant = ? AND request_id = ?",
        (TENANT, request_id),
    )
    return row[0], row[1]


def _noted(ledger: Ledger, key: str) -> list[tuple[str, str, str]]:
    view = ledger.order(key, tenant=TENANT)
    assert view is not None
    return [
        (entry["state"], entry["detail"], entry["message_id"])
        for entry in view["timeline"]
        if entry["event"] == EVENT
    ]


def test_a_first_reference_is_stored_and_written_to_the_timeline(released: Ledger) -> None:
    assert released.note_node_reference(TENANT, "req-1", "7788", source="outbox/5") == "recorded"
    reference, at = _stored(released, "req-1")
    assert reference == "7788"
    assert at is not None
    assert at.endswith("Z")
    assert _stored(released, "req-2") == (None, None)  # only the request named
    assert _noted(released, "web:1") == [
        ("released", "request req-1 at wh_a: node reference 7788", "outbox/5")
    ]
    assert _noted(released, "web:2") == []


def test_the_same_reference_again_changes_nothing(released: Ledger) -> None:
    released.note_node_reference(TENANT, "req-1", "shp_1")
    first = _stored(released, "req-1")
    assert released.note_node_reference(TENANT, "req-1", "shp_1") == "unchanged"
    assert _stored(released, "req-1") == first  # not even the moment
    assert len(_noted(released, "web:1")) == 1


def test_a_different_reference_replaces_it_and_the_timeline_keeps_both(released: Ledger) -> None:
    released.note_node_reference(TENANT, "req-1", "7788")
    assert released.note_node_reference(TENANT, "req-1", "7790", source="outbox/9") == "replaced"
    assert _stored(released, "req-1")[0] == "7790"
    assert _noted(released, "web:1") == [
        ("released", "request req-1 at wh_a: node reference 7788", ""),
        ("released", "request req-1 at wh_a: node reference 7788 -> 7790", "outbox/9"),
    ]


def test_an_unknown_request_is_a_clear_error_and_writes_nothing(released: Ledger) -> None:
    with pytest.raises(UnknownRequestError, match="no fulfilment request 'req-9' for tenant"):
        released.note_node_reference(TENANT, "req-9", "7788")
    with pytest.raises(UnknownRequestError):  # another tenant's request is not this one's
        released.note_node_reference("globex", "req-1", "7788")
    assert _stored(released, "req-1") == (None, None)
    assert _noted(released, "web:1") == []


def test_an_empty_reference_is_refused(released: Ledger) -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        released.note_node_reference(TENANT, "req-1", "  ")
    assert _stored(released, "req-1") == (None, None)


def test_the_order_status_shows_the_reference(released: Ledger, ledger_url: str) -> None:
    released.note_node_reference(TENANT, "req-1", "shp_0a1b")
    reports = Reports(ledger_url)
    try:
        status = FulfilmentReports(reports).perfect_order(TENANT, "web:1")
    finally:
        reports.close()
    assert status is not None
    [shown] = status["requests"]
    assert shown["request_id"] == "req-1"
    assert shown["node_reference"] == "shp_0a1b"
    assert shown["node_reference_at"] == _stored(released, "req-1")[1]
