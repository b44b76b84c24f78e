"""Procurement messages through ``Ledger.apply``: kept in the procurement tables in the ledger's
transaction, exactly once, refused without a trace, replaced by a later version."""

from __future__ import annotations

from datetime import UTC, datetime

from canonical import (
    AdvanceShipNotice,
    Envelope,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    SupplierLine,
)
from hub.ledger import Ledger
from tests.replenishment import scenario

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def _po(number: str, lines: list[tuple[str, int]], *, version: int = 1) -> Envelope:
    payload = PurchaseOrder(
        tenant=scenario.TENANT,
        po_number=number,
        supplier="acme_supply",
        location="wh_a",
        lines=[PurchaseOrderLine(sku=sku, quantity=qty) for sku, qty in lines],
        ordered_at=DAY,
        expected_at=datetime(2026, 3, 9, tzinfo=UTC),
    )
    return Envelope.wrap(
        payload,
        event_type="purchase_order.placed",
        source=scenario.SOURCE,
        source_ids=(number, version),
        occurred_at=DAY,
    )


def _lines(ledger: Ledger, number: str) -> list[tuple[str, int]]:
    rows = ledger._read(
        "SELECT sku, quantity FROM purchase_order_lines WHERE po_number = ? ORDER BY sku", (number,)
    )
    return [(str(sku), int(qty)) for sku, qty in rows]


def test_a_purchase_order_is_kept_once(ledger: Ledger) -> None:
    scenario.master_data(ledger)
    envelope = _po("PO-9", [("SKU-A", 5), ("SKU-B", 2), ("SKU-A", 1)])
    assert [r.outcome for r in ledger.apply([envelope])] == ["applied"]
    assert [r.outcome for r in ledger.apply([envelope])] == ["duplicate"]
    assert _lines(ledger, "PO-9") == [("SKU-A", 6), ("SKU-B", 2)]  # a SKU listed twice is summed


def test_a_later_version_replaces_the_lines(ledger: Ledger) -> None:
    scenario.master_data(ledger)
    ledger.apply([_po("PO-9", [("SKU-A", 5), ("SKU-B", 2)])])
    assert [r.outcome for r in ledger.apply([_po("PO-9", [("SKU-A", 7)], version=2)])] == [
        "applied"
    ]
    assert _lines(ledger, "PO-9") == [("SKU-A", 7)]


def test_a_purchase_order_for_an_unknown_sku_is_refused_and_leaves_no_row(ledger: Ledger) -> None:
    scenario.master_data(ledger)
    result = ledger.apply([_po("PO-9", [("SKU-A", 5), ("SKU-Q", 1)])])[0]
    assert (result.outcome, result.code) == ("rejected", "unknown_sku")
    assert ledger._read("SELECT COUNT(*) FROM purchase_orders")[0][0] == 0
    assert ledger.processed_count() == 0  # the key is not kept: a replay after the fix applies


def test_a_receipt_naming_only_its_notice_is_booked_against_the_notice_po(ledger: Ledger) -> None:
    """The receipt moves the stock (the ledger's receipt handler) and is kept against PO-9,
    found through ASN-9, with the notice's supplier."""
    scenario.master_data(ledger)
    notice = AdvanceShipNotice(
        tenant=scenario.TENANT,
        asn_id="ASN-9",
        po_number="PO-9",
        supplier="acme_supply",
        location="wh_a",
        lines=[SupplierLine(sku="SKU-A", quantity=5)],
        shipped_at=DAY,
        expected_at=datetime(2026, 3, 4, tzinfo=UTC),
    )
    receipt = Receipt(
        tenant=scenario.TENANT,
        receipt_id="R-9",
        asn_id="ASN-9",
        location="wh_a",
        lines=[ReceiptLine(sku="SKU-A", quantity=4)],
        received_at=datetime(2026, 3, 5, tzinfo=UTC),
    )
    results = ledger.apply(
        [
            _po("PO-9", [("SKU-A", 5)]),
            Envelope.wrap(
                notice,
                event_type="ship_notice.received",
                source=scenario.SOURCE,
                source_ids=("ASN-9",),
                occurred_at=DAY,
            ),
            Envelope.wrap(
                receipt,
                event_type="receipt.recorded",
                source=scenario.SOURCE,
                source_ids=("R-9",),
                occurred_at=receipt.received_at,
            ),
        ]
    )
    assert [r.outcome for r in results] == ["applied"] * 3
    assert ledger._read(
        "SELECT po_number, supplier FROM procurement_receipts WHERE receipt_id = 'R-9'"
    ) == [("PO-9", "acme_supply")]
    (position,) = ledger.positions(scenario.TENANT, sku="SKU-A")
    assert position.on_hand == 4
