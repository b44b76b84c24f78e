"""The dashboard's figures (hub.reports) from a known ledger, on SQLite and on PostgreSQL.

The day: O1 ships complete; O2 ships 2 of 3; O3 is allocated and was held for review once; O4 is
cancelled; O5 ships complete, then a return is requested and inspected 90 minutes later.
Expected by hand: fill rate over shipped orders (O1, O2, O5) = (3 + 2 + 1) / (3 + 3 + 1) = 6/7;
perfect orders = O1 and O5 of the three (O2 short) = 2/3; clean orders = 4 of 5 (O3 was held); one
cancellation; one return cycle of 1.5 h.

The perfect-order figure was 1/3 before the per-order definition of hub.fulfilment_report (complete,
on time, undamaged, accurate, right documents): O5's return is for the reason "other", and only a
return received damaged or defective makes an order imperfect now, so O5 counts. The shipments carry
a tracking number because a shipment without one is now a missing_tracking document exception.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from canonical import Envelope, Package
from canonical.returns import Disposition
from hub.ledger.store import Ledger
from hub.reports import Reports
from tests.ledger.factory import (
    TENANT,
    order,
    receipt,
    return_event,
    setup_master_data,
    shipment,
)


def _held(ledger: Ledger, order_key: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ledger.db.execute(
        "INSERT INTO held_messages (tenant, queue, rule, reason, idempotency_key, order_key, raw, "
        "envelope, passed_rules, held_at, due_at, status) "
        "VALUES (?, 'review', 'high_value', 'total above 1500 USD', ?, ?, '{}', '{}', '[]', ?, ?, "
        "'approved')",
        (TENANT, f"k-{order_key}", order_key, stamp, stamp),
    )


def _tracked(envelope: Envelope, number: str) -> Envelope:
    """The factory's shipment with a UPS package and tracking number."""
    payload = envelope.payload.model_copy(
        update={"carrier": "ups", "packages": [Package(tracking_number=number)]}
    )
    return envelope.model_copy(update={"payload": payload})


def _history_at(ledger: Ledger, order_key: str, event: str, moment: datetime) -> None:
    """Date a lifecycle event (the ledger stamps them with the time of applying)."""
    ledger.db.execute(
        "UPDATE order_history SET at = ? WHERE tenant = ? AND order_key = ? AND event = ?",
        (moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), TENANT, order_key, event),
    )


def test_overview_figures_match_the_hand_computed_day(ledger: Ledger, ledger_url: str) -> None:
    setup_master_data(ledger)
    ledger.apply([receipt("r-a", "SKU-A", "wh_a", 50), receipt("r-b", "SKU-B", "wh_a", 50)])
    ledger.apply(
        [
            order("O1", [("1", "SKU-A", 2), ("2", "SKU-B", 1)]),
            order("O2", [("1", "SKU-A", 3)]),
            order("O3", [("1", "SKU-B", 1)]),
            order("O4", [("1", "SKU-B", 1)], event_type="order.cancelled"),
            order("O5", [("1", "SKU-A", 1)]),
        ]
    )
    ledger.apply(
        [
            _tracked(
                shipment("s1", "O1", "wh_a", [("1", "SKU-A", 2), ("2", "SKU-B", 1)]),
                "1Z999AA10123456784",
            ),
            _tracked(shipment("s2", "O2", "wh_a", [("1", "SKU-A", 2)]), "1Z999AA10123456785"),
            _tracked(shipment("s5", "O5", "wh_a", [("1", "SKU-A", 1)]), "1Z999AA10123456786"),
        ]
    )
    ledger.apply([return_event("rma5", "O5", "return.requested", [("1", 1, None)])])
    ledger.apply(
        [
            return_event("rma5", "O5", "return.received", [("1", 1, None)]),
            return_event("rma5", "O5", "return.inspected", [("1", 1, Disposition.RESTOCK)]),
        ]
    )
    _held(ledger, "web:O3")
    requested = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    _history_at(ledger, "web:O5", "return.requested", requested)
    _history_at(ledger, "web:O5", "return.inspected", requested + timedelta(minutes=90))

    reports = Reports(ledger_url)
    try:
        report = reports.overview(TENANT, "SKU-A")
    finally:
        reports.close()
    assert report.orders_total == 5
    assert report.cancellations == 1
    assert report.fill_rate == round(6 / 7, 4)
    assert report.perfect_order_rate == round(2 / 3, 4)
    assert report.clean_order_rate == 0.8
    assert report.return_cycle_hours_median == 1.5
    assert report.returns_open == 0
    assert report.queues == {}  # the review was decided: nothing open
    [wh_a] = report.inventory_by_location
    assert wh_a["location"] == "wh_a"
    assert wh_a["on_hand"] == 100 - (3 + 2 + 1) + 1  # shipped units left, the return restocked
    assert report.sku == "SKU-A"
    assert report.backlog_aging["allocated"]["<1h"] == 1  # O3
