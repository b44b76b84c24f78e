"""Release and shipment confirmation: what a node was asked to ship, what physically left, and
every difference between the two.

A released request is stored line by line (``fulfilment_requests`` and its lines, with the lot
each lot-controlled line picks). A shipment confirmation is then *reconciled* against it:

* each shipped line is matched to its order line (by id, else the first open line of its SKU);
* an item the order line does not have (by SKU, or by a scanned GTIN of another SKU) is a
  ``wrong_item``; an item the order does not have at all, or units beyond what the line has left,
  are ``extra_item``; a shipment from another node than the request's is ``wrong_location``;
* a lot-controlled unit shipped without a lot is ``lot_missing``, in another lot than released
  ``lot_mismatch``; a serial-controlled line without a serial per unit is ``serial_missing``, a
  serial already shipped (and not returned since) is ``duplicate_serial``, and a serial whose unit
  came back and was inspected damaged or scrapped is ``serial_scrapped``;
* a shipment without a tracking number is ``missing_tracking``, one not shaped like its carrier's
  numbers ``bad_tracking``;
* a shipment that closes its request with units left is a ``short_ship``; the remainder goes back
  to the release queue. Without that flag the request stays open (``partially_shipped``) for the
  split shipment that completes it.

Every difference becomes a fulfilment exception with its detail, and the ledger records exactly
what physically left: units of a wrong or extra item leave on-hand too (through a reservation and
a shipment movement, so the journal still sums to the positions), while the ordered line stays
open. Nothing here refuses a confirmation that describes a real shipment: refusing it would leave
the ledger believing stock is still on the shelf.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from canonical import (
    Disposition,
    Envelope,
    FulfillmentRequest,
    MovementKind,
    Shipment,
    ShipmentLine,
)
from hub.ledger import lots
from hub.ledger.errors import InvalidMessageError, UnknownRequestError
from hub.ledger.orders import Line, history, load_lines, reconcile, require_order, save_line
from hub.ledger.tracking_numbers import tracking_problem
from hub.ledger.work import Work, now_text, ts

__all__ = [
    "DOCUMENT_KINDS",
    "ITEM_KINDS",
    "RETURN_KINDS",
    "UNSELLABLE_DISPOSITIONS",
    "apply_fulfillment_request",
    "apply_shipment",
    "close_requests",
    "receive_serials",
    "return_serials",
]

#: Findings about what was shipped (they make an allocation inaccurate).
ITEM_KINDS = ("short_ship", "wrong_item", "extra_item", "wrong_location", "lot_mismatch")
#: Findings about what documents a shipment (they make an order's documents wrong).
DOCUMENT_KINDS = (
    "missing_tracking",
    "bad_tracking",
    "serial_missing",
    "lot_missing",
    "duplicate_serial",
    "serial_scrapped",
)
#: Findings about what a return brought back. They are not counted against the perfect order of
#: the shipment: the unit came back after delivery, and which side is wrong (the serial the
#: shipment recorded, or the unit the customer sent) is only known once someone looks at it.
#: ``return_serial_missing`` (a received serial-controlled return line with fewer serials than
#: units) is one too: the customer, the carrier or the returns desk left the serials out.
RETURN_KINDS = ("serial_not_shipped", "return_serial_missing")
#: Inspection dispositions after which a returned unit is not sold again: ``damaged`` units go to
#: the damaged bucket (not on hand), ``scrap`` ones leave the stock. Shipping such a serial again
#: opens ``serial_scrapped``; ``restock`` puts the unit back on hand, and its serial ships freely.
UNSELLABLE_DISPOSITIONS = frozenset({Disposition.DAMAGED.value, Disposition.SCRAP.value})
_OPEN = ("open", "partially_shipped")


@dataclass(slots=True)
class _RequestLine:
    seq: int
    line_id: str
    sku: str
    quantity: int
    lot: str | None
    shipped: int

    @property
    def left(self) -> int:
        return max(0, self.quantity - self.shipped)


@dataclass(slots=True)
class _Request:
    request_id: str
    location: str
    lines: list[_RequestLine]
    #: per request line (seq), the units the shipment being applied took from it
    changed: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Finding:
    kind: str
    detail: str
    line_id: str | None = None
    sku: str | None = None
    expected: int | None = None
    actual: int | None = None


# -- release -----------------------------------------------------------------------------------


def apply_fulfillment_request(work: Work, envelope: Envelope) -> str:
    """A fulfilment request releases the order to its location (commit at release): the order is
    marked released, the request and its lines are stored, lots named on it are committed."""
    request = envelope.payload
    assert isinstance(request, FulfillmentRequest)
    tenant, key = request.tenant, request.order.key
    order = require_order(work, tenant, key)
    work.location(tenant, request.location)
    order_lines = {line.line_id: line for line in load_lines(work, tenant, key)}
    rows: list[tuple[Any, ...]] = []
    for seq, line in enumerate(request.lines):
        known = order_lines.get(line.line_id)
        if known is None or known.sku != line.sku:
            raise InvalidMessageError(
                f"fulfilment request {request.request_id}: order {key} has no line "
                f"{line.line_id!r} of SKU {line.sku!r}"
            )
        tracking = work.sku(tenant, line.sku).tracking
        if tracking == "lot" and line.lot is None:
            raise InvalidMessageError(
                f"fulfilment request {request.request_id}: {line.sku} is lot-controlled, so line "
                f"{line.line_id} must name the lot to ship; release refuses it without one"
            )
        if line.lot is not None:
            lots.commit(
                work,
                tenant,
                line.sku,
                request.location,
                line.lot.number,
                line.quantity,
                request.request_id,
            )
        rows.append(
            (
                tenant,
                request.request_id,
                seq,
                line.line_id,
                line.sku,
                line.quantity,
                line.lot.number if line.lot else None,
            )
        )
    # written now, not with the batch: a shipment later in the same batch reconciles against them
    work.db.executemany(
        "INSERT INTO fulfilment_request_lines (tenant, request_id, seq, line_id, sku, quantity, "
        "lot) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    work.db.execute(
        "INSERT INTO fulfilment_requests (tenant, request_id, order_key, location, carrier, "
        "service_level, requested_at, ship_by, commit_by, status, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (
            tenant,
            request.request_id,
            key,
            request.location,
            request.carrier,
            request.service_level,
            ts(request.requested_at),
            ts(request.ship_by) if request.ship_by else None,
            ts(request.commit_by) if request.commit_by else None,
            work.message_id,
        ),
    )
    if work.orders_with_requests is not None:
        work.orders_with_requests.add((tenant, key))
    work.db.execute(
        "UPDATE orders SET released = 1 WHERE tenant = ? AND order_key = ?", (tenant, key)
    )
    order["released"] = 1
    work.emit(
        tenant,
        "order.released",
        key,
        {"order": key, "location": request.location, "request_id": request.request_id},
    )
    reconcile(work, tenant, key, envelope.event_type)
    return "applied"


_REQUEST_LINES = (
    "SELECT r.request_id, r.location, l.seq, l.line_id, l.sku, l.quantity, l.lot, l.shipped "
    "FROM fulfilment_requests r JOIN fulfilment_request_lines l "
    "ON l.tenant = r.tenant AND l.request_id = r.request_id "
)


def _requests(rows: list[tuple[Any, ...]]) -> list[_Request]:
    found: dict[str, _Request] = {}
    for request_id, location, seq, line_id, sku, quantity, lot, shipped in rows:
        request = found.setdefault(str(request_id), _Request(str(request_id), str(location), []))
        request.lines.append(
            _RequestLine(int(seq), str(line_id), str(sku), int(quantity), lot, int(shipped))
        )
    return list(found.values())


def _load_request(work: Work, tenant: str, request_id: str) -> _Request | None:
    rows = work.db.query(
        _REQUEST_LINES
        + "WHERE r.tenant = ? AND r.request_id = ? ORDER BY l.seq"
        + work.db.for_update,
        (tenant, request_id),
    )
    found = _requests(rows)
    return found[0] if found else None


def _request_of(work: Work, tenant: str, key: str, shipment: Shipment) -> _Request | None:
    """The request a shipment serves: the one it names, else the order's one open request at
    the shipment's node, else the order's one open request anywhere (None when the order was not
    released through the hub). One statement reads the order's open requests with their lines,
    none when the batch's prefetch knows the order has no open request."""
    with_requests = work.orders_with_requests
    if (
        with_requests is not None
        and shipment.request_id is None
        and (tenant, key) not in with_requests
    ):
        return None
    open_requests = _requests(
        work.db.query(
            _REQUEST_LINES + "WHERE r.tenant = ? AND r.order_key = ? AND r.status IN (?, ?) "
            "ORDER BY r.requested_at, r.request_id, l.seq" + work.db.for_update,
            (tenant, key, *_OPEN),
        ),
    )
    if shipment.request_id is not None:
        named = [r for r in open_requests if r.request_id == shipment.request_id]
        if named:
            return named[0]
        closed = _load_request(work, tenant, shipment.request_id)
        if closed is not None:
            return closed
    here = [r for r in open_requests if r.location == shipment.location]
    if len(here) == 1:
        return here[0]
    if not here and len(open_requests) == 1:  # shipped from a node it was not released to
        return open_requests[0]
    return None


# -- shipment confirmation -----------------------------------------------------------------------


def apply_shipment(work: Work, envelope: Envelope) -> str:
    """Record what physically shipped, reconciled against the released request (module doc)."""
    shipment = envelope.payload
    assert isinstance(shipment, Shipment)
    tenant, key = shipment.tenant, shipment.order.key
    order = require_order(work, tenant, key)
    work.location(tenant, shipment.location)
    if _known_shipment(work, tenant, shipment):
        return "applied"
    request = _request_of(work, tenant, key, shipment)
    findings: list[_Finding] = []
    if request is not None and request.location != shipment.location:
        findings.append(
            _Finding(
                "wrong_location",
                f"shipped from {shipment.location}, but request {request.request_id} released "
                f"the order to {request.location}",
            )
        )
    lines = {line.line_id: line for line in load_lines(work, tenant, key)}
    by_gtin = _skus_by_gtin(work, tenant, shipment)
    serials_seen: set[tuple[str, str]] = set()
    for seq, shipped in enumerate(shipment.lines):
        sku = _physical_sku(shipped, by_gtin, findings)
        work.sku(tenant, sku)  # an unknown SKU is a master-data problem: refuse and dead-letter
        line = _order_line(lines, shipped.line_id, sku)
        taken = 0
        if line is None:
            findings.append(_extra_or_wrong(lines, shipped, sku, key))
        else:
            taken = min(shipped.quantity, line.quantity - line.shipped)
            if taken:
                _ship_line(work, tenant, key, shipment, line, taken)
            if shipped.quantity > taken:
                findings.append(
                    _Finding(
                        "extra_item",
                        f"{shipped.quantity} x {sku} shipped for line {line.line_id}, which had "
                        f"{taken} left to ship",
                        line.line_id,
                        sku,
                        taken,
                        shipped.quantity,
                    )
                )
        if shipped.quantity > taken:
            _ship_unordered(work, tenant, key, shipment, sku, shipped.quantity - taken)
        findings.extend(_check_controls(work, tenant, key, shipment, shipped, sku, serials_seen))
        if request is not None and line is not None and taken:
            findings.extend(_progress(request, line.line_id, shipped, taken))
        work.db.execute(
            "INSERT INTO shipment_lines (tenant, shipment_id, seq, line_id, sku, quantity, lots, "
            "serials) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant,
                shipment.shipment_id,
                seq,
                line.line_id if line is not None and taken else None,
                sku,
                shipped.quantity,
                json.dumps([lot.number for lot in shipped.lots]),
                json.dumps(shipped.serials),
            ),
        )
    findings.extend(_tracking_findings(shipment))
    if request is not None:
        findings.extend(_close_or_keep_open(work, tenant, key, order, shipment, request))
    _store_shipment(work, tenant, key, shipment, request)
    for finding in findings:
        _open_exception(work, tenant, key, shipment, request, finding)
    work.db.execute(
        "UPDATE orders SET shipped_at = COALESCE(shipped_at, ?) WHERE tenant = ? AND order_key = ?",
        (ts(shipment.shipped_at), tenant, key),
    )
    kinds = sorted({finding.kind for finding in findings})
    history(
        work,
        tenant,
        key,
        envelope.event_type,
        order["state"],
        f"shipment {shipment.shipment_id} from {shipment.location}"
        + (f"; exceptions: {', '.join(kinds)}" if kinds else ""),
    )
    reconcile(work, tenant, key, envelope.event_type)
    return "applied"


def _known_shipment(work: Work, tenant: str, shipment: Shipment) -> bool:
    """A shipment already recorded (a new delivery of an update to it, such as tracking added
    later): the same lines update its tracking and settle a missing-tracking exception; other
    lines are refused, since they would ship the units twice."""
    known = work.shipments_known
    if known is not None and (tenant, shipment.shipment_id) not in known:
        return False  # prefetched: not recorded when the batch began, nor by it since
    rows = work.db.query(
        "SELECT tracking FROM shipments WHERE tenant = ? AND shipment_id = ?"  # noqa: S608 - fixed SQL
        + work.db.for_update,
        (tenant, shipment.shipment_id),
    )
    if not rows:
        return False
    stored = [
        (r[0], int(r[1]))
        for r in work.db.query(
            "SELECT sku, quantity FROM shipment_lines WHERE tenant = ? AND shipment_id = ? "
            "ORDER BY seq",
            (tenant, shipment.shipment_id),
        )
    ]
    by_gtin = _skus_by_gtin(work, tenant, shipment)
    physical = [(_physical_sku(line, by_gtin, []), line.quantity) for line in shipment.lines]
    if stored != physical:  # what was stored is what physically left (scanned codes win)
        raise InvalidMessageError(
            f"shipment {shipment.shipment_id} was already recorded with other lines; a change "
            "to what shipped needs a new shipment (or a return), not an update"
        )
    numbers = shipment.tracking_numbers
    if numbers and numbers != json.loads(str(rows[0][0])):
        work.db.execute(
            "UPDATE shipments SET tracking = ? WHERE tenant = ? AND shipment_id = ?",
            (json.dumps(numbers), tenant, shipment.shipment_id),
        )
        if not _tracking_findings(shipment):
            work.db.execute(
                "UPDATE fulfilment_exceptions SET status = 'resolved', resolved_at = ?, "
                "resolution = ?, actor = 'hub' WHERE tenant = ? AND shipment_id = ? "
                "AND kind IN ('missing_tracking', 'bad_tracking') AND status = 'open'",
                (
                    now_text(),
                    f"tracking {', '.join(numbers)} received later",
                    shipment.tenant,
                    shipment.shipment_id,
                ),
            )
    return True


def _skus_by_gtin(work: Work, tenant: str, shipment: Shipment) -> dict[str, str]:
    gtins = sorted({gtin for line in shipment.lines for gtin in line.scanned_gtins})
    if not gtins:
        return {}
    return {
        str(gtin): str(sku)
        for sku, gtin in work.select_in(
            "SELECT sku, gtin FROM skus WHERE tenant = ? AND gtin IN ({marks})", tenant, gtins
        )
    }


def _physical_sku(shipped: ShipmentLine, by_gtin: dict[str, str], findings: list[_Finding]) -> str:
    """The SKU that physically left: the scanned barcodes win over the line's SKU when they all
    name one other known SKU; any barcode that is not the line's SKU is a ``wrong_item``."""
    if not shipped.scanned_gtins:
        return shipped.sku
    scanned = {gtin: by_gtin.get(gtin) for gtin in shipped.scanned_gtins}
    wrong = sorted(gtin for gtin, sku in scanned.items() if sku != shipped.sku)
    if not wrong:
        return shipped.sku
    named = {scanned[gtin] for gtin in wrong}
    others = ", ".join(f"{gtin} ({scanned[gtin] or 'no known SKU'})" for gtin in wrong)
    findings.append(
        _Finding(
            "wrong_item",
            f"line {shipped.line_id or '-'} says {shipped.sku} but the scanned barcodes were "
            f"{others}",
            shipped.line_id,
            shipped.sku,
        )
    )
    if len(named) == 1 and None not in named and len(wrong) == len(scanned):
        physical = next(iter(named))
        assert physical is not None
        return physical
    return shipped.sku


def _order_line(lines: dict[str, Line], line_id: str | None, sku: str) -> Line | None:
    """The order line a shipped line ships: the named one if it is of that SKU, else the first
    open line of the SKU (None: the order did not ask for this item here)."""
    if line_id is not None:
        line = lines.get(line_id)
        return line if line is not None and line.sku == sku else None
    for line in lines.values():
        if line.sku == sku and line.shipped < line.quantity:
            return line
    return None


def _extra_or_wrong(lines: dict[str, Line], shipped: ShipmentLine, sku: str, key: str) -> _Finding:
    named = lines.get(shipped.line_id) if shipped.line_id is not None else None
    if named is not None:
        return _Finding(
            "wrong_item",
            f"line {named.line_id} of order {key} is {named.sku}, but {shipped.quantity} x {sku} "
            "shipped for it",
            named.line_id,
            sku,
            0,
            shipped.quantity,
        )
    return _Finding(
        "extra_item",
        f"{shipped.quantity} x {sku} shipped, which order {key} has no open line for",
        shipped.line_id,
        sku,
        0,
        shipped.quantity,
    )


def _ship_line(
    work: Work, tenant: str, key: str, shipment: Shipment, line: Line, quantity: int
) -> None:
    """Consume the line's reservation: the shipped units leave on-hand and allocated together."""
    assert line.sku is not None
    reference = f"{key}/{line.line_id}"
    if line.reserved > 0 and line.location != shipment.location:
        assert line.location is not None
        work.move(
            tenant,
            MovementKind.RESERVATION_RELEASE,
            line.sku,
            line.location,
            line.reserved,
            reference=reference,
            reason=f"shipped from {shipment.location}",
        )
        line.reserved = 0
    if line.reserved < quantity:
        work.move(
            tenant,
            MovementKind.RESERVATION,
            line.sku,
            shipment.location,
            quantity - line.reserved,
            reference=reference,
            reason="shipped beyond its reservation",
            check_oversell=False,
        )
        line.reserved = quantity
    work.move(
        tenant,
        MovementKind.SHIPMENT,
        line.sku,
        shipment.location,
        quantity,
        reference=reference,
        reason=f"shipment {shipment.shipment_id}",
    )
    line.reserved -= quantity
    line.shipped += quantity
    line.location = shipment.location
    save_line(work, tenant, key, line)


def _ship_unordered(
    work: Work, tenant: str, key: str, shipment: Shipment, sku: str, quantity: int
) -> None:
    """Units that left without an order line to ship them: they leave on-hand all the same. When
    the ledger had fewer on hand than left, the gap is first booked as found stock (the records
    were wrong, the shipment is what happened), so no bucket goes negative."""
    position = work.lock_positions(tenant, sku).get(shipment.location)
    free = position.on_hand - position.allocated if position else 0
    reference = f"{key}/unordered"
    if free < quantity:
        work.move(
            tenant,
            MovementKind.ADJUSTMENT,
            sku,
            shipment.location,
            quantity - max(0, free),
            reason=f"shipment {shipment.shipment_id} took more {sku} than the ledger had free",
            reference=shipment.shipment_id,
            check_oversell=False,
        )
    work.move(
        tenant,
        MovementKind.RESERVATION,
        sku,
        shipment.location,
        quantity,
        reference=reference,
        reason=f"shipped without an order line (shipment {shipment.shipment_id})",
        check_oversell=False,
    )
    work.move(
        tenant,
        MovementKind.SHIPMENT,
        sku,
        shipment.location,
        quantity,
        reference=reference,
        reason=f"shipment {shipment.shipment_id}, not ordered",
    )


def _check_controls(
    work: Work,
    tenant: str,
    key: str,
    shipment: Shipment,
    shipped: ShipmentLine,
    sku: str,
    seen: set[tuple[str, str]],
) -> list[_Finding]:
    """Lot and serial capture of one shipped line; lots shipped leave their lot stock, serials
    are recorded once (a serial shipped before is a duplicate, whoever shipped it)."""
    findings: list[_Finding] = []
    tracking = work.sku(tenant, sku).tracking
    if shipped.lots:
        lots.consume(
            work,
            tenant,
            sku,
            shipment.location,
            list(shipped.lots),
            shipped.quantity,
            order_key=key,
            shipment_id=shipment.shipment_id,
        )
    elif tracking == "lot":
        findings.append(
            _Finding(
                "lot_missing",
                f"{sku} is lot-controlled; shipment line {shipped.line_id or sku} names no lot",
                shipped.line_id,
                sku,
            )
        )
    if tracking == "serial" and len(shipped.serials) != shipped.quantity:
        findings.append(
            _Finding(
                "serial_missing",
                f"{sku} is serial-controlled: {shipped.quantity} units shipped with "
                f"{len(shipped.serials)} serial numbers",
                shipped.line_id,
                sku,
                shipped.quantity,
                len(shipped.serials),
            )
        )
    if not shipped.serials:
        return findings
    earlier: dict[str, tuple[str, str]] = {}
    returned: set[str] = set()
    scrapped: dict[str, tuple[str, str, str, str | None, str]] = {}
    for serial, shipment_id, order_key, returned_at, rma, disposition in _shipped_serials(
        work, tenant, sku, shipped.serials
    ):
        if returned_at is None:
            earlier[serial] = (shipment_id, order_key)
        elif disposition in UNSELLABLE_DISPOSITIONS:  # back, but not to be sold again
            scrapped[serial] = (shipment_id, order_key, returned_at, rma, disposition)
        else:  # back on the shelf through a return: this is the unit's next shipment
            returned.add(serial)
    fresh = []
    for serial in shipped.serials:
        if serial in scrapped and (sku, serial) not in seen:
            # the row stays with the return that scrapped the unit, as a duplicate's stays with
            # its earlier shipment: shipping the serial once more is this exception again
            before, order_before, back_at, rma, disposition = scrapped[serial]
            findings.append(
                _Finding(
                    "serial_scrapped",
                    f"serial {serial} of {sku} came back from order {order_before} (shipment "
                    f"{before}) on return {rma} at {back_at}, and inspection disposed of the "
                    f"unit as {disposition}: it is not stock to sell, yet this shipment names "
                    "it. Check the unit that left: if it is that unit, the damaged or scrapped "
                    "unit shipped; if not, the shipment recorded the wrong serial",
                    shipped.line_id,
                    sku,
                )
            )
        elif serial in returned and (sku, serial) not in seen:
            work.db.execute(
                "UPDATE shipped_serials SET shipment_id = ?, order_key = ?, shipped_at = ?, "
                "returned_at = NULL, rma_id = NULL, disposition = NULL "
                "WHERE tenant = ? AND sku = ? AND serial = ?",
                (shipment.shipment_id, key, ts(shipment.shipped_at), tenant, sku, serial),
            )
        elif serial in earlier or (sku, serial) in seen:
            where = earlier.get(serial, (shipment.shipment_id, key))
            findings.append(
                _Finding(
                    "duplicate_serial",
                    f"serial {serial} of {sku} already shipped in shipment {where[0]} "
                    f"(order {where[1]})",
                    shipped.line_id,
                    sku,
                )
            )
        else:
            fresh.append(serial)
        seen.add((sku, serial))
    if fresh:  # written now, not with the batch: the next shipment of the batch must see them
        work.db.executemany(
            "INSERT INTO shipped_serials (tenant, sku, serial, shipment_id, order_key, shipped_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, sku, serial) DO NOTHING",
            [
                (tenant, sku, serial, shipment.shipment_id, key, ts(shipment.shipped_at))
                for serial in fresh
            ],
        )
    return findings


def _shipped_serials(
    work: Work, tenant: str, sku: str, serials: list[str]
) -> list[tuple[str, str, str, str | None, str | None, str | None]]:
    """The ``shipped_serials`` rows of these serials of ``sku``: serial, shipment, order, the
    return that brought the unit back (returned_at and rma_id, None while it is out) and its
    inspection's disposition (None while it is out or not inspected yet)."""
    rows: list[tuple[str, str, str, str | None, str | None, str | None]] = []
    wanted = sorted(set(serials))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for serial, shipment_id, order_key, returned_at, rma_id, disposition in work.db.query(
            "SELECT serial, shipment_id, order_key, returned_at, rma_id, disposition "  # noqa: S608 - placeholders only
            "FROM shipped_serials "
            f"WHERE tenant = ? AND sku = ? AND serial IN ({', '.join('?' * len(chunk))})",
            (tenant, sku, *chunk),
        ):
            rows.append(
                (
                    str(serial),
                    str(shipment_id),
                    str(order_key),
                    None if returned_at is None else str(returned_at),
                    None if rma_id is None else str(rma_id),
                    None if disposition is None else str(disposition),
                )
            )
    return rows


def return_serials(
    work: Work,
    tenant: str,
    key: str,
    rma_id: str,
    line_id: str,
    sku: str,
    quantity: int,
    serials: list[str],
    returned_at: str,
    disposition: str | None,
) -> list[str]:
    """What a received (or inspected) return line's serials do: the serials are received
    (:func:`receive_serials`), the inspection's ``disposition`` (None before inspection) is recorded
    with every serial of the line, and a serial-controlled line that brought back fewer serials
    than units opens ``return_serial_missing`` once per RMA line (settled by the hub when a later
    status of the RMA brings the rest). Returns the exception kinds opened."""
    opened = receive_serials(
        work, tenant, key, rma_id, line_id, sku, serials, returned_at, disposition
    )
    controlled = work.sku(tenant, sku).tracking == "serial"
    if disposition is not None and (serials or controlled):  # a plain return costs no query
        _dispose_serials(work, tenant, rma_id, line_id, sku, disposition)
    if controlled:
        opened.extend(_check_return_serials(work, tenant, key, rma_id, line_id, sku, quantity))
    return opened


def _dispose_serials(
    work: Work, tenant: str, rma_id: str, line_id: str, sku: str, disposition: str
) -> None:
    """Record the inspection's disposition with the serials an earlier status of the RMA line
    brought back: in ``returned_serials``, and in ``shipped_serials`` for the units this return
    still holds (not shipped since). The first disposition stays, like the stock the first
    inspection moved."""
    undecided = work.db.query(
        "SELECT 1 FROM returned_serials WHERE tenant = ? AND rma_id = ? AND line_id = ? "
        "AND disposition IS NULL LIMIT 1",
        (tenant, rma_id, line_id),
    )
    if not undecided:  # none, or all recorded with their disposition already
        return
    work.db.execute(
        "UPDATE returned_serials SET disposition = ? WHERE tenant = ? AND rma_id = ? "
        "AND line_id = ? AND disposition IS NULL",
        (disposition, tenant, rma_id, line_id),
    )
    work.lock_positions(tenant, sku)  # serialises with shipments of the SKU, which lock it too
    work.db.execute(
        "UPDATE shipped_serials SET disposition = ? WHERE tenant = ? AND sku = ? AND rma_id = ? "
        "AND returned_at IS NOT NULL AND disposition IS NULL AND serial IN ("
        "SELECT serial FROM returned_serials WHERE tenant = ? AND rma_id = ? AND line_id = ?)",
        (disposition, tenant, sku, rma_id, tenant, rma_id, line_id),
    )


def _check_return_serials(
    work: Work, tenant: str, key: str, rma_id: str, line_id: str, sku: str, quantity: int
) -> list[str]:
    """A received line of a serial-controlled SKU must bring one serial per unit back. Fewer
    (counting every serial any status of the RMA line gave) opens ``return_serial_missing`` once
    per RMA line; when a later status brings the rest, the open exception is settled by the hub."""
    [(given,)] = work.db.query(
        "SELECT COUNT(*) FROM returned_serials WHERE tenant = ? AND rma_id = ? AND line_id = ?",
        (tenant, rma_id, line_id),
    )
    given = int(given)
    known = work.db.query(
        "SELECT id, status FROM fulfilment_exceptions WHERE tenant = ? AND order_key = ? "
        "AND rma_id = ? AND line_id = ? AND kind = 'return_serial_missing'",  # the order's index
        (tenant, key, rma_id, line_id),
    )
    if given >= quantity:
        if any(status == "open" for _id, status in known):
            work.db.execute(
                "UPDATE fulfilment_exceptions SET status = 'resolved', resolved_at = ?, "
                "resolution = ?, actor = 'hub' WHERE tenant = ? AND order_key = ? AND rma_id = ? "
                "AND line_id = ? AND kind = 'return_serial_missing' AND status = 'open'",
                (
                    now_text(),
                    f"all {quantity} serials received later with return {rma_id}",
                    tenant,
                    key,
                    rma_id,
                    line_id,
                ),
            )
        return []
    if known:
        return []
    missing = quantity - given
    _open_return_exception(
        work,
        tenant,
        key,
        rma_id,
        line_id,
        sku,
        f"{sku} is serial-controlled: return {rma_id} (line {line_id}) of order {key} "
        f"brought back {quantity} units with {given} serial numbers, {missing} missing. "
        "Read the serials off the units at the returns desk; until a status of the return "
        "brings them (which settles this), those units' serials count as still out with "
        "the order",
        kind="return_serial_missing",
        expected=quantity,
        actual=given,
    )
    return ["return_serial_missing"]


def receive_serials(
    work: Work,
    tenant: str,
    key: str,
    rma_id: str,
    line_id: str,
    sku: str,
    serials: list[str],
    returned_at: str,
    disposition: str | None = None,
) -> list[str]:
    """The serials a received return line brought back (with the inspection's ``disposition``
    when the return is received at inspection). Each one the order shipped (and that is
    still out) is marked returned in ``shipped_serials``, so its next shipment is not a duplicate;
    any other opens a ``serial_not_shipped`` exception. Every serial is recorded once per RMA line
    in ``returned_serials``, so a later status of the same RMA (inspected after received) marks
    and opens nothing again. Returns the exception kinds opened."""
    if not serials:
        return []
    done = {
        str(row[0])
        for row in work.db.query(
            "SELECT serial FROM returned_serials WHERE tenant = ? AND rma_id = ? AND line_id = ?",
            (tenant, rma_id, line_id),
        )
    }
    new = [serial for serial in serials if serial not in done]
    if not new:
        return []
    work.lock_positions(tenant, sku)  # serialises with shipments of the SKU, which lock it too
    known = {row[0]: row[1:] for row in _shipped_serials(work, tenant, sku, new)}
    records: list[tuple[Any, ...]] = []
    opened: list[str] = []
    where = f"return {rma_id} (line {line_id}) of order {key}"
    for serial in new:
        row = known.get(serial)
        shipment_id: str | None = None
        problem: str | None = None
        if row is None:
            problem = (
                f"serial {serial} of {sku} came back on {where}, but no shipment recorded that "
                "serial: check the unit's serial against the order's shipments, then correct the "
                "shipment's serials or resolve this with what the unit is"
            )
        elif row[1] != key:
            problem = (
                f"serial {serial} of {sku} came back on {where}, but it shipped to order "
                f"{row[1]} in shipment {row[0]}: check the unit; if order {key} received it, "
                "the shipments recorded the wrong serials, otherwise the customer sent back "
                "another unit than the one shipped"
            )
        elif row[2] is not None:
            problem = (
                f"serial {serial} of {sku} came back on {where}, but return {row[3]} already "
                f"brought it back at {row[2]} and it has not shipped since: check the unit and "
                "which return really holds it"
            )
        else:
            shipment_id = row[0]
            work.db.execute(
                "UPDATE shipped_serials SET returned_at = ?, rma_id = ?, disposition = ? "
                "WHERE tenant = ? AND sku = ? AND serial = ?",
                (returned_at, rma_id, disposition, tenant, sku, serial),
            )
        if problem is not None:
            _open_return_exception(work, tenant, key, rma_id, line_id, sku, problem)
            opened.append("serial_not_shipped")
        records.append(
            (
                tenant,
                rma_id,
                line_id,
                serial,
                sku,
                key,
                shipment_id,
                returned_at,
                disposition,
                work.message_id,
            )
        )
    work.db.executemany(
        "INSERT INTO returned_serials (tenant, rma_id, line_id, serial, sku, order_key, "
        "shipment_id, returned_at, disposition, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        records,
    )
    return opened


def _open_return_exception(
    work: Work,
    tenant: str,
    key: str,
    rma_id: str,
    line_id: str,
    sku: str,
    detail: str,
    *,
    kind: str = "serial_not_shipped",
    expected: int | None = None,
    actual: int | None = None,
) -> None:
    """A fulfilment exception a return opens (named by its RMA, not a shipment)."""
    work.db.execute(
        "INSERT INTO fulfilment_exceptions (tenant, order_key, rma_id, kind, line_id, sku, "
        "expected, actual, detail, opened_at, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (tenant, key, rma_id, kind, line_id, sku, expected, actual, detail, now_text(),
         work.message_id),
    )  # fmt: skip


def _progress(
    request: _Request, line_id: str, shipped: ShipmentLine, quantity: int
) -> list[_Finding]:
    """Count shipped units against the request's lines for ``line_id`` (in order), and compare
    the lots shipped with the lots released."""
    findings: list[_Finding] = []
    left = quantity
    released_lots: list[str] = []
    for line in request.lines:
        if line.line_id != line_id:
            continue
        if line.lot is not None:
            released_lots.append(line.lot)
        take = min(left, line.left)
        if take:
            line.shipped += take
            request.changed[line.seq] = request.changed.get(line.seq, 0) + take
            left -= take
    shipped_lots = sorted({lot.number for lot in shipped.lots})
    if released_lots and shipped_lots and not set(shipped_lots) <= set(released_lots):
        findings.append(
            _Finding(
                "lot_mismatch",
                f"line {line_id} was released to pick lot {', '.join(sorted(set(released_lots)))} "
                f"but shipped lot {', '.join(shipped_lots)}",
                line_id,
                shipped.sku,
            )
        )
    return findings


def _close_or_keep_open(
    work: Work,
    tenant: str,
    key: str,
    order: dict[str, Any],
    shipment: Shipment,
    request: _Request,
) -> list[_Finding]:
    """Write the request's progress and its new status; a request the node closes with units
    left is a short ship, and the remainder goes back to the release queue."""
    for line in request.lines:
        if line.seq in request.changed:
            work.db.execute(
                "UPDATE fulfilment_request_lines SET shipped = ? "
                "WHERE tenant = ? AND request_id = ? AND seq = ?",
                (line.shipped, tenant, request.request_id, line.seq),
            )
    for line in request.lines:  # the lot units this shipment took leave their commitment
        if line.lot is not None and line.seq in request.changed:
            lots.uncommit(
                work, tenant, line.sku, request.location, line.lot, request.changed[line.seq]
            )
    short = [line for line in request.lines if line.left > 0]
    findings: list[_Finding] = []
    if not short:
        status = "shipped"
    elif shipment.closes_request:
        status = "short_closed"
        for line in short:
            findings.append(
                _Finding(
                    "short_ship",
                    f"request {request.request_id} asked for {line.quantity} x {line.sku} "
                    f"(line {line.line_id}); {line.shipped} shipped and the node closed it",
                    line.line_id,
                    line.sku,
                    line.quantity,
                    line.shipped,
                )
            )
            if line.lot is not None:
                lots.uncommit(work, tenant, line.sku, request.location, line.lot, line.left)
        work.db.execute(
            "UPDATE orders SET released = 0 WHERE tenant = ? AND order_key = ?", (tenant, key)
        )
        order["released"] = 0
    else:
        status = "partially_shipped"
    work.db.execute(
        "UPDATE fulfilment_requests SET status = ?, closed_at = ? "
        "WHERE tenant = ? AND request_id = ?",
        (
            status,
            ts(shipment.shipped_at) if status != "partially_shipped" else None,
            tenant,
            request.request_id,
        ),
    )
    return findings


def _tracking_findings(shipment: Shipment) -> list[_Finding]:
    numbers = shipment.tracking_numbers
    if not numbers:
        return [
            _Finding(
                "missing_tracking",
                f"shipment {shipment.shipment_id} ({shipment.carrier or 'no carrier'}) has no "
                "tracking number",
            )
        ]
    return [
        _Finding("bad_tracking", problem)
        for number in numbers
        if (problem := tracking_problem(number, shipment.carrier)) is not None
    ]


def _store_shipment(
    work: Work, tenant: str, key: str, shipment: Shipment, request: _Request | None
) -> None:
    if work.shipments_known is not None:
        work.shipments_known.add((tenant, shipment.shipment_id))
    work.db.execute(
        "INSERT INTO shipments (tenant, shipment_id, order_key, location, request_id, carrier, "
        "service, tracking, shipped_at, closes_request, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            shipment.shipment_id,
            key,
            shipment.location,
            request.request_id if request is not None else shipment.request_id,
            shipment.carrier,
            shipment.service,
            json.dumps(shipment.tracking_numbers),
            ts(shipment.shipped_at),
            int(shipment.closes_request),
            work.message_id,
        ),
    )


def _open_exception(
    work: Work,
    tenant: str,
    key: str,
    shipment: Shipment,
    request: _Request | None,
    finding: _Finding,
) -> None:
    work.db.execute(
        "INSERT INTO fulfilment_exceptions (tenant, order_key, request_id, shipment_id, kind, "
        "line_id, sku, expected, actual, detail, opened_at, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            key,
            request.request_id if request is not None else shipment.request_id,
            shipment.shipment_id,
            finding.kind,
            finding.line_id,
            finding.sku,
            finding.expected,
            finding.actual,
            finding.detail,
            now_text(),
            work.message_id,
        ),
    )


def close_requests(work: Work, tenant: str, key: str, reason: str) -> None:
    """The order is cancelled: its open requests are cancelled and their lots freed.

    Every open request was released to its node (``order.released``), so each one cancelled here
    also emits ``order.release_cancelled`` ``{order, request_id, location, requested_at,
    reason}`` in the same transaction: the outbox relay tells the node (as the canonical
    ``fulfillment.cancelled``) to cancel what it has not shipped. A request already shipped or
    closed short is not open and emits nothing; neither does an order that was never released.
    """
    rows = work.db.query(
        "SELECT request_id, requested_at FROM fulfilment_requests WHERE tenant = ? "
        "AND order_key = ? AND status IN (?, ?)",
        (tenant, key, *_OPEN),
    )
    for request_id, requested_at in rows:
        request = _load_request(work, tenant, str(request_id))
        assert request is not None
        for line in request.lines:
            if line.lot is not None:
                lots.uncommit(work, tenant, line.sku, request.location, line.lot, line.left)
        work.db.execute(
            "UPDATE fulfilment_requests SET status = 'cancelled', closed_at = ? "
            "WHERE tenant = ? AND request_id = ?",
            (now_text(), tenant, request.request_id),
        )
        work.emit(
            tenant,
            "order.release_cancelled",
            key,
            {
                "order": key,
                "request_id": request.request_id,
                "location": request.location,
                "requested_at": str(requested_at),
                "reason": reason,
            },
        )
    if rows:
        history(work, tenant, key, "fulfillment.cancelled", "cancelled", reason)


def note_node_reference(
    work: Work, tenant: str, request_id: str, reference: str
) -> Literal["recorded", "unchanged", "replaced"]:
    """Store the node's own id for a released request (what ``request_fulfillment`` returned:
    a ShipBob order id, an EasyPost shipment id) in ``fulfilment_requests.node_reference``.

    The same reference again (a retried or replayed release, answered by the node's idempotent
    lookup) changes nothing: ``unchanged``. A first one is ``recorded``, a different later one
    ``replaced`` (the node made another order, or an operator re-created it there); both are
    written to the order's history with the request id, so the timeline keeps every value the
    request had. A request the tenant does not have raises :class:`UnknownRequestError`: the
    caller names a request that was never released through this ledger, a bug to see, not to
    swallow. The request's status does not matter: a cancelled request's node order is still
    what support looks up."""
    reference = str(reference).strip()
    if not reference:
        raise ValueError("a node reference cannot be empty")
    rows = work.db.query(
        "SELECT order_key, location, node_reference FROM fulfilment_requests "  # noqa: S608 - fixed SQL
        "WHERE tenant = ? AND request_id = ?" + work.db.for_update,
        (tenant, request_id),
    )
    if not rows:
        raise UnknownRequestError(f"no fulfilment request {request_id!r} for tenant {tenant!r}")
    key, location, before = rows[0]
    if before == reference:
        return "unchanged"
    work.db.execute(
        "UPDATE fulfilment_requests SET node_reference = ?, node_reference_at = ? "
        "WHERE tenant = ? AND request_id = ?",
        (reference, now_text(), tenant, request_id),
    )
    detail = (
        f"request {request_id} at {location}: node reference {reference}"
        if before is None
        else f"request {request_id} at {location}: node reference {before} -> {reference}"
    )
    state = work.db.query(
        "SELECT state FROM orders WHERE tenant = ? AND order_key = ?", (tenant, key)
    )
    history(
        work, tenant, str(key), "fulfillment.node_reference",
        str(state[0][0]) if state else "released", detail,
    )  # fmt: skip
    return "recorded" if before is None else "replaced"
