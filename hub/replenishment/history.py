"""What replenishment reads from the ledger: daily demand per SKU and location, stock positions,
procurement records as of a moment, and the open customer order lines a delay can hurt.

Demand is read from the movements journal, not from orders: the journal is append-only and dated
by the event (``occurred_at``), and every unit an order takes passes through a reservation (a
shipment without one reserves first). A day's demand is its reservations less its releases, so a
cancelled or re-sourced order gives its units back rather than counting twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hub.ledger.store import Ledger
from hub.ledger.work import parse_ts, ts

__all__ = [
    "OpenLine",
    "PurchaseOrderView",
    "daily_demand",
    "demand_start",
    "open_order_lines",
    "purchase_orders",
    "stock_locations",
    "tenants",
]


def _read(ledger: Ledger, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A read through the ledger's own connection and lock (the one the ledger's queries use)."""
    return ledger._read(sql, params)  # the ledger's read path; it has no public one yet


def _midnight(day: date) -> str:
    return ts(datetime.combine(day, time(), tzinfo=UTC))


def tenants(ledger: Ledger) -> list[str]:
    """Tenants with stock or purchase orders (the ones replenishment has anything to say about)."""
    rows = _read(
        ledger, "SELECT tenant FROM positions UNION SELECT tenant FROM purchase_orders ORDER BY 1"
    )
    return [str(r[0]) for r in rows]


def stock_locations(ledger: Ledger, tenant: str) -> set[str]:
    """Locations that hold stock for sale (a supplier's location is not replenished by us)."""
    rows = _read(
        ledger, "SELECT location FROM locations WHERE tenant = ? AND kind <> 'supplier'", (tenant,)
    )
    return {str(r[0]) for r in rows}


def daily_demand(
    ledger: Ledger, tenant: str, first: date, end: date
) -> dict[tuple[str, str], dict[date, int]]:
    """Net reserved units per (SKU, location) per day, for days ``first`` to ``end`` (excluded)."""
    rows = _read(
        ledger,
        "SELECT sku, location, substr(occurred_at, 1, 10), SUM(d_allocated) FROM movements "
        "WHERE tenant = ? AND kind IN ('reservation', 'reservation_release') "
        "AND occurred_at >= ? AND occurred_at < ? GROUP BY sku, location, substr(occurred_at, 1, 10)",
        (tenant, _midnight(first), _midnight(end)),
    )
    series: dict[tuple[str, str], dict[date, int]] = {}
    for sku, location, day, units in rows:
        series.setdefault((str(sku), str(location)), {})[date.fromisoformat(day)] = int(units)
    return series


def demand_start(ledger: Ledger, tenant: str, end: date) -> dict[tuple[str, str], date]:
    """The first day each (SKU, location) was ever reserved, before ``end``: a SKU listed
    mid-window has no history before that day, rather than days of zero demand."""
    rows = _read(
        ledger,
        "SELECT sku, location, MIN(occurred_at) FROM movements WHERE tenant = ? "
        "AND kind = 'reservation' AND occurred_at < ? GROUP BY sku, location",
        (tenant, _midnight(end)),
    )
    return {(str(s), str(loc)): parse_ts(first).date() for s, loc, first in rows}


@dataclass(slots=True)
class PurchaseOrderLineView:
    sku: str
    ordered: int
    expected_at: datetime
    received: int = 0


@dataclass(slots=True)
class PurchaseOrderView:
    """A purchase order with what has been announced and received against it, as of a moment."""

    po_number: str
    supplier: str
    location: str
    ordered_at: datetime
    expected_at: datetime
    lines: dict[str, PurchaseOrderLineView] = field(default_factory=dict)
    receipts: list[datetime] = field(default_factory=list)
    #: (asn id, expected_at, SKUs on the notice)
    notices: list[tuple[str, datetime, frozenset[str]]] = field(default_factory=list)

    @property
    def first_receipt(self) -> datetime | None:
        return min(self.receipts) if self.receipts else None

    @property
    def in_full(self) -> bool:
        return all(line.received >= line.ordered for line in self.lines.values())


def purchase_orders(ledger: Ledger, tenant: str, as_of: datetime) -> list[PurchaseOrderView]:
    """Every purchase order placed by ``as_of``, with its notices and receipts up to then."""
    stamp = ts(as_of)
    orders: dict[str, PurchaseOrderView] = {}
    for po, supplier, location, ordered, expected in _read(
        ledger,
        "SELECT po_number, supplier, location, ordered_at, expected_at FROM purchase_orders "
        "WHERE tenant = ? AND ordered_at <= ? ORDER BY ordered_at, po_number",
        (tenant, stamp),
    ):
        orders[po] = PurchaseOrderView(
            po, supplier, location, parse_ts(ordered), parse_ts(expected)
        )
    for po, sku, quantity, expected in _read(
        ledger,
        "SELECT po_number, sku, quantity, expected_at FROM purchase_order_lines WHERE tenant = ?",
        (tenant,),
    ):
        if po in orders:
            when = parse_ts(expected) if expected else orders[po].expected_at
            orders[po].lines[sku] = PurchaseOrderLineView(sku, int(quantity), when)
    for po, received in _read(
        ledger,
        "SELECT po_number, received_at FROM procurement_receipts "
        "WHERE tenant = ? AND po_number IS NOT NULL AND received_at <= ?",
        (tenant, stamp),
    ):
        if po in orders:
            orders[po].receipts.append(parse_ts(received))
    for po, sku, quantity in _read(
        ledger,
        "SELECT r.po_number, l.sku, l.quantity FROM procurement_receipts r "
        "JOIN procurement_receipt_lines l ON l.tenant = r.tenant AND l.receipt_id = r.receipt_id "
        "WHERE r.tenant = ? AND r.po_number IS NOT NULL AND r.received_at <= ?",
        (tenant, stamp),
    ):
        line = orders[po].lines.get(sku) if po in orders else None
        if line is not None:
            line.received += int(quantity)
    notices: dict[tuple[str, str], tuple[datetime, set[str]]] = {}
    for po, asn, expected, sku in _read(
        ledger,
        "SELECT n.po_number, n.asn_id, n.expected_at, l.sku FROM ship_notices n "
        "JOIN ship_notice_lines l ON l.tenant = n.tenant AND l.asn_id = n.asn_id "
        "WHERE n.tenant = ? AND n.shipped_at <= ?",
        (tenant, stamp),
    ):
        if po in orders:
            notices.setdefault((po, asn), (parse_ts(expected), set()))[1].add(sku)
    for (po, asn), (expected, skus) in sorted(notices.items()):
        orders[po].notices.append((asn, expected, frozenset(skus)))
    return list(orders.values())


@dataclass(frozen=True, slots=True)
class OpenLine:
    """A customer order line still waiting to ship from a location."""

    order_key: str
    line_id: str
    sku: str
    location: str
    outstanding: int
    status: str
    promised_by: str | None


def open_order_lines(ledger: Ledger, tenant: str) -> list[OpenLine]:
    """Allocated or backordered lines with units left to ship: the promises stock must keep."""
    rows = _read(
        ledger,
        "SELECT l.order_key, l.line_id, l.sku, l.location, l.quantity - l.shipped, l.status, "
        "o.snapshot FROM order_lines l JOIN orders o ON o.tenant = l.tenant "
        "AND o.order_key = l.order_key WHERE l.tenant = ? "
        "AND l.status IN ('allocated', 'backordered') AND l.quantity > l.shipped "
        "AND l.location IS NOT NULL ORDER BY l.order_key, l.line_id",
        (tenant,),
    )
    return [
        OpenLine(
            str(key),
            str(line),
            str(sku),
            str(location),
            int(outstanding),
            str(status),
            json.loads(snapshot).get("promised_by"),
        )
        for key, line, sku, location, outstanding, status, snapshot in rows
    ]


def window(as_of: datetime, days: int) -> tuple[date, date]:
    """The whole days of history before ``as_of``'s day: ``(first, end)``, end excluded (the
    current day is incomplete and would read as a drop in demand)."""
    end = as_of.astimezone(UTC).date()
    return end - timedelta(days=days), end
