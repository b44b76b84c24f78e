"""The ledger's behaviour, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from canonical import ChannelAvailability, Disposition, MovementKind, PaymentEventKind
from hub.fulfilment_report import FulfilmentReports
from hub.ledger import Ledger
from hub.reports import Reports
from tests.ledger.factory import (
    TENANT,
    at,
    count,
    movement,
    order,
    payment,
    receipt,
    return_event,
    setup_master_data,
    shipment,
    tax_commit,
)


def _position(ledger: Ledger, sku: str, location: str) -> dict[str, int]:
    [pos] = ledger.positions(TENANT, sku=sku, location=location)
    return {
        "on_hand": pos.on_hand,
        "allocated": pos.allocated,
        "in_transit": pos.in_transit,
        "returns_pending": pos.returns_pending,
        "damaged": pos.damaged,
    }


def test_receipt_then_duplicate_is_applied_once(ledger: Ledger) -> None:
    setup_master_data(ledger)
    message = receipt("r1", "SKU-A", "wh_a", 5)
    first = ledger.apply([message, message])
    again = ledger.apply([message])
    assert [r.outcome for r in first] == ["applied", "duplicate"]
    assert again[0].outcome == "duplicate"
    assert _position(ledger, "SKU-A", "wh_a")["on_hand"] == 5
    assert ledger.processed_count() == 1


def test_poison_message_is_isolated_and_named(ledger: Ledger) -> None:
    setup_master_data(ledger)
    batch = [
        receipt("r1", "SKU-A", "wh_a", 5),
        receipt("r2", "NOPE", "wh_a", 5),
        receipt("r3", "SKU-A", "nowhere", 5),
        movement("adj", MovementKind.ADJUSTMENT, "SKU-A", "wh_a", -9),
        receipt("r4", "SKU-A", "wh_a", 2),
    ]
    results = ledger.apply(batch)
    assert [r.outcome for r in results] == [
        "applied",
        "rejected",
        "rejected",
        "rejected",
        "applied",
    ]
    assert [r.code for r in results[1:4]] == [
        "unknown_sku",
        "unknown_location",
        "insufficient_stock",
    ]
    assert results[1].error is not None
    assert str(batch[1].message_id) in str(results[1].error)
    assert "NOPE" in results[1].reason
    assert _position(ledger, "SKU-A", "wh_a")["on_hand"] == 7
    # a rejected message's key is not stored: replaying it after fixing master data applies it
    ledger.upsert_sku(TENANT, "NOPE")
    assert ledger.apply([batch[1]])[0].outcome == "applied"


def test_order_reserves_and_cancel_releases(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.apply([receipt("r1", "SKU-A", "wh_b", 5), receipt("r2", "SKU-A", "wh_a", 1)])
    [result] = ledger.apply([order("1001", [("l1", "SKU-A", 3)])])
    assert result.outcome == "applied"
    assert _position(ledger, "SKU-A", "wh_b")["allocated"] == 3  # wh_a has only 1
    view = ledger.order("web:1001")
    assert view is not None
    assert view["state"] == "allocated"
    assert view["sourcing"][0]["location"] == "wh_b"
    assert "wh_b" in view["sourcing"][0]["reason"]
    # an older snapshot is ignored; the cancellation releases
    assert ledger.apply([order("1001", [("l1", "SKU-A", 1)], version=0)])[0].outcome == "stale"
    ledger.apply([order("1001", [("l1", "SKU-A", 3)], version=2, event_type="order.cancelled")])
    assert _position(ledger, "SKU-A", "wh_b")["allocated"] == 0
    assert ledger.order("web:1001")["state"] == "cancelled"  # type: ignore[index]
    events = [e.event_type for e in ledger.unpublished(1000)]
    assert "order.allocated" in events
    assert "reservation.released" in events


def test_quantity_change_adjusts_reservation(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 10)])
    ledger.apply([order("1", [("l1", "SKU-A", 3)])])
    ledger.apply([order("1", [("l1", "SKU-A", 5)], version=2, event_type="order.updated")])
    assert _position(ledger, "SKU-A", "wh_a")["allocated"] == 5
    ledger.apply([order("1", [("l1", "SKU-A", 2)], version=3, event_type="order.updated")])
    assert _position(ledger, "SKU-A", "wh_a")["allocated"] == 2


def test_backorder_policy_per_sku(ledger: Ledger) -> None:
    setup_master_data(ledger, backorder=("SKU-B",))
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 1), receipt("r2", "SKU-B", "wh_a", 1)])
    ledger.apply([order("1", [("l1", "SKU-A", 2)]), order("2", [("l1", "SKU-B", 2)])])
    assert _position(ledger, "SKU-A", "wh_a")["allocated"] == 0
    assert ledger.order("web:1")["lines"][0]["status"] == "refused"  # type: ignore[index]
    assert _position(ledger, "SKU-B", "wh_a")["allocated"] == 2
    assert ledger.order("web:2")["state"] == "backordered"  # type: ignore[index]
    [b] = list(ledger.availability(TENANT, sku="SKU-B", channel="web"))
    assert b.available == 0  # a channel is shown 0, never negative


def test_channel_policy_protected_and_cap(ledger_url: str) -> None:
    from hub.ledger import ChannelRule, ChannelStockPolicy, LedgerPolicy
    from tests.ledger.conftest import open_ledger

    policy = LedgerPolicy(
        channels=ChannelStockPolicy(
            rules={"market": ChannelRule(protected=10), "b2b": ChannelRule(cap_percent=50)}
        )
    )
    with open_ledger(ledger_url, policy) as ledger:
        setup_master_data(ledger, channels=("web", "market", "b2b"))
        ledger.apply([receipt("r1", "SKU-A", "wh_a", 15)])
        atp = {a.channel: a.available for a in ledger.availability(TENANT, sku="SKU-A")}
        assert atp == {"web": 15, "market": 5, "b2b": 7}
        # the marketplace cannot take the protected units
        ledger.apply([order("m1", [("l1", "SKU-A", 6)], channel="market")])
        assert ledger.order("market:m1")["lines"][0]["status"] == "refused"  # type: ignore[index]
        ledger.apply([order("m2", [("l1", "SKU-A", 5)], channel="market")])
        atp = {a.channel: a.available for a in ledger.availability(TENANT, sku="SKU-A")}
        assert atp == {"web": 10, "market": 0, "b2b": 5}
        changes = [e for e in ledger.unpublished(1000) if e.event_type == "availability.changed"]
        assert changes
        for event in changes:
            ChannelAvailability.model_validate(event.payload)
        ledger.mark_published([e.id for e in changes])
        assert all(e.event_type != "availability.changed" for e in ledger.unpublished(1000))


def test_shipment_consumes_reservation_and_o2c(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 5)])
    ledger.apply([order("1", [("l1", "SKU-A", 2)]), order("2", [("l1", "SKU-A", 1)])])
    ledger.apply([payment(PaymentEventKind.CAPTURED, "1", "20.00", "ch_1")])
    ledger.apply([shipment("s1", "1", "wh_a", [("l1", "SKU-A", 2)])])
    assert _position(ledger, "SKU-A", "wh_a") == {
        "on_hand": 3,
        "allocated": 1,
        "in_transit": 0,
        "returns_pending": 0,
        "damaged": 0,
    }
    assert ledger.order("web:1")["state"] == "shipped"  # type: ignore[index]
    ledger.apply([payment(PaymentEventKind.CAPTURED, "2", "10.00", "ch_2")])
    report = ledger.reconciliation(TENANT, now=at(60 * 24 * 10))
    assert report["shipped_not_invoiced"] == ["web:1"]
    assert report["captured_not_shipped"] == ["web:2"]
    ledger.apply([tax_commit("1")])
    assert ledger.reconciliation(TENANT, now=at(60))["shipped_not_invoiced"] == []
    # refund above capture is refused
    [too_much] = ledger.apply([payment(PaymentEventKind.REFUNDED, "1", "30.00", "re_1")])
    assert too_much.code == "refund_refused"


def test_returns_inspection_and_refund_policy(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 5), order("1", [("l1", "SKU-A", 3)])])
    ledger.apply([payment(PaymentEventKind.CAPTURED, "1", "30.00", "ch_1")])
    ledger.apply([shipment("s1", "1", "wh_a", [("l1", "SKU-A", 3)])])
    ledger.apply([return_event("rma1", "1", "return.received", [("l1", 2, None)])])
    pos = _position(ledger, "SKU-A", "wh_a")
    assert (pos["on_hand"], pos["returns_pending"]) == (2, 2)
    [refund] = ledger.apply([payment(PaymentEventKind.REFUNDED, "1", "20.00", "re_1")])
    assert refund.outcome == "rejected"
    assert refund.code == "refund_refused"
    ledger.apply([return_event("rma1", "1", "return.inspected", [("l1", 2, Disposition.RESTOCK)])])
    pos = _position(ledger, "SKU-A", "wh_a")
    assert (pos["on_hand"], pos["returns_pending"]) == (4, 0)
    assert (
        ledger.apply([payment(PaymentEventKind.REFUNDED, "1", "20.00", "re_1")])[0].outcome
        == "applied"
    )
    assert ledger.reconciliation(TENANT)["refunded_without_return"] == []


def test_an_order_the_channel_reports_paid_can_be_refunded_up_to_its_total(
    ledger: Ledger,
) -> None:
    """A marketplace collects the money itself and sends no capture: its refunds are booked up to
    the order's total; an order still pending payment refunds nothing without a capture."""
    setup_master_data(ledger)
    ledger.apply(
        [
            receipt("r1", "SKU-A", "wh_a", 5),
            order("1", [("l1", "SKU-A", 3)], payment_status="paid"),
            order("2", [("l1", "SKU-A", 1)]),
        ]
    )
    [first] = ledger.apply([payment(PaymentEventKind.REFUNDED, "1", "20.00", "re_1")])
    assert first.outcome == "applied"
    [beyond] = ledger.apply([payment(PaymentEventKind.REFUNDED, "1", "15.00", "re_2")])
    assert beyond.code == "refund_refused"
    [pending] = ledger.apply([payment(PaymentEventKind.REFUNDED, "2", "5.00", "re_3")])
    assert pending.code == "refund_refused"


def test_cycle_count_variance_and_stale_snapshot(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 5)])
    assert ledger.apply([count("c2", "wh_a", at(20), {"SKU-A": 3})])[0].outcome == "applied"
    assert _position(ledger, "SKU-A", "wh_a")["on_hand"] == 3
    assert ledger.apply([count("c1", "wh_a", at(10), {"SKU-A": 9})])[0].outcome == "stale"
    assert _position(ledger, "SKU-A", "wh_a")["on_hand"] == 3


def test_transfer_moves_through_transit(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.apply(
        [
            receipt("r1", "SKU-A", "wh_a", 5),
            movement("t1", MovementKind.TRANSFER_OUT, "SKU-A", "wh_a", 2, counterpart="wh_b"),
        ]
    )
    assert _position(ledger, "SKU-A", "wh_b")["in_transit"] == 2
    [bad] = ledger.apply(
        [movement("t2", MovementKind.TRANSFER_IN, "SKU-A", "wh_b", 3, counterpart="wh_a")]
    )
    assert bad.code == "insufficient_stock"
    ledger.apply([movement("t3", MovementKind.TRANSFER_IN, "SKU-A", "wh_b", 2, counterpart="wh_a")])
    assert _position(ledger, "SKU-A", "wh_b")["on_hand"] == 2
    assert _position(ledger, "SKU-A", "wh_a")["on_hand"] == 3
    journal = ledger.journal_totals()
    for pos in ledger.positions(TENANT):
        totals = journal[(TENANT, pos.sku, pos.location)]
        assert totals["on_hand"] == pos.on_hand
        assert totals["in_transit"] == pos.in_transit


def test_external_id_mapping_and_unknown_line(ledger: Ledger) -> None:
    setup_master_data(ledger)
    ledger.map_external_id(TENANT, "web", "gid-42", "SKU-A")
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 5)])
    [mapped, unknown] = ledger.apply(
        [order("1", [("l1", "gid-42", 1)]), order("2", [("l1", "gid-99", 1)])]
    )
    assert mapped.outcome == "applied"
    assert unknown.code == "unknown_sku"
    assert ledger.order("web:1")["lines"][0]["sku"] == "SKU-A"  # type: ignore[index]


def test_serial_controlled_sku_without_serials_ships_and_opens_an_exception(
    ledger: Ledger, ledger_url: str
) -> None:
    """The units physically left, so the ledger books them; the missing serials are a
    reconciliation exception, not a refused message (refusing would keep them on the shelf)."""
    setup_master_data(ledger)
    ledger.upsert_sku(TENANT, "SKU-A", tracking="serial")
    ledger.apply([receipt("r1", "SKU-A", "wh_a", 5), order("1", [("l1", "SKU-A", 2)])])
    [applied] = ledger.apply([shipment("s1", "1", "wh_a", [("l1", "SKU-A", 2)])])
    assert applied.outcome == "applied"
    assert _position(ledger, "SKU-A", "wh_a")["on_hand"] == 3
    reports = Reports(ledger_url)
    try:
        found = FulfilmentReports(reports).fulfilment_exceptions(TENANT)
    finally:
        reports.close()
    assert [(e["kind"], e["expected"], e["actual"]) for e in found if e["sku"] == "SKU-A"] == [
        ("serial_missing", 2, 0)
    ]


def test_unsupported_and_record_only_events(ledger: Ledger) -> None:
    setup_master_data(ledger)
    [reservation] = ledger.apply([movement("x1", MovementKind.RESERVATION, "SKU-A", "wh_a", 1)])
    assert reservation.code == "unsupported_event"
    from canonical import TrackingEvent, TrackingStatus
    from tests.ledger.factory import wrap

    tracking = TrackingEvent(
        tenant=TENANT,
        tracking_number="1Z",
        carrier="ups",
        status=TrackingStatus.IN_TRANSIT,
        occurred_at=at(1),
    )
    [first, second] = ledger.apply([wrap(tracking, "tracking.updated", "1Z", 1)] * 2)
    assert (first.outcome, second.outcome) == ("applied", "duplicate")
