"""The suggestion report as JSON-ready data: one shape for ``--json``, the tests and any future
admin endpoint, so what a person reads and what a program reads cannot drift apart."""

from __future__ import annotations

from typing import Any

from hub.replenishment.history import OpenLine
from hub.replenishment.suggest import Evaluation, Report
from hub.replenishment.suppliers import InboundDelay, LeadTime, SupplierPerformance

__all__ = ["report_json"]

_DIGITS = 4


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS)


def _open_line(line: OpenLine) -> dict[str, Any]:
    return {
        "order": line.order_key,
        "line_id": line.line_id,
        "outstanding": line.outstanding,
        "status": line.status,
        "promised_by": line.promised_by,
    }


def _delay(tenant: str, delay: InboundDelay) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "kind": delay.kind,
        "supplier": delay.supplier,
        "po_number": delay.po_number,
        "sku": delay.sku,
        "location": delay.location,
        "expected_at": delay.expected_at.isoformat(),
        "now_expected_at": delay.now_expected_at.isoformat() if delay.now_expected_at else None,
        "days_late": delay.days_late,
        "outstanding": delay.outstanding,
        "at_risk": [_open_line(line) for line in delay.at_risk],
    }


def _lead(lead: LeadTime | None, **extra: Any) -> dict[str, Any] | None:
    if lead is None:
        return None
    return {
        "mean": _round(lead.mean),
        "deviation": _round(lead.deviation),
        "samples": lead.samples,
        **extra,
    }


def _supplier(tenant: str, perf: SupplierPerformance) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "supplier": perf.supplier,
        "placed": perf.placed,
        "received": perf.received,
        "on_time": perf.on_time,
        "in_full": perf.in_full,
        "on_time_rate": _round(perf.on_time_rate),
        "in_full_rate": _round(perf.in_full_rate),
        "lead_time_days": _lead(perf.lead_time),
    }


def _item(item: Evaluation) -> dict[str, Any]:
    demand = item.demand
    at_risk: dict[tuple[str, str], OpenLine] = {}
    for delay in item.delays:
        for line in delay.at_risk:
            at_risk[(line.order_key, line.line_id)] = line
    return {
        "tenant": item.tenant,
        "sku": item.sku,
        "location": item.location,
        "status": item.status,
        "reason": item.reason,
        "on_hand": item.on_hand,
        "allocated": item.allocated,
        "in_transit": item.in_transit,
        "on_order": item.on_order,
        "inventory_position": item.position,
        "demand": None
        if demand is None
        else {
            "days": demand.days,
            "mean": _round(demand.mean),
            "rate": _round(demand.rate),
            "deviation": _round(demand.deviation),
            "seasonal_index": [_round(s) for s in demand.seasonal],
        },
        "supplier": item.supplier,
        "lead_time_days": _lead(item.lead_time, source=item.lead_time_source),
        "safety_stock": _round(item.safety_stock),
        "reorder_point": _round(item.reorder_point),
        "order_up_to": _round(item.order_up_to),
        "quantity": item.quantity,
        "days_of_cover": _round(item.days_of_cover),
        "inbound_delays": [f"{d.kind} {d.po_number}" for d in item.delays],
        "promises_at_risk": [_open_line(line) for _, line in sorted(at_risk.items())],
    }


def report_json(report: Report) -> dict[str, Any]:
    """The whole report: suggestions (at or below the reorder point), the SKUs above it, those
    with no suggestion and why, supplier performance and inbound delays."""
    items = [_item(item) for item in report.evaluations]
    return {
        "as_of": report.as_of.isoformat(),
        "policy": {**report.policy.model_dump(), "z": _round(report.policy.z)},
        "suggestions": [i for i in items if i["status"] == "reorder"],
        "above_reorder_point": [i for i in items if i["status"] == "ok"],
        "no_suggestion": [
            {k: i[k] for k in ("tenant", "sku", "location", "reason", "on_hand", "allocated")}
            for i in items
            if i["status"] == "no_suggestion"
        ],
        "suppliers": [
            _supplier(tenant, perf)
            for tenant, suppliers in sorted(report.suppliers.items())
            for perf in suppliers.values()
        ],
        "inbound_delays": [
            _delay(tenant, delay)
            for tenant, delays in sorted(report.delays.items())
            for delay in delays
        ],
    }
