"""Shipment confirmations reconciled against the released request, on SQLite and PostgreSQL.

Each test releases an order with a canonical ``fulfillment.requested`` (what ``hub release run``
sends), confirms a shipment as a node would, and checks three things: the exception the mismatch
opened (kind and figures), what the ledger booked as physically shipped (positions and journal),
and the request's progress.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canonical import (
    Address,
    Envelope,
    FulfillmentRequest,
    Lot,
    MovementKind,
    OrderRef,
    Package,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    Shipment,
    ShipmentLine,
    StockMovement,
)
from canonical.fulfillment import FulfillmentLine
from canonical.inventory import Disposition
from hub.fulfilment_report import FulfilmentReports
from hub.ledger import Ledger
from hub.reports import Reports
from tests.ledger.factory import TENANT, at, order, receipt, setup_master_data, wrap

UPS = "1Z999AA10123456784"
UPS_2 = "1Z999AA10123456785"


@pytest.fixture
def reads(ledger_url: str) -> Iterator[FulfilmentReports]:
    reports = Reports(ledger_url)
    try:
        yield FulfilmentReports(reports)
    finally:
        reports.close()


def _query(reads: FulfilmentReports, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    return reads._query(sql, params)


def request(
    request_id: str,
    external_id: str,
    location: str,
    lines: list[tuple[str, str, int] | tuple[str, str, int, Lot]],
    *,
    minutes: int = 10,
) -> Envelope:
    payload = FulfillmentRequest(
        tenant=TENANT,
        request_id=request_id,
        order=OrderRef(channel="web", external_id=external_id),
        location=location,
        lines=[
            FulfillmentLine(
                line_id=line[0],
                sku=line[1],
                quantity=line[2],
                lot=line[3] if len(line) > 3 else None,
            )
            for line in lines
        ],
        ship_to=Address(country="US"),
        carrier="ups",
        requested_at=at(minutes),
        ship_by=at(minutes + 240),
        commit_by=at(minutes + 24 * 60),
    )
    return wrap(payload, "fulfillment.requested", request_id)


def shipped(
    shipment_id: str,
    external_id: str,
    location: str,
    lines: list[ShipmentLine],
    *,
    tracking: list[str] | None = None,
    carrier: str | None = "UPS",
    closes: bool = False,
    request_id: str | None = None,
    minutes: int = 60,
) -> Envelope:
    payload = Shipment(
        tenant=TENANT,
        shipment_id=shipment_id,
        order=OrderRef(channel="web", external_id=external_id),
        location=location,
        request_id=request_id,
        carrier=carrier,
        packages=[Package(tracking_number=n) for n in ([UPS] if tracking is None else tracking)],
        lines=lines,
        shipped_at=at(minutes),
        closes_request=closes,
    )
    return wrap(payload, "shipment.created", shipment_id, *payload.tracking_numbers)


def line(line_id: str | None, sku: str, quantity: int, **extra: Any) -> ShipmentLine:
    return ShipmentLine(line_id=line_id, sku=sku, quantity=quantity, **extra)


def _outcomes(ledger: Ledger, envelopes: list[Envelope]) -> list[str]:
    return [str(result.outcome) for result in ledger.apply(envelopes)]


def _exceptions(reads: FulfilmentReports, status: str = "all") -> list[tuple[Any, ...]]:
    return [
        (e["kind"], e["line_id"], e["sku"], e["expected"], e["actual"])
        for e in reads.fulfilment_exceptions(TENANT, status)
    ]


def _position(ledger: Ledger, sku: str, location: str) -> tuple[int, int]:
    [position] = ledger.positions(TENANT, sku=sku, location=location)
    return position.on_hand, position.allocated


def _request_state(reads: FulfilmentReports, request_id: str) -> tuple[str, list[int]]:
    [(status,)] = _query(
        reads,
        "SELECT status FROM fulfilment_requests WHERE tenant = ? AND request_id = ?",
        (TENANT, request_id),
    )
    shipped_units = [
        int(r[0])
        for r in _query(
            reads,
            "SELECT shipped FROM fulfilment_request_lines WHERE tenant = ? AND request_id = ? "
            "ORDER BY seq",
            (TENANT, request_id),
        )
    ]
    return str(status), shipped_units


def _state(ledger: Ledger, key: str) -> str:
    view = ledger.order(key, TENANT)
    assert view is not None
    return str(view["state"])


def _journal_matches_positions(ledger: Ledger) -> None:
    journal = ledger.journal_totals()
    for position in ledger.positions(TENANT):
        totals = journal[(TENANT, position.sku, position.location)]
        assert totals["on_hand"] == position.on_hand
        assert totals["allocated"] == position.allocated


@pytest.fixture
def released(ledger: Ledger) -> Ledger:
    """Order 1 (3 x SKU-A on line l1, 1 x SKU-B on l2) allocated at wh_a and released there."""
    setup_master_data(ledger, skus=("SKU-A", "SKU-B", "SKU-C"))
    ledger.upsert_sku(TENANT, "SKU-A", gtin="00012345678905")
    ledger.upsert_sku(TENANT, "SKU-B", gtin="00098765432109")
    outcomes = _outcomes(
        ledger,
        [
            receipt("ra", "SKU-A", "wh_a", 10),
            receipt("rb", "SKU-B", "wh_a", 10),
            receipt("rc", "SKU-C", "wh_a", 10),
            order("1", [("l1", "SKU-A", 3), ("l2", "SKU-B", 1)]),
            request("req-1", "1", "wh_a", [("l1", "SKU-A", 3), ("l2", "SKU-B", 1)]),
        ],
    )
    assert outcomes == ["applied"] * 5
    return ledger


def test_a_split_shipment_completed_later_is_tracked_and_opens_no_exception(
    released: Ledger, reads: FulfilmentReports
) -> None:
    first = shipped("s1", "1", "wh_a", [line("l1", "SKU-A", 1)])
    assert _outcomes(released, [first]) == ["applied"]
    assert _request_state(reads, "req-1") == ("partially_shipped", [1, 0])
    assert _state(released, "web:1") == "partially_shipped"
    second = shipped(
        "s2", "1", "wh_a", [line("l1", "SKU-A", 2), line("l2", "SKU-B", 1)], tracking=[UPS_2]
    )
    assert _outcomes(released, [second]) == ["applied"]
    assert _request_state(reads, "req-1") == ("shipped", [3, 1])
    assert _state(released, "web:1") == "shipped"
    assert _exceptions(reads) == []
    assert _position(released, "SKU-A", "wh_a") == (7, 0)
    status = reads.perfect_order(TENANT, "web:1")
    assert status is not None
    assert status["perfect"] is True, status


def test_a_short_ship_opens_an_exception_and_sends_the_remainder_back_to_release(
    released: Ledger, reads: FulfilmentReports
) -> None:
    short = shipped(
        "s1", "1", "wh_a", [line("l1", "SKU-A", 2), line("l2", "SKU-B", 1)], closes=True
    )
    assert _outcomes(released, [short]) == ["applied"]
    assert _exceptions(reads) == [("short_ship", "l1", "SKU-A", 3, 2)]
    assert _request_state(reads, "req-1") == ("short_closed", [2, 1])
    # exactly what shipped left: 2 of A; the third unit stays reserved for the next release
    assert _position(released, "SKU-A", "wh_a") == (8, 1)
    [(flag,)] = _query(
        reads, "SELECT released FROM orders WHERE tenant = ? AND order_key = ?", (TENANT, "web:1")
    )
    assert int(flag) == 0
    status = reads.perfect_order(TENANT, "web:1")
    assert status is not None
    assert status["components"]["complete"] is False


def test_a_wrong_sku_ships_that_sku_and_leaves_the_ordered_line_open(
    released: Ledger, reads: FulfilmentReports
) -> None:
    wrong = shipped("s1", "1", "wh_a", [line("l1", "SKU-C", 3), line("l2", "SKU-B", 1)])
    assert _outcomes(released, [wrong]) == ["applied"]
    assert _exceptions(reads) == [("wrong_item", "l1", "SKU-C", 0, 3)]
    assert _position(released, "SKU-C", "wh_a") == (7, 0)  # C physically left
    assert _position(released, "SKU-A", "wh_a") == (10, 3)  # A still on the shelf, reserved
    view = released.order("web:1", TENANT)
    assert view is not None
    [l1] = [x for x in view["lines"] if x["line_id"] == "l1"]
    assert l1["shipped"] == 0
    assert _request_state(reads, "req-1") == ("partially_shipped", [0, 1])
    _journal_matches_positions(released)


def test_a_scanned_barcode_of_another_sku_is_a_wrong_item_of_that_sku(
    released: Ledger, reads: FulfilmentReports
) -> None:
    scanned = shipped(
        "s1",
        "1",
        "wh_a",
        [line("l2", "SKU-B", 1, scanned_gtins=["00012345678905"])],  # SKU-A's GTIN
    )
    assert _outcomes(released, [scanned]) == ["applied"]
    kinds = [row[0] for row in _exceptions(reads)]
    assert kinds == ["wrong_item", "wrong_item"]  # the scan, then the line it does not match
    assert _position(released, "SKU-A", "wh_a") == (9, 3)  # what the scanner saw left
    assert _position(released, "SKU-B", "wh_a") == (10, 1)


def test_an_extra_item_and_an_overshipped_line_leave_stock_and_are_exceptions(
    released: Ledger, reads: FulfilmentReports
) -> None:
    extra = shipped(
        "s1",
        "1",
        "wh_a",
        [line("l1", "SKU-A", 4), line("l2", "SKU-B", 1), line(None, "SKU-C", 2)],
    )
    assert _outcomes(released, [extra]) == ["applied"]
    assert _exceptions(reads) == [
        ("extra_item", "l1", "SKU-A", 3, 4),
        ("extra_item", None, "SKU-C", 0, 2),
    ]
    assert _position(released, "SKU-A", "wh_a") == (6, 0)
    assert _position(released, "SKU-C", "wh_a") == (8, 0)
    assert _request_state(reads, "req-1") == ("shipped", [3, 1])
    _journal_matches_positions(released)


def test_an_extra_item_the_ledger_had_none_of_is_booked_as_found_then_shipped(
    released: Ledger, reads: FulfilmentReports
) -> None:
    extra = shipped("s1", "1", "wh_b", [line(None, "SKU-C", 2)])
    assert _outcomes(released, [extra]) == ["applied"]
    assert _position(released, "SKU-C", "wh_b") == (0, 0)
    _journal_matches_positions(released)
    kinds = sorted(row[0] for row in _exceptions(reads))
    assert kinds == ["extra_item", "wrong_location"]


def test_missing_and_malformed_tracking_then_tracking_received_later(
    released: Ledger, reads: FulfilmentReports
) -> None:
    lines = [line("l1", "SKU-A", 3), line("l2", "SKU-B", 1)]
    assert _outcomes(released, [shipped("s1", "1", "wh_a", lines, tracking=[])]) == ["applied"]
    assert _exceptions(reads) == [("missing_tracking", None, None, None, None)]
    # the same shipment again with its tracking: settles the exception, ships nothing twice
    update = shipped("s1", "1", "wh_a", lines, tracking=[UPS])
    assert _outcomes(released, [update]) == ["applied"]
    assert _exceptions(reads, "open") == []
    assert _position(released, "SKU-A", "wh_a") == (7, 0)
    # another order shipped with an order number in the tracking field
    released.apply([order("2", [("l1", "SKU-A", 1)])])
    bad = shipped("s2", "2", "wh_a", [line("l1", "SKU-A", 1)], tracking=["#1002"])
    assert _outcomes(released, [bad]) == ["applied"]
    [(kind, detail)] = [
        (e["kind"], e["detail"]) for e in reads.fulfilment_exceptions(TENANT, "open")
    ]
    assert kind == "bad_tracking"
    assert "not a UPS tracking number" in detail


def test_an_update_with_other_lines_is_refused(released: Ledger) -> None:
    lines = [line("l1", "SKU-A", 1)]
    assert _outcomes(released, [shipped("s1", "1", "wh_a", lines)]) == ["applied"]
    changed = shipped("s1", "1", "wh_a", [line("l1", "SKU-A", 2)], tracking=[UPS_2])
    [result] = released.apply([changed])
    assert result.code == "invalid_message"
    assert "already recorded" in str(result.reason)


def test_a_serial_shipped_twice_is_a_duplicate(ledger: Ledger, reads: FulfilmentReports) -> None:
    setup_master_data(ledger)
    ledger.upsert_sku(TENANT, "SKU-A", tracking="serial")
    ledger.apply(
        [
            receipt("ra", "SKU-A", "wh_a", 10),
            order("1", [("l1", "SKU-A", 2)]),
            order("2", [("l1", "SKU-A", 2)]),
        ]
    )
    first = shipped("s1", "1", "wh_a", [line("l1", "SKU-A", 2, serials=["SN-1", "SN-2"])])
    second = shipped(
        "s2", "2", "wh_a", [line("l1", "SKU-A", 2, serials=["SN-2", "SN-3"])], tracking=[UPS_2]
    )
    assert _outcomes(ledger, [first, second]) == ["applied", "applied"]
    [(kind, detail)] = [(e["kind"], e["detail"]) for e in reads.fulfilment_exceptions(TENANT)]
    assert kind == "duplicate_serial"
    assert "SN-2" in detail
    assert "s1" in detail
    assert "web:1" in detail
    serials = _query(
        reads,
        "SELECT serial, order_key FROM shipped_serials WHERE tenant = ? ORDER BY serial",
        (TENANT,),
    )
    assert [tuple(r) for r in serials] == [("SN-1", "web:1"), ("SN-2", "web:1"), ("SN-3", "web:2")]
    assert _position(ledger, "SKU-A", "wh_a") == (6, 0)


# -- returned serials -----------------------------------------------------------------------------


def returned(
    rma_id: str,
    external_id: str,
    status: ReturnStatus,
    serials: list[str],
    *,
    quantity: int = 1,
    disposition: Disposition | None = None,
) -> Envelope:
    """A return of line l1 of order ``external_id`` at wh_a, bringing back ``serials``."""
    payload = ReturnRequest(
        tenant=TENANT,
        rma_id=rma_id,
        order=OrderRef(channel="web", external_id=external_id),
        status=status,
        location="wh_a",
        lines=[
            ReturnLine(line_id="l1", quantity=quantity, serials=serials, disposition=disposition)
        ],
        requested_at=at(100),
        updated_at=at(110 if status is ReturnStatus.RECEIVED else 120),
    )
    return wrap(payload, f"return.{status.value}", rma_id, status.value)


@pytest.fixture
def serialised(ledger: Ledger) -> Ledger:
    """SKU-A is serial-controlled; orders 1, 2 and 3 each ask for one unit on line l1."""
    setup_master_data(ledger)
    ledger.upsert_sku(TENANT, "SKU-A", tracking="serial")
    ledger.apply(
        [
            receipt("ra", "SKU-A", "wh_a", 10),
            *(order(str(n), [("l1", "SKU-A", 1)]) for n in (1, 2, 3)),
        ]
    )
    return ledger


def _ship_serial(shipment_id: str, external_id: str, serial: str, minutes: int) -> Envelope:
    return shipped(
        shipment_id,
        external_id,
        "wh_a",
        [line("l1", "SKU-A", 1, serials=[serial])],
        tracking=[f"1Z999AA1012345{minutes:04d}"],
        minutes=minutes,
    )


def _serial_rows(reads: FulfilmentReports) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in _query(
            reads,
            "SELECT serial, shipment_id, order_key, rma_id FROM shipped_serials "
            "WHERE tenant = ? ORDER BY serial",
            (TENANT,),
        )
    ]


def _returned_rows(reads: FulfilmentReports) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in _query(
            reads,
            "SELECT rma_id, line_id, serial, order_key, shipment_id FROM returned_serials "
            "WHERE tenant = ? ORDER BY rma_id, serial",
            (TENANT,),
        )
    ]


def test_a_returned_serial_ships_again_without_a_duplicate(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    outcomes = _outcomes(
        serialised,
        [
            _ship_serial("s1", "1", "SN-1", 60),
            returned("R1", "1", ReturnStatus.RECEIVED, ["SN-1"]),
            _ship_serial("s2", "2", "SN-1", 200),
        ],
    )
    assert outcomes == ["applied", "applied", "applied"]
    assert _exceptions(reads) == []
    # the serial now belongs to its second shipment, out with order 2; its return is history
    assert _serial_rows(reads) == [("SN-1", "s2", "web:2", None)]
    assert _returned_rows(reads) == [("R1", "l1", "SN-1", "web:1", "s1")]
    # shipped a third time without coming back in between: still a duplicate of the second
    assert _outcomes(serialised, [_ship_serial("s3", "3", "SN-1", 300)]) == ["applied"]
    [(kind, detail)] = [(e["kind"], e["detail"]) for e in reads.fulfilment_exceptions(TENANT)]
    assert kind == "duplicate_serial"
    assert "s2" in detail
    assert "web:2" in detail
    assert _serial_rows(reads) == [("SN-1", "s2", "web:2", None)]


def test_a_return_received_only_at_inspection_marks_its_serials_then(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    _outcomes(
        serialised,
        [
            _ship_serial("s1", "1", "SN-1", 60),
            returned("R1", "1", ReturnStatus.REQUESTED, ["SN-1"]),
        ],
    )
    assert _serial_rows(reads) == [("SN-1", "s1", "web:1", None)]  # requested: still out
    inspected = returned(
        "R1", "1", ReturnStatus.INSPECTED, ["SN-1"], disposition=Disposition.RESTOCK
    )
    assert _outcomes(serialised, [inspected]) == ["applied"]
    assert _serial_rows(reads) == [("SN-1", "s1", "web:1", "R1")]
    assert _outcomes(serialised, [_ship_serial("s2", "2", "SN-1", 200)]) == ["applied"]
    assert _exceptions(reads) == []


def test_a_returned_serial_the_order_never_shipped_is_an_exception(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    _outcomes(
        serialised,
        [_ship_serial("s1", "1", "SN-1", 60), _ship_serial("s2", "2", "SN-2", 70)],
    )
    outcomes = _outcomes(
        serialised,
        [
            returned("R1", "1", ReturnStatus.RECEIVED, ["SN-9"]),  # shipped by nobody
            returned("R2", "2", ReturnStatus.RECEIVED, ["SN-1"]),  # shipped to order 1
        ],
    )
    assert outcomes == ["applied", "applied"]
    found = reads.fulfilment_exceptions(TENANT)
    assert [
        (e["kind"], e["category"], e["order_key"], e["rma_id"], e["line_id"], e["sku"])
        for e in found
    ] == [
        ("serial_not_shipped", "return", "web:1", "R1", "l1", "SKU-A"),
        ("serial_not_shipped", "return", "web:2", "R2", "l1", "SKU-A"),
    ]
    assert [e["shipment_id"] for e in found] == [None, None]
    assert "SN-9" in found[0]["detail"]
    assert "no shipment recorded that serial" in found[0]["detail"]
    assert "SN-1" in found[1]["detail"]
    assert "order web:1 in shipment s1" in found[1]["detail"]
    # neither serial was marked returned: SN-1 is still out with order 1, so shipping it is a
    # duplicate; SN-2 (which order 2 shipped) did not come back either
    assert _serial_rows(reads) == [("SN-1", "s1", "web:1", None), ("SN-2", "s2", "web:2", None)]
    assert _returned_rows(reads) == [
        ("R1", "l1", "SN-9", "web:1", None),
        ("R2", "l1", "SN-1", "web:2", None),
    ]
    assert _outcomes(serialised, [_ship_serial("s3", "3", "SN-1", 300)]) == ["applied"]
    assert [e["kind"] for e in reads.fulfilment_exceptions(TENANT)][-1] == "duplicate_serial"
    # the return exceptions do not make the orders imperfect: they are about the return
    status = reads.perfect_order(TENANT, "web:2")
    assert status is not None
    assert status["components"]["documents"] is True
    assert status["components"]["accurate"] is True
    assert [e["kind"] for e in status["exceptions"]] == ["serial_not_shipped"]


def test_a_serial_returned_twice_without_shipping_between_is_an_exception(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    _outcomes(
        serialised,
        [
            order("4", [("l1", "SKU-A", 2)]),
        ],
    )
    _outcomes(
        serialised,
        [
            shipped("s1", "4", "wh_a", [line("l1", "SKU-A", 2, serials=["SN-1", "SN-2"])]),
            returned("R1", "4", ReturnStatus.RECEIVED, ["SN-1"]),
            returned("R2", "4", ReturnStatus.RECEIVED, ["SN-1"]),
        ],
    )
    [found] = reads.fulfilment_exceptions(TENANT)
    assert (found["kind"], found["rma_id"]) == ("serial_not_shipped", "R2")
    assert "return R1 already brought it back" in found["detail"]
    assert _serial_rows(reads) == [("SN-1", "s1", "web:4", "R1"), ("SN-2", "s1", "web:4", None)]


def test_a_redelivered_or_updated_return_marks_and_opens_once(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    _outcomes(serialised, [order("4", [("l1", "SKU-A", 2)])])
    _outcomes(
        serialised,
        [shipped("s1", "4", "wh_a", [line("l1", "SKU-A", 2, serials=["SN-1", "SN-2"])])],
    )
    received = returned("R1", "4", ReturnStatus.RECEIVED, ["SN-1", "SN-9"], quantity=2)
    inspected = returned(
        "R1",
        "4",
        ReturnStatus.INSPECTED,
        ["SN-1", "SN-9"],
        quantity=2,
        disposition=Disposition.RESTOCK,
    )
    assert _outcomes(serialised, [received]) == ["applied"]
    after_received = (_serial_rows(reads), _returned_rows(reads), _exceptions(reads))
    assert _outcomes(serialised, [received]) == ["duplicate"]
    assert _outcomes(serialised, [inspected]) == ["applied"]
    assert (_serial_rows(reads), _returned_rows(reads), _exceptions(reads)) == after_received
    assert _serial_rows(reads) == [("SN-1", "s1", "web:4", "R1"), ("SN-2", "s1", "web:4", None)]
    assert _returned_rows(reads) == [
        ("R1", "l1", "SN-1", "web:4", "s1"),
        ("R1", "l1", "SN-9", "web:4", None),
    ]
    assert [kind for kind, *_ in _exceptions(reads)] == ["serial_not_shipped"]
    [(history,)] = _query(
        reads,
        "SELECT COUNT(*) FROM order_history WHERE tenant = ? AND order_key = ? AND detail LIKE ?",
        (TENANT, "web:4", "%serial_not_shipped%"),
    )
    assert int(history) == 1


def _disposition_rows(reads: FulfilmentReports) -> list[tuple[Any, ...]]:
    """Per serial: its shipped_serials disposition, then each returned_serials disposition."""
    shipped_rows = {
        str(serial): disposition
        for serial, disposition in _query(
            reads, "SELECT serial, disposition FROM shipped_serials WHERE tenant = ?", (TENANT,)
        )
    }
    return [
        (str(serial), str(rma_id), disposition, shipped_rows.get(str(serial)))
        for serial, rma_id, disposition in _query(
            reads,
            "SELECT serial, rma_id, disposition FROM returned_serials WHERE tenant = ? "
            "ORDER BY serial, rma_id",
            (TENANT,),
        )
    ]


def _return_exceptions(reads: FulfilmentReports) -> list[tuple[Any, ...]]:
    return [
        (
            e["kind"],
            e["category"],
            e["order_key"],
            e["rma_id"],
            e["line_id"],
            e["sku"],
            e["expected"],
            e["actual"],
            e["status"],
        )
        for e in reads.fulfilment_exceptions(TENANT, "all")
    ]


@pytest.fixture
def two_out(serialised: Ledger) -> Ledger:
    """Order 4 (two serial-controlled units of SKU-A on l1) shipped SN-1 and SN-2; order 5 (two
    units of SKU-B, not serial-controlled) shipped too."""
    outcomes = _outcomes(
        serialised,
        [
            receipt("rb", "SKU-B", "wh_a", 5),
            order("4", [("l1", "SKU-A", 2)]),
            order("5", [("l1", "SKU-B", 2)]),
        ],
    )
    assert outcomes == ["applied", "applied", "applied"]
    outcomes = _outcomes(
        serialised,
        [
            shipped("s1", "4", "wh_a", [line("l1", "SKU-A", 2, serials=["SN-1", "SN-2"])]),
            shipped("s5", "5", "wh_a", [line("l1", "SKU-B", 2)], tracking=[UPS_2]),
        ],
    )
    assert outcomes == ["applied", "applied"]
    return serialised


def test_a_serial_controlled_return_without_serials_is_an_exception(
    two_out: Ledger, reads: FulfilmentReports, ledger_url: str
) -> None:
    outcomes = _outcomes(
        two_out,
        [
            returned("R1", "4", ReturnStatus.RECEIVED, [], quantity=2),
            returned("R5", "5", ReturnStatus.RECEIVED, [], quantity=2),  # SKU-B: no serials due
        ],
    )
    assert outcomes == ["applied", "applied"]
    assert _return_exceptions(reads) == [
        ("return_serial_missing", "return", "web:4", "R1", "l1", "SKU-A", 2, 0, "open"),
    ]
    [found] = reads.fulfilment_exceptions(TENANT, kind="return_serial_missing")
    assert found["shipment_id"] is None
    assert "2 units with 0 serial numbers, 2 missing" in found["detail"]
    # nothing came back by serial: both units are still out with the order
    assert _serial_rows(reads) == [("SN-1", "s1", "web:4", None), ("SN-2", "s1", "web:4", None)]
    # a return exception: listed with the order, counted open, but not against the perfect order
    status = reads.perfect_order(TENANT, "web:4")
    assert status is not None
    assert status["components"]["documents"] is True
    assert status["components"]["accurate"] is True
    assert [e["kind"] for e in status["exceptions"]] == ["return_serial_missing"]
    [(history,)] = _query(
        reads,
        "SELECT COUNT(*) FROM order_history WHERE tenant = ? AND order_key = ? AND detail LIKE ?",
        (TENANT, "web:4", "%exceptions: return_serial_missing%"),
    )
    assert int(history) == 1
    reports = Reports(ledger_url)
    try:
        assert reports.overview(TENANT).fulfilment_exceptions_open == {"return_serial_missing": 1}
    finally:
        reports.close()


def test_a_return_with_fewer_serials_than_units_says_how_many_are_missing_once(
    two_out: Ledger, reads: FulfilmentReports
) -> None:
    received = returned("R1", "4", ReturnStatus.RECEIVED, ["SN-1"], quantity=2)
    inspected = returned(
        "R1", "4", ReturnStatus.INSPECTED, ["SN-1"], quantity=2, disposition=Disposition.RESTOCK
    )
    assert _outcomes(two_out, [received]) == ["applied"]
    assert _outcomes(two_out, [received]) == ["duplicate"]
    assert _outcomes(two_out, [inspected]) == ["applied"]
    assert _return_exceptions(reads) == [
        ("return_serial_missing", "return", "web:4", "R1", "l1", "SKU-A", 2, 1, "open"),
    ]
    [found] = reads.fulfilment_exceptions(TENANT)
    assert "2 units with 1 serial numbers, 1 missing" in found["detail"]
    # the serial that did come back is back
    assert _serial_rows(reads) == [("SN-1", "s1", "web:4", "R1"), ("SN-2", "s1", "web:4", None)]


def test_serials_that_arrive_with_a_later_status_settle_the_exception(
    two_out: Ledger, reads: FulfilmentReports
) -> None:
    outcomes = _outcomes(
        two_out,
        [
            returned("R1", "4", ReturnStatus.RECEIVED, [], quantity=2),
            returned(
                "R1",
                "4",
                ReturnStatus.INSPECTED,
                ["SN-1", "SN-2"],
                quantity=2,
                disposition=Disposition.RESTOCK,
            ),
        ],
    )
    assert outcomes == ["applied", "applied"]
    assert _return_exceptions(reads) == [
        ("return_serial_missing", "return", "web:4", "R1", "l1", "SKU-A", 2, 0, "resolved"),
    ]
    [found] = reads.fulfilment_exceptions(TENANT, "resolved")
    assert found["actor"] == "hub"
    assert _serial_rows(reads) == [("SN-1", "s1", "web:4", "R1"), ("SN-2", "s1", "web:4", "R1")]


def test_a_complete_serial_return_opens_nothing(two_out: Ledger, reads: FulfilmentReports) -> None:
    received = returned("R1", "4", ReturnStatus.RECEIVED, ["SN-1", "SN-2"], quantity=2)
    assert _outcomes(two_out, [received]) == ["applied"]
    assert _return_exceptions(reads) == []


@pytest.mark.parametrize("disposition", [Disposition.SCRAP, Disposition.DAMAGED])
def test_a_returned_serial_scrapped_at_inspection_may_not_ship_again(
    serialised: Ledger, reads: FulfilmentReports, disposition: Disposition
) -> None:
    outcomes = _outcomes(
        serialised,
        [
            _ship_serial("s1", "1", "SN-1", 60),
            returned("R1", "1", ReturnStatus.RECEIVED, ["SN-1"]),
            returned("R1", "1", ReturnStatus.INSPECTED, ["SN-1"], disposition=disposition),
        ],
    )
    assert outcomes == ["applied", "applied", "applied"]
    assert _disposition_rows(reads) == [("SN-1", "R1", disposition.value, disposition.value)]
    assert _outcomes(serialised, [_ship_serial("s2", "2", "SN-1", 200)]) == ["applied"]
    [found] = reads.fulfilment_exceptions(TENANT)
    assert (found["kind"], found["category"], found["order_key"], found["shipment_id"]) == (
        "serial_scrapped",
        "document",
        "web:2",
        "s2",
    )
    assert "return R1" in found["detail"]
    assert f"as {disposition.value}" in found["detail"]
    assert "order web:1 (shipment s1)" in found["detail"]
    # the row stays with the return that scrapped the unit: shipping it once more is flagged again
    assert _serial_rows(reads) == [("SN-1", "s1", "web:1", "R1")]
    assert _outcomes(serialised, [_ship_serial("s3", "3", "SN-1", 300)]) == ["applied"]
    assert [e["kind"] for e in reads.fulfilment_exceptions(TENANT)] == ["serial_scrapped"] * 2
    status = reads.perfect_order(TENANT, "web:2")
    assert status is not None
    assert status["components"]["documents"] is False


def test_a_return_received_at_inspection_records_the_disposition_then(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    inspected = returned("R1", "1", ReturnStatus.INSPECTED, ["SN-1"], disposition=Disposition.SCRAP)
    outcomes = _outcomes(serialised, [_ship_serial("s1", "1", "SN-1", 60), inspected])
    assert outcomes == ["applied", "applied"]
    assert _disposition_rows(reads) == [("SN-1", "R1", "scrap", "scrap")]
    assert _outcomes(serialised, [_ship_serial("s2", "2", "SN-1", 200)]) == ["applied"]
    assert [e["kind"] for e in reads.fulfilment_exceptions(TENANT)] == ["serial_scrapped"]


def test_a_returned_serial_restocked_at_inspection_ships_again(
    serialised: Ledger, reads: FulfilmentReports
) -> None:
    outcomes = _outcomes(
        serialised,
        [
            _ship_serial("s1", "1", "SN-1", 60),
            returned("R1", "1", ReturnStatus.RECEIVED, ["SN-1"]),
            returned("R1", "1", ReturnStatus.INSPECTED, ["SN-1"], disposition=Disposition.RESTOCK),
        ],
    )
    assert outcomes == ["applied", "applied", "applied"]
    assert _disposition_rows(reads) == [("SN-1", "R1", "restock", "restock")]
    assert _outcomes(serialised, [_ship_serial("s2", "2", "SN-1", 200)]) == ["applied"]
    assert _exceptions(reads) == []
    # the next shipment takes the row over; the return's decision stays in its history
    assert _serial_rows(reads) == [("SN-1", "s2", "web:2", None)]
    assert _disposition_rows(reads) == [("SN-1", "R1", "restock", None)]


# -- lot control ----------------------------------------------------------------------------------


def lot_receipt(movement_id: str, sku: str, location: str, quantity: int, lot: Lot) -> Envelope:
    payload = StockMovement(
        tenant=TENANT,
        movement_id=movement_id,
        kind=MovementKind.RECEIPT,
        sku=sku,
        location=location,
        quantity=quantity,
        lot=lot,
        occurred_at=at(0),
    )
    return wrap(payload, "stock.moved", movement_id)


@pytest.fixture
def lots(ledger: Ledger) -> Ledger:
    """SKU-L is lot-controlled: at wh_a lot OLD (5, expired yesterday) and lot NEW (4, next year)."""
    setup_master_data(ledger, skus=("SKU-L",), channels=("web",))
    ledger.upsert_sku(TENANT, "SKU-L", tracking="lot")
    today = datetime.now(UTC)  # expiry is against the clock, not the messages' fixed times
    old = Lot(number="OLD", expires_at=today - timedelta(days=1))
    new = Lot(number="NEW", expires_at=today + timedelta(days=365))
    outcomes = _outcomes(
        ledger,
        [
            lot_receipt("r-old", "SKU-L", "wh_a", 5, old),
            lot_receipt("r-new", "SKU-L", "wh_a", 4, new),
        ],
    )
    assert outcomes == ["applied", "applied"]
    return ledger


def test_expired_lots_are_neither_allocated_nor_promised(lots: Ledger) -> None:
    [available] = [a.available for a in lots.availability(TENANT) if a.sku == "SKU-L"]
    assert available == 4  # 9 on hand, 5 of them in an expired lot
    lots.apply([order("1", [("l1", "SKU-L", 5)]), order("2", [("l1", "SKU-L", 4)])])
    assert _state(lots, "web:1") != "allocated"  # only 4 unexpired units
    assert _state(lots, "web:2") == "allocated"


def test_release_refuses_a_lot_controlled_line_without_a_lot_or_with_an_expired_one(
    lots: Ledger, reads: FulfilmentReports
) -> None:
    lots.apply([order("1", [("l1", "SKU-L", 2)])])
    [no_lot] = lots.apply([request("req-1", "1", "wh_a", [("l1", "SKU-L", 2)])])
    assert no_lot.code == "invalid_message"
    assert "must name the lot" in str(no_lot.reason)
    [expired] = lots.apply(
        [request("req-2", "1", "wh_a", [("l1", "SKU-L", 2, Lot(number="OLD"))], minutes=11)]
    )
    assert expired.code == "invalid_message"
    assert "expired" in str(expired.reason)
    [good] = lots.apply(
        [request("req-3", "1", "wh_a", [("l1", "SKU-L", 2, Lot(number="NEW"))], minutes=12)]
    )
    assert good.outcome == "applied"
    [(committed,)] = _query(
        reads,
        "SELECT committed FROM lot_stock WHERE tenant = ? AND lot = 'NEW'",
        (TENANT,),
    )
    assert int(committed) == 2
    # a second release may not commit more of the lot than is free
    lots.apply([order("2", [("l1", "SKU-L", 2)])])
    [short] = lots.apply(
        [request("req-4", "2", "wh_a", [("l1", "SKU-L", 3, Lot(number="NEW"))], minutes=13)]
    )
    assert short.code == "invalid_message"
    assert "2 free units for 3" in str(short.reason)


def test_a_lot_shipped_is_traced_forward_and_its_commitment_freed(
    lots: Ledger, reads: FulfilmentReports
) -> None:
    new = Lot(number="NEW")
    lots.apply(
        [
            order("1", [("l1", "SKU-L", 2)]),
            request("req-1", "1", "wh_a", [("l1", "SKU-L", 2, new)]),
            shipped("s1", "1", "wh_a", [line("l1", "SKU-L", 2, lots=[new])]),
        ]
    )
    rows = _query(
        reads,
        "SELECT lot, on_hand, committed FROM lot_stock WHERE tenant = ? ORDER BY lot",
        (TENANT,),
    )
    assert [(r[0], int(r[1]), int(r[2])) for r in rows] == [("NEW", 2, 0), ("OLD", 5, 0)]
    trace = reads.lot_trace(TENANT, "NEW")
    assert [(s["order_key"], s["shipment_id"]) for s in trace["shipped"]] == [("web:1", "s1")]
    assert _exceptions(reads) == []


def test_shipping_another_lot_than_released_or_none_are_exceptions(
    lots: Ledger, reads: FulfilmentReports
) -> None:
    lots.apply(
        [
            order("1", [("l1", "SKU-L", 1)]),
            order("2", [("l1", "SKU-L", 1)]),
            request("req-1", "1", "wh_a", [("l1", "SKU-L", 1, Lot(number="NEW"))]),
        ]
    )
    other = shipped("s1", "1", "wh_a", [line("l1", "SKU-L", 1, lots=[Lot(number="OLD")])])
    bare = shipped("s2", "2", "wh_a", [line("l1", "SKU-L", 1)], tracking=[UPS_2])
    assert _outcomes(lots, [other, bare]) == ["applied", "applied"]
    assert sorted(row[0] for row in _exceptions(reads)) == ["lot_mismatch", "lot_missing"]


def test_cancelling_a_released_order_cancels_its_request_and_frees_its_lots(
    lots: Ledger, reads: FulfilmentReports
) -> None:
    lots.apply(
        [
            order("1", [("l1", "SKU-L", 3)]),
            request("req-1", "1", "wh_a", [("l1", "SKU-L", 3, Lot(number="NEW"))]),
            order("1", [("l1", "SKU-L", 3)], version=2, event_type="order.cancelled"),
        ]
    )
    assert _request_state(reads, "req-1")[0] == "cancelled"
    [(committed,)] = _query(
        reads, "SELECT committed FROM lot_stock WHERE tenant = ? AND lot = 'NEW'", (TENANT,)
    )
    assert int(committed) == 0


def test_a_lot_expiring_leaves_the_channels_promise_at_the_next_sweep(
    lots: Ledger, ledger_url: str
) -> None:
    import time

    from typer.testing import CliRunner

    from hub.cli import app

    soon = Lot(number="SOON", expires_at=datetime.now(UTC) + timedelta(seconds=1))
    assert _outcomes(lots, [lot_receipt("r-soon", "SKU-L", "wh_a", 3, soon)]) == ["applied"]
    assert [a.available for a in lots.availability(TENANT) if a.sku == "SKU-L"] == [7]
    before = len(lots.unpublished(limit=1000))
    time.sleep(1.2)
    result = CliRunner().invoke(app, ["lots", "expire", "--ledger", ledger_url, "--json"])
    assert result.exit_code == 0, result.output
    assert '"sku": "SKU-L"' in result.output
    assert [a.available for a in lots.availability(TENANT) if a.sku == "SKU-L"] == [4]
    events = lots.unpublished(limit=1000)[before:]
    assert [(e.event_type, e.payload["available"]) for e in events] == [("availability.changed", 4)]


def test_a_shipment_and_its_update_in_one_batch_ship_once(
    released: Ledger, reads: FulfilmentReports
) -> None:
    """The batch's prefetch knew neither; the first records the shipment, the second must see it."""
    lines = [line("l1", "SKU-A", 3), line("l2", "SKU-B", 1)]
    first = shipped("s1", "1", "wh_a", lines, tracking=[])
    update = shipped("s1", "1", "wh_a", lines, tracking=[UPS])
    assert _outcomes(released, [first, update]) == ["applied", "applied"]
    assert _position(released, "SKU-A", "wh_a") == (7, 0)
    assert _exceptions(reads, "open") == []
    assert [e["kind"] for e in reads.fulfilment_exceptions(TENANT, "resolved")] == [
        "missing_tracking"
    ]


def test_an_update_of_a_mis_scanned_shipment_is_recognised(
    released: Ledger, reads: FulfilmentReports
) -> None:
    """The shipment stored what the scanner saw; its later update (tracking added) carries the
    same lines and scans, so it is the same shipment, not a conflicting one."""
    lines = [line("l2", "SKU-B", 1, scanned_gtins=["00012345678905"])]
    first = shipped("s1", "1", "wh_a", lines, tracking=[])
    update = shipped("s1", "1", "wh_a", lines, tracking=[UPS])
    assert _outcomes(released, [first]) == ["applied"]
    assert _outcomes(released, [update]) == ["applied"]
    assert _position(released, "SKU-A", "wh_a") == (9, 3)  # shipped once
    assert "missing_tracking" not in [e["kind"] for e in reads.fulfilment_exceptions(TENANT)]
