"""Procurement records kept by the ledger: purchase orders, advance ship notices and receipts.

These are ledger handlers (``handler(work, envelope) -> outcome``), registered in
``hub.ledger.handlers.HANDLERS``, so a procurement message is written in the same transaction (and
savepoint) as its idempotency key: a redelivery is a duplicate, a refused message leaves no row.
The ledger is not the supplier's system of record, but lead times, on-time and in-full rates and
inbound delays can only be measured from what was ordered, announced and received, so we keep it.

A later version of a document (same PO number, ASN id or receipt id under a new idempotency key)
replaces the earlier one: lines are rewritten, never added to, so a corrected document cannot
double-count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from canonical import AdvanceShipNotice, Envelope, PurchaseOrder, Receipt
from hub.ledger.work import Work, ts

__all__ = ["record_purchase_order", "record_receipt", "record_ship_notice", "with_receipt_record"]

Handler = Callable[[Work, Envelope], str]


def _quantities(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Quantities summed per SKU: a document may list a SKU twice; we keep one row per SKU."""
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        totals[sku] = totals.get(sku, 0) + quantity
    return totals


def _replace_lines(
    work: Work, table: str, key_column: str, tenant: str, key: str, rows: list[tuple[object, ...]]
) -> None:
    """Rewrite a document's lines (delete then insert), so a new version replaces the old."""
    work.db.execute(
        f"DELETE FROM {table} WHERE tenant = ? AND {key_column} = ?",  # noqa: S608 - fixed names
        (tenant, key),
    )
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        work.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608


def record_purchase_order(work: Work, envelope: Envelope) -> str:
    """``purchase_order.placed``: keep the order and its lines (SKUs and location must exist, so a
    typo is refused and can be replayed once the master data is fixed)."""
    po = envelope.payload
    assert isinstance(po, PurchaseOrder)
    work.location(po.tenant, po.location)
    for line in po.lines:
        work.sku(po.tenant, line.sku)
    work.db.execute(
        "INSERT INTO purchase_orders (tenant, po_number, supplier, location, ordered_at, "
        "expected_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tenant, po_number) DO UPDATE SET supplier = excluded.supplier, "
        "location = excluded.location, ordered_at = excluded.ordered_at, "
        "expected_at = excluded.expected_at, message_id = excluded.message_id",
        (
            po.tenant,
            po.po_number,
            po.supplier,
            po.location,
            ts(po.ordered_at),
            ts(po.expected_at),
            work.message_id,
        ),
    )
    expected: dict[str, str] = {}
    for line in po.lines:
        if line.expected_at is not None:
            expected[line.sku] = max(expected.get(line.sku, ""), ts(line.expected_at))
    totals = _quantities((line.sku, line.quantity) for line in po.lines)
    _replace_lines(
        work,
        "purchase_order_lines",
        "po_number",
        po.tenant,
        po.po_number,
        [(po.tenant, po.po_number, sku, qty, expected.get(sku)) for sku, qty in totals.items()],
    )
    return "applied"


def record_ship_notice(work: Work, envelope: Envelope) -> str:
    """``ship_notice.received``: keep the notice; its ``expected_at`` is the supplier's current
    promise, which may be later than the purchase order's (an inbound delay)."""
    asn = envelope.payload
    assert isinstance(asn, AdvanceShipNotice)
    work.location(asn.tenant, asn.location)
    work.db.execute(
        "INSERT INTO ship_notices (tenant, asn_id, po_number, supplier, location, shipped_at, "
        "expected_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tenant, asn_id) DO UPDATE SET po_number = excluded.po_number, "
        "supplier = excluded.supplier, location = excluded.location, "
        "shipped_at = excluded.shipped_at, expected_at = excluded.expected_at, "
        "message_id = excluded.message_id",
        (
            asn.tenant,
            asn.asn_id,
            asn.po_number,
            asn.supplier,
            asn.location,
            ts(asn.shipped_at),
            ts(asn.expected_at),
            work.message_id,
        ),
    )
    totals = _quantities((line.sku, line.quantity) for line in asn.lines)
    _replace_lines(
        work,
        "ship_notice_lines",
        "asn_id",
        asn.tenant,
        asn.asn_id,
        [(asn.tenant, asn.asn_id, sku, qty) for sku, qty in totals.items()],
    )
    return "applied"


def record_receipt(work: Work, envelope: Envelope) -> None:
    """Keep a receipt against its purchase order (found through the notice when the receipt
    names only the ASN). The stock itself is moved by the ledger's own receipt handler."""
    receipt = envelope.payload
    assert isinstance(receipt, Receipt)
    po_number, supplier = receipt.po_number, receipt.supplier
    if receipt.asn_id is not None and (po_number is None or supplier is None):
        rows = work.db.query(
            "SELECT po_number, supplier FROM ship_notices WHERE tenant = ? AND asn_id = ?",
            (receipt.tenant, receipt.asn_id),
        )
        if rows:
            po_number = po_number or rows[0][0]
            supplier = supplier or rows[0][1]
    work.db.execute(
        "INSERT INTO procurement_receipts (tenant, receipt_id, po_number, asn_id, supplier, "
        "location, received_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tenant, receipt_id) DO UPDATE SET po_number = excluded.po_number, "
        "asn_id = excluded.asn_id, supplier = excluded.supplier, location = excluded.location, "
        "received_at = excluded.received_at, message_id = excluded.message_id",
        (
            receipt.tenant,
            receipt.receipt_id,
            po_number,
            receipt.asn_id,
            supplier,
            receipt.location,
            ts(receipt.received_at),
            work.message_id,
        ),
    )
    totals = _quantities((line.sku, line.quantity) for line in receipt.lines)
    _replace_lines(
        work,
        "procurement_receipt_lines",
        "receipt_id",
        receipt.tenant,
        receipt.receipt_id,
        [(receipt.tenant, receipt.receipt_id, sku, qty) for sku, qty in totals.items()],
    )


def with_receipt_record(apply_stock: Handler) -> Handler:
    """The ledger's receipt handler (which moves the stock) followed by :func:`record_receipt`,
    so ``receipt.recorded`` keeps both effects in one savepoint."""

    def handler(work: Work, envelope: Envelope) -> str:
        outcome = apply_stock(work, envelope)
        record_receipt(work, envelope)
        return outcome

    handler.__doc__ = apply_stock.__doc__
    return handler
