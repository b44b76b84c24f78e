"""What each event type does to the ledger. :data:`HANDLERS` is the dispatch table.

Event types not in the table but known to the canonical model (tracking, tax quotes,
availability, and ``fulfillment.cancelled``, which the ledger itself sends out when an order it
released is cancelled) are recorded as processed without effect: the ledger is not
their system of record, and storing the key keeps a redelivery a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable

from canonical import (
    CycleCount,
    Envelope,
    MovementKind,
    Order,
    PaymentEvent,
    Receipt,
    ReturnRequest,
    StockMovement,
    TaxCommit,
)
from canonical.inventory import CountLine, movement_deltas
from canonical.order import PaymentStatus
from canonical.payment import PaymentEventKind
from hub.ledger.errors import (
    InsufficientStockError,
    InvalidMessageError,
    RefundRefusedError,
    UnknownOrderError,
    UnsupportedEventError,
)
from hub.ledger.lots import count_lot, record_lot_change
from hub.ledger.orders import (
    apply_order,
    history,
    load_lines,
    note_returned,
    reconcile,
    require_order,
)
from hub.ledger.shipments import (
    apply_fulfillment_request,
    apply_shipment,
    close_requests,
    return_serials,
)
from hub.ledger.work import Work, ts
from hub.replenishment.records import (
    record_purchase_order,
    record_ship_notice,
    with_receipt_record,
)

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[Work, Envelope], str]

#: Movement kinds only the ledger itself makes (from orders and shipments).
_LEDGER_OWNED = {MovementKind.RESERVATION, MovementKind.RESERVATION_RELEASE, MovementKind.SHIPMENT}


def apply_movement(work: Work, envelope: Envelope) -> str:
    movement = envelope.payload
    assert isinstance(movement, StockMovement)
    if movement.kind in _LEDGER_OWNED:
        raise UnsupportedEventError(
            f"stock.moved of kind {movement.kind.value!r} is refused: reservations come from "
            "orders and shipments from shipment.created, so the ledger owns them"
        )
    work.move(
        movement.tenant,
        movement.kind,
        movement.sku,
        movement.location,
        movement.quantity,
        counterpart=movement.counterpart_location,
        disposition=movement.disposition,
        reason=movement.reason,
        reference=movement.reference,
        movement_id=movement.movement_id,
    )
    if movement.lot is not None:
        for (location, bucket), delta in movement_deltas(movement).items():
            if bucket == "on_hand" and delta:
                record_lot_change(
                    work,
                    movement.tenant,
                    movement.sku,
                    location,
                    movement.lot,
                    delta,
                    movement.kind.value,
                    reference=movement.reference or movement.movement_id,
                )
    return "applied"


def apply_receipt(work: Work, envelope: Envelope) -> str:
    receipt = envelope.payload
    assert isinstance(receipt, Receipt)
    for index, line in enumerate(receipt.lines):
        if line.quantity > 0:
            work.move(
                receipt.tenant,
                MovementKind.RECEIPT,
                line.sku,
                receipt.location,
                line.quantity,
                reference=receipt.po_number or receipt.receipt_id,
                movement_id=f"{receipt.receipt_id}/{index}",
                reason=f"receipt {receipt.receipt_id}",
            )
            if line.lot is not None:
                record_lot_change(
                    work,
                    receipt.tenant,
                    line.sku,
                    receipt.location,
                    line.lot,
                    line.quantity,
                    "receipt",
                    reference=receipt.po_number or receipt.receipt_id,
                )
    return "applied"


def apply_count(work: Work, envelope: Envelope) -> str:
    """A count older than the last applied one (per SKU and location) is ignored; the variance
    of a newer one becomes an adjustment with the count as its reason."""
    count = envelope.payload
    assert isinstance(count, CycleCount)
    tenant = count.tenant
    work.location(tenant, count.location)
    counted: dict[str, int] = {}
    by_lot: dict[str, list[CountLine]] = {}
    for line in count.lines:
        counted[line.sku] = counted.get(line.sku, 0) + line.quantity
        if line.lot is not None:
            by_lot.setdefault(line.sku, []).append(line)
    as_of = ts(count.as_of)
    applied = False
    for sku in sorted(counted):
        info = work.sku(tenant, sku)
        rows = work.db.query(
            "SELECT as_of FROM cycle_counts WHERE tenant = ? AND sku = ? AND location = ?",
            (tenant, sku, count.location),
        )
        if rows and rows[0][0] >= as_of:
            continue
        applied = True
        position = work.lock_positions(tenant, sku).get(count.location)
        on_hand = position.on_hand if position else 0
        allocated = position.allocated if position else 0
        if counted[sku] < allocated and not info.backorder_allowed:
            raise InsufficientStockError(
                f"count {count.count_id} finds {counted[sku]} x {sku} at {count.location} but "
                f"{allocated} are allocated to orders; release or reallocate them first"
            )
        variance = counted[sku] - on_hand
        if variance:
            work.move(
                tenant,
                MovementKind.ADJUSTMENT,
                sku,
                count.location,
                variance,
                reason=f"cycle count {count.count_id} ({count.source or 'unknown source'}) "
                f"as of {as_of}: counted {counted[sku]}, ledger had {on_hand}",
                reference=count.count_id,
                check_oversell=False,
            )
        for line in by_lot.get(sku, []):
            assert line.lot is not None
            count_lot(work, tenant, sku, count.location, line.lot, line.quantity, count.count_id)
        work.db.execute(
            "INSERT INTO cycle_counts (tenant, sku, location, as_of, count_id) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, sku, location) "
            "DO UPDATE SET as_of = excluded.as_of, count_id = excluded.count_id",
            (tenant, sku, count.location, as_of, count.count_id),
        )
    return "applied" if applied else "stale"


#: Payment states in which the channel reports the order's money collected.
_CHANNEL_COLLECTED = frozenset(
    {PaymentStatus.PAID.value, PaymentStatus.PARTIALLY_REFUNDED.value, PaymentStatus.REFUNDED.value}
)


def apply_payment(work: Work, envelope: Envelope) -> str:
    payment = envelope.payload
    assert isinstance(payment, PaymentEvent)
    if payment.order is None:
        raise UnknownOrderError(
            f"payment {payment.payment_id} ({payment.kind.value}) names no order; the ledger "
            "books payments against orders"
        )
    tenant, key = payment.tenant, payment.order.key
    order = require_order(work, tenant, key)
    if payment.amount.currency != order["currency"]:
        raise InvalidMessageError(
            f"payment {payment.payment_id} is in {payment.amount.currency} but order {key} is in "
            f"{order['currency']}"
        )
    minor = payment.amount.minor_units
    if payment.kind is PaymentEventKind.CAPTURED:
        work.db.execute(
            "UPDATE orders SET captured_minor = captured_minor + ?, "
            "captured_at = COALESCE(captured_at, ?) WHERE tenant = ? AND order_key = ?",
            (minor, ts(payment.occurred_at), tenant, key),
        )
        order["captured_minor"] = int(order["captured_minor"]) + minor
    elif payment.kind is PaymentEventKind.REFUNDED:
        captured, refunded = int(order["captured_minor"]), int(order["refunded_minor"])
        if order["payment_status"] in _CHANNEL_COLLECTED:
            # a marketplace (Amazon) or a storefront's own payments collected the money and
            # report the order paid: no capture event will come, the total was collected
            captured = max(captured, int(order["total_minor"]))
        if refunded + minor > captured:
            raise RefundRefusedError(
                f"refund {payment.transaction_id or payment.payment_id} of {payment.amount} "
                f"would bring refunds of order {key} above what was captured"
            )
        if not work.policy.returns.allow_refund_before_inspection:
            pending = work.db.query(
                "SELECT r.rma_id FROM returns r JOIN return_lines l ON l.tenant = r.tenant "
                "AND l.rma_id = r.rma_id WHERE r.tenant = ? AND r.order_key = ? "
                "AND l.inspected < l.quantity",
                (tenant, key),
            )
            if pending:
                raise RefundRefusedError(
                    f"refund of {payment.amount} for order {key} comes before return "
                    f"{pending[0][0]} was inspected; the returns policy refuses refunds before "
                    "inspection (allow_refund_before_inspection)"
                )
        work.db.execute(
            "UPDATE orders SET refunded_minor = refunded_minor + ? "
            "WHERE tenant = ? AND order_key = ?",
            (minor, tenant, key),
        )
        order["refunded_minor"] = int(order["refunded_minor"]) + minor
    work.defer(
        "INSERT INTO payments (tenant, order_key, kind, provider, payment_id, transaction_id, "
        "amount_minor, currency, occurred_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            key,
            payment.kind.value,
            payment.provider,
            payment.payment_id,
            payment.transaction_id,
            minor,
            payment.amount.currency,
            ts(payment.occurred_at),
            work.message_id,
        ),
    )
    history(
        work,
        tenant,
        key,
        envelope.event_type,
        order["state"],
        f"{payment.kind.value} {payment.amount}",
    )
    if payment.kind in (PaymentEventKind.CAPTURED, PaymentEventKind.AUTHORIZED):
        work.db.execute(
            "UPDATE orders SET payment_status = ? WHERE tenant = ? AND order_key = ? "
            "AND payment_status = 'pending'",
            (PaymentStatus.AUTHORIZED.value, tenant, key),
        )
        if order["payment_status"] == PaymentStatus.PENDING.value:
            order["payment_status"] = PaymentStatus.AUTHORIZED.value
        reconcile(work, tenant, key, envelope.event_type)
    return "applied"


def apply_tax_commit(work: Work, envelope: Envelope) -> str:
    """The ledger's invoicing fact: a committed tax document means the order was invoiced."""
    commit = envelope.payload
    assert isinstance(commit, TaxCommit)
    tenant, key = commit.tenant, commit.order.key
    order = require_order(work, tenant, key)
    work.db.execute(
        "UPDATE orders SET invoiced_at = COALESCE(invoiced_at, ?), invoice_document = ? "
        "WHERE tenant = ? AND order_key = ?",
        (ts(commit.committed_at), commit.document_code, tenant, key),
    )
    history(
        work, tenant, key, envelope.event_type, order["state"], f"invoiced ({commit.document_code})"
    )
    return "applied"


def apply_return(work: Work, envelope: Envelope) -> str:
    """Requested: recorded. Received: units go to returns pending inspection (not available).
    Inspected: each line's disposition moves them to on-hand, damaged or scrap. The serials of a
    received line are marked returned (or, when the order never shipped them, open
    ``serial_not_shipped``), an inspected line's disposition is recorded with its serials, and a
    serial-controlled line received with fewer serials than units opens ``return_serial_missing``:
    see :func:`hub.ledger.shipments.return_serials`."""
    rma = envelope.payload
    assert isinstance(rma, ReturnRequest)
    tenant, key = rma.tenant, rma.order.key
    order = require_order(work, tenant, key)
    location = rma.location or work.policy.returns.default_location
    stored = work.db.query(
        "SELECT updated_at FROM returns WHERE tenant = ? AND rma_id = ?" + work.db.for_update,  # noqa: S608 - fixed SQL; values are parameters
        (tenant, rma.rma_id),
    )
    status = envelope.event_type.removeprefix("return.")
    if stored:
        work.db.execute(
            "UPDATE returns SET status = ?, location = ?, updated_at = ? WHERE tenant = ? AND rma_id = ?",
            (status, location, ts(rma.updated_at), tenant, rma.rma_id),
        )
    else:
        work.db.execute(
            "INSERT INTO returns (tenant, rma_id, order_key, status, location, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, rma.rma_id, key, status, location, ts(rma.updated_at)),
        )
    order_lines = {line.line_id: line for line in load_lines(work, tenant, key)}
    opened: list[str] = []
    receive = envelope.event_type in ("return.received", "return.inspected")
    if receive and location is None:
        raise InvalidMessageError(
            f"return {rma.rma_id} names no location and the returns policy has no default_location"
        )
    for line in rma.lines:
        order_line = order_lines.get(line.line_id)
        if order_line is None or order_line.sku is None:
            raise InvalidMessageError(
                f"return {rma.rma_id}: order {key} has no line {line.line_id!r}"
            )
        sku = line.sku or order_line.sku
        rows = work.db.query(
            "SELECT quantity, received, inspected FROM return_lines "
            "WHERE tenant = ? AND rma_id = ? AND line_id = ?",
            (tenant, rma.rma_id, line.line_id),
        )
        received, inspected = (int(rows[0][1]), int(rows[0][2])) if rows else (0, 0)
        if not rows:
            work.db.execute(
                "INSERT INTO return_lines (tenant, rma_id, line_id, sku, quantity) VALUES (?, ?, ?, ?, ?)",
                (tenant, rma.rma_id, line.line_id, sku, line.quantity),
            )
        else:
            work.db.execute(
                "UPDATE return_lines SET quantity = ? WHERE tenant = ? AND rma_id = ? AND line_id = ?",
                (line.quantity, tenant, rma.rma_id, line.line_id),
            )
        reference = f"{rma.rma_id}/{line.line_id}"
        if receive and line.quantity > received:
            delta = line.quantity - received
            if order_line.returned + delta > order_line.shipped:
                raise InvalidMessageError(
                    f"return {rma.rma_id} brings back {order_line.returned + delta} of line "
                    f"{line.line_id}, which shipped {order_line.shipped}"
                )
            assert location is not None
            work.move(
                tenant,
                MovementKind.RETURN_RECEIVED,
                sku,
                location,
                delta,
                reference=reference,
                reason=line.reason.value,
            )
            order_line.returned += delta
            note_returned(work, tenant, key, order_line)
            received = line.quantity
        if (
            envelope.event_type == "return.inspected"
            and line.disposition is not None
            and received > inspected
        ):
            assert location is not None
            work.move(
                tenant,
                MovementKind.INSPECTION,
                sku,
                location,
                received - inspected,
                disposition=line.disposition,
                reference=reference,
                reason=f"inspected: {line.disposition.value}",
            )
            inspected = received
        work.db.execute(
            "UPDATE return_lines SET received = ?, inspected = ? WHERE tenant = ? AND rma_id = ? AND line_id = ?",
            (received, inspected, tenant, rma.rma_id, line.line_id),
        )
        if receive:  # the units are back: so are their serials (and, inspected, their fate)
            inspected_as = (
                line.disposition.value
                if envelope.event_type == "return.inspected" and line.disposition is not None
                else None
            )
            opened.extend(
                return_serials(
                    work,
                    tenant,
                    key,
                    rma.rma_id,
                    line.line_id,
                    sku,
                    line.quantity,
                    list(line.serials),
                    ts(rma.updated_at),
                    inspected_as,
                )
            )
    kinds = sorted(set(opened))
    history(
        work,
        tenant,
        key,
        envelope.event_type,
        order["state"],
        f"return {rma.rma_id} {status}" + (f"; exceptions: {', '.join(kinds)}" if kinds else ""),
    )
    return "applied"


def apply_order_snapshot(work: Work, envelope: Envelope) -> str:
    """An order snapshot; a cancellation also cancels the order's open fulfilment requests (and
    frees the lots they had committed)."""
    outcome = apply_order(work, envelope)
    order = envelope.payload
    assert isinstance(order, Order)
    cancelled = envelope.event_type == "order.cancelled" or order.cancelled_at is not None
    if outcome == "applied" and cancelled:
        close_requests(work, order.tenant, order.key, "order cancelled: open requests cancelled")
    return outcome


def record_only(work: Work, envelope: Envelope) -> str:
    """Known to the canonical model, not acted on by the ledger: keep the key, change nothing."""
    return "applied"


HANDLERS: dict[str, Handler] = {
    "order.created": apply_order_snapshot,
    "order.updated": apply_order_snapshot,
    "order.cancelled": apply_order_snapshot,
    "stock.moved": apply_movement,
    "stock.counted": apply_count,
    "receipt.recorded": with_receipt_record(apply_receipt),
    "purchase_order.placed": record_purchase_order,
    "ship_notice.received": record_ship_notice,
    "shipment.created": apply_shipment,
    "fulfillment.requested": apply_fulfillment_request,
    "payment.authorized": apply_payment,
    "payment.captured": apply_payment,
    "payment.refunded": apply_payment,
    "payment.failed": apply_payment,
    "payment.disputed": apply_payment,
    "return.requested": apply_return,
    "return.received": apply_return,
    "return.inspected": apply_return,
    "tax.committed": apply_tax_commit,
}

#: Event types stored as processed without any effect (see the module docstring).
RECORD_ONLY = frozenset(
    {
        "availability.changed",
        "fulfillment.cancelled",
        "tracking.updated",
        "tax.quoted",
    }
)
