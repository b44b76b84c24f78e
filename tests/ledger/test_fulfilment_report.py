"""Reading fulfilment on SQLite and PostgreSQL: the overview's KPIs, each order's perfect-order
status, the forward trace of a lot and resolving exceptions, against the hand-computed day of
tests/ledger/fulfilment_day.py (its docstring has the arithmetic)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.fulfilment_report import (
    ExceptionAlreadyResolvedError,
    FulfilmentError,
    FulfilmentReports,
    UnknownExceptionError,
)
from hub.ledger.store import Ledger
from hub.reports import Reports
from tests.ledger import fulfilment_day as day


@pytest.fixture
def reports(ledger: Ledger, ledger_url: str) -> Iterator[Reports]:
    day.seed_day(ledger.db)
    opened = Reports(ledger_url)
    try:
        yield opened
    finally:
        opened.close()


def test_overview_kpis_match_the_hand_computed_day(reports: Reports) -> None:
    report = reports.overview(day.TENANT, now=day.NOW)
    assert report.perfect_order_rate == day.PERFECT_ORDER_RATE
    assert report.allocation_accuracy == day.ALLOCATION_ACCURACY
    assert report.on_time_release_rate == day.ON_TIME_RELEASE_RATE
    assert report.fulfilment_exceptions_open == day.OPEN_BY_KIND
    assert [e["kind"] for e in report.recent_fulfilment_exceptions] == [
        "extra_item",
        "duplicate_serial",
        "short_ship",
    ]  # newest first
    assert report.recent_fulfilment_exceptions[-1]["order_key"] == "web:B"
    # the figures that were there before keep their definitions
    assert report.fill_rate == day.FILL_RATE
    assert report.clean_order_rate == day.CLEAN_ORDER_RATE
    assert report.orders_total == 11
    as_json = report.as_json()
    assert as_json["allocation_accuracy"] == day.ALLOCATION_ACCURACY
    assert as_json["fulfilment_exceptions_open"] == day.OPEN_BY_KIND


def test_another_tenant_sees_only_its_own_fulfilment(reports: Reports) -> None:
    report = reports.overview(day.OTHER, now=day.NOW)
    assert report.fulfilment_exceptions_open == {"short_ship": 1}
    assert report.allocation_accuracy == 0.0  # rZ's one line shipped nothing
    assert report.on_time_release_rate == 0.0  # released for 23:00, committed by 01:00
    assert FulfilmentReports(reports).perfect_order(day.OTHER, "web:A") is None


def test_a_tenant_without_fulfilment_data_has_no_figures(reports: Reports) -> None:
    report = reports.overview("initech", now=day.NOW)
    assert report.allocation_accuracy is None
    assert report.on_time_release_rate is None
    assert report.perfect_order_rate is None
    assert report.fulfilment_exceptions_open == {}


def test_perfect_order_components_of_every_order(reports: Reports) -> None:
    fulfilment = FulfilmentReports(reports)
    names = ("complete", "on_time", "undamaged", "accurate", "documents")
    for key, expected in day.COMPONENTS.items():
        status = fulfilment.perfect_order(day.TENANT, key)
        assert status is not None, key
        assert status["components"] == dict(zip(names, expected, strict=True)), key
        assert status["perfect"] is all(value is True for value in expected), key
        assert (status["reasons"] == []) is status["perfect"], (key, status["reasons"])
    assert fulfilment.perfect_order(day.TENANT, "web:nope") is None


def test_perfect_order_detail_and_reasons(reports: Reports) -> None:
    fulfilment = FulfilmentReports(reports)
    b = fulfilment.perfect_order(day.TENANT, "web:B")
    assert b is not None
    assert b["reasons"] == [
        "Line 1 (SKU-A) shipped 2 of 3.",
        f"short_ship exception {b['exceptions'][0]['id']} (open): request rB asked for 3 x "
        "SKU-A (line 1); 2 shipped and the node closed it",
    ]
    assert [r["status"] for r in b["requests"]] == ["short_closed"]
    assert b["requests"][0]["lines"] == [
        {"seq": 0, "line_id": "1", "sku": "SKU-A", "quantity": 3, "lot": None, "shipped": 2}
    ]
    assert b["shipments"][0]["tracking"] == ["1Z999AA10123456782"]
    assert b["exceptions"][0]["category"] == "item"

    d = fulfilment.perfect_order(day.TENANT, "web:D")
    assert d is not None
    assert d["deadline"] == {"at": day.t(16), "from": "ship_by"}
    assert d["reasons"][0] == (
        f"The last shipment left at {day.t(16, 10)}, after the carrier cut-off it was released "
        f"for (ship_by) {day.t(16)}."
    )
    assert "Shipment sD1 has no tracking number." in d["reasons"]
    assert any("missing_tracking" in r and "(resolved)" in r for r in d["reasons"])

    c = fulfilment.perfect_order(day.TENANT, "web:C")
    assert c is not None
    assert c["deadline"] == {"at": day.t(12), "from": "commit_by"}
    assert "after its service commitment (commit_by)" in c["reasons"][0]

    e = fulfilment.perfect_order(day.TENANT, "web:E")
    assert e is not None
    assert e["reasons"] == ["Return rmaE line 1 came back damaged (1 units)."]
    assert e["requests"] == []

    f = fulfilment.perfect_order(day.TENANT, "web:F")
    assert f is not None
    assert f["perfect"] is True
    assert f["held_for_review"] is True  # why the rate leaves it out

    g = fulfilment.perfect_order(day.TENANT, "web:G")
    assert g is not None
    assert g["last_shipped_at"] == day.t(17, 30)  # the split shipment that completed it
    assert [s["shipment_id"] for s in g["shipments"]] == ["sG1", "sG2"]

    i = fulfilment.perfect_order(day.TENANT, "web:I")
    assert i is not None
    assert "Nothing has shipped yet, so it cannot be on time." in i["reasons"]
    assert "Line 1 (SKU-A) shipped 0 of 1." in i["reasons"]

    h = fulfilment.perfect_order(day.TENANT, "web:H")
    assert h is not None
    assert h["reasons"][0] == "The order was cancelled."


def test_lot_trace_forward(reports: Reports) -> None:
    trace = FulfilmentReports(reports).lot_trace(day.TENANT, "L1", "SKU-L", now=day.NOW)
    assert trace["found"] is True
    assert [
        (s["location"], s["on_hand"], s["committed"], s["expired"]) for s in trace["stock"]
    ] == [
        ("wh_a", 3, 1, True),
        ("wh_b", 5, 0, False),
    ]
    assert [(m["kind"], m["location"], m["quantity"]) for m in trace["received"]] == [
        ("receipt", "wh_a", 10),
        ("receipt", "wh_b", 5),
        ("adjustment", "wh_a", -1),
    ]
    shipped = [
        (s["order_key"], s["shipment_id"], s["quantity"], s["tracking"], s["serials"])
        for s in trace["shipped"]
    ]
    assert shipped == [
        ("web:M", "sM1", 2, ["1ZM"], ["SN-1", "SN-2"]),
        ("web:N", "sN1", 4, ["1ZN1", "1ZN2"], []),
        ("web:P", "sP1", None, ["1ZP"], []),  # named on a line of two lots, no L1 movement
    ]
    assert trace["shipped"][0]["shipped_at"] == day.t(11)
    assert trace["shipped"][0]["location"] == "wh_a"
    assert trace["shipped"][2]["recorded_in"] == "shipment_lines"
    assert trace["totals"] == {
        "received": 14,
        "shipped": 6,
        "on_hand": 8,
        "committed": 1,
        "orders": 3,
    }
    # without a SKU, every SKU's lot of that number
    every = FulfilmentReports(reports).lot_trace(day.TENANT, "L1", now=day.NOW)
    assert sorted((s["sku"], s["location"]) for s in every["stock"]) == [
        ("SKU-L", "wh_a"),
        ("SKU-L", "wh_b"),
        ("SKU-X", "wh_a"),
    ]
    assert every["totals"]["received"] == 21
    unknown = FulfilmentReports(reports).lot_trace(day.TENANT, "L9", now=day.NOW)
    assert unknown["found"] is False
    assert FulfilmentReports(reports).lot_trace(day.OTHER, "L1")["found"] is False


def test_listing_and_resolving_exceptions(reports: Reports) -> None:
    fulfilment = FulfilmentReports(reports)
    listed = fulfilment.fulfilment_exceptions(day.TENANT)
    assert [(e["order_key"], e["kind"]) for e in listed] == [
        ("web:B", "short_ship"),
        ("web:J", "duplicate_serial"),
        ("web:J", "extra_item"),
    ]
    assert [e["kind"] for e in fulfilment.fulfilment_exceptions(day.TENANT, "resolved")] == [
        "missing_tracking",
        "lot_mismatch",
    ]
    assert len(fulfilment.fulfilment_exceptions(day.TENANT, "all")) == 5
    assert [
        e["order_key"] for e in fulfilment.fulfilment_exceptions(day.TENANT, "all", "lot_mismatch")
    ] == ["web:K"]

    short = listed[0]
    done = fulfilment.resolve_exception(
        day.TENANT, short["id"], "customer refunded the missing unit", "ops@acme", now=day.NOW
    )
    assert done["status"] == "resolved"
    assert done["resolution"] == "customer refunded the missing unit"
    assert done["actor"] == "ops@acme"
    assert done["resolved_at"] == day.t(18)
    with pytest.raises(ExceptionAlreadyResolvedError, match="already resolved"):
        fulfilment.resolve_exception(day.TENANT, short["id"], "again", "ops@acme")
    with pytest.raises(UnknownExceptionError):
        fulfilment.resolve_exception(day.TENANT, 999_999, "nothing", "ops@acme")
    globex = fulfilment.fulfilment_exceptions(day.OTHER)[0]
    with pytest.raises(UnknownExceptionError):  # another tenant's exception
        fulfilment.resolve_exception(day.TENANT, globex["id"], "not mine", "ops@acme")
    assert fulfilment.fulfilment_exceptions(day.OTHER)[0]["status"] == "open"
    with pytest.raises(FulfilmentError, match="resolution note is required"):
        fulfilment.resolve_exception(day.TENANT, listed[1]["id"], "  ", "ops@acme")

    report = reports.overview(day.TENANT, now=day.NOW)
    assert report.fulfilment_exceptions_open == {"duplicate_serial": 1, "extra_item": 1}
    # a resolved item exception still counts: the order was not shipped accurately
    assert report.allocation_accuracy == day.ALLOCATION_ACCURACY
    status = fulfilment.perfect_order(day.TENANT, "web:B")
    assert status is not None
    assert status["components"]["accurate"] is False


def test_an_open_missing_tracking_exception_is_one_reason_not_two(
    reports: Reports, ledger: Ledger
) -> None:
    fulfilment = FulfilmentReports(reports)
    ledger.db.execute(
        "UPDATE fulfilment_exceptions SET status = 'open', resolved_at = NULL "
        "WHERE tenant = ? AND kind = 'missing_tracking'",
        (day.TENANT,),
    )
    d = fulfilment.perfect_order(day.TENANT, "web:D")
    assert d is not None
    assert d["components"]["documents"] is False
    assert "Shipment sD1 has no tracking number." not in d["reasons"]
    assert [r for r in d["reasons"] if "tracking" in r] == [
        f"missing_tracking exception {d['exceptions'][0]['id']} (open): shipment sD1 (ups) has "
        "no tracking number"
    ]
