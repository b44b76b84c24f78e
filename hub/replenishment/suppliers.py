"""Supplier performance and inbound delays, from the procurement records as of a moment.

* Lead time of a purchase order: from ``ordered_at`` to its first receipt, in days (the moment
  stock starts arriving is when it can be promised again).
* On time: the first receipt's UTC date is on or before the order's expected date.
* In full: every line's received units (all receipts so far) reach the ordered quantity.
* An inbound delay is an open line (units still to receive) of a purchase order that is late or
  short: a notice expecting it after the line's expected date (``late_notice``), a receipt that
  left it short (``short_receipt``), or nothing received nor announced past its expected date
  (``overdue``). Each delay lists the customer order lines allocated or backordered on that SKU
  at that location: the promises that depend on the inbound stock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.replenishment.history import OpenLine, PurchaseOrderView
from hub.replenishment.stats import mean_and_deviation

__all__ = ["InboundDelay", "LeadTime", "SupplierPerformance", "inbound_delays", "performance"]

_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class LeadTime:
    """A supplier's measured lead time in days over its most recent received orders."""

    mean: float
    deviation: float
    samples: int


@dataclass(frozen=True, slots=True)
class SupplierPerformance:
    supplier: str
    placed: int
    received: int
    on_time: int
    in_full: int
    lead_time: LeadTime | None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.received if self.received else None

    @property
    def in_full_rate(self) -> float | None:
        return self.in_full / self.received if self.received else None


def performance(orders: list[PurchaseOrderView], samples: int) -> dict[str, SupplierPerformance]:
    """Per supplier: orders placed and received, on time, in full, and the lead time measured on
    the ``samples`` most recently placed orders that have a receipt."""
    by_supplier: dict[str, list[PurchaseOrderView]] = {}
    for po in orders:
        by_supplier.setdefault(po.supplier, []).append(po)
    result = {}
    for supplier, placed in sorted(by_supplier.items()):
        received = [po for po in placed if po.first_receipt is not None]
        on_time = sum(
            1
            for po in received
            if po.first_receipt is not None and po.first_receipt.date() <= po.expected_at.date()
        )
        recent = sorted(received, key=lambda po: (po.ordered_at, po.po_number))[-samples:]
        days = [
            (po.first_receipt - po.ordered_at).total_seconds() / _DAY
            for po in recent
            if po.first_receipt is not None
        ]
        lead = LeadTime(*mean_and_deviation(days), len(days)) if days else None
        result[supplier] = SupplierPerformance(
            supplier,
            len(placed),
            len(received),
            on_time,
            sum(1 for po in received if po.in_full),
            lead,
        )
    return result


@dataclass(frozen=True, slots=True)
class InboundDelay:
    kind: str
    supplier: str
    po_number: str
    sku: str
    location: str
    expected_at: datetime
    now_expected_at: datetime | None
    days_late: int | None
    outstanding: int
    at_risk: tuple[OpenLine, ...]


def _delay_kind(
    po: PurchaseOrderView, sku: str, expected: datetime, as_of: datetime
) -> tuple[str, datetime | None, int | None] | None:
    """Which delay, if any, an open line is in: (kind, new expected time, days late)."""
    announced = [when for _, when, skus in po.notices if sku in skus]
    latest = max(announced) if announced else None
    if latest is not None and latest.date() > expected.date():
        return "late_notice", latest, (latest.date() - expected.date()).days
    if po.receipts:
        return "short_receipt", latest, None
    if latest is None and expected.date() < as_of.date():
        return "overdue", None, (as_of.date() - expected.date()).days
    return None


def inbound_delays(
    orders: list[PurchaseOrderView], open_lines: list[OpenLine], as_of: datetime
) -> list[InboundDelay]:
    """Every known inbound delay, with the customer order lines it puts at risk."""
    waiting: dict[tuple[str, str], list[OpenLine]] = {}
    for open_line in open_lines:
        waiting.setdefault((open_line.sku, open_line.location), []).append(open_line)
    delays = []
    for po in orders:
        for sku, line in sorted(po.lines.items()):
            outstanding = line.ordered - line.received
            if outstanding <= 0:
                continue
            found = _delay_kind(po, sku, line.expected_at, as_of)
            if found is None:
                continue
            kind, now_expected, days = found
            delays.append(
                InboundDelay(
                    kind,
                    po.supplier,
                    po.po_number,
                    sku,
                    po.location,
                    line.expected_at,
                    now_expected,
                    days,
                    outstanding,
                    tuple(waiting.get((sku, po.location), ())),
                )
            )
    return delays
