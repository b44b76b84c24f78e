"""Replenishment suggestions: for every SKU at every stock location, the demand rate, lead time,
safety stock and reorder point, and an order quantity where the inventory position is at or below
the reorder point. A SKU the history cannot speak for gets no figure and says why, rather than a
guess that would look as trustworthy as a measured one.

Inventory position = on hand - allocated + in transit + on order (units of open purchase orders
not yet received). It is compared with the reorder point, not the on-hand figure, so stock
already ordered is not ordered twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hub.ledger.store import Ledger
from hub.replenishment import history
from hub.replenishment.history import PurchaseOrderView
from hub.replenishment.policy import ReplenishmentPolicy
from hub.replenishment.stats import (
    DemandRate,
    days_of_cover,
    demand_rate,
    economic_order_quantity,
    order_quantity,
    reorder_point,
    safety_stock,
)
from hub.replenishment.suppliers import (
    InboundDelay,
    LeadTime,
    SupplierPerformance,
    inbound_delays,
    performance,
)

__all__ = ["Evaluation", "Report", "evaluate"]


@dataclass(slots=True)
class Evaluation:
    """One SKU at one location: its figures, and whether to reorder (``status``)."""

    tenant: str
    sku: str
    location: str
    status: str  # reorder | ok | no_suggestion
    reason: str
    on_hand: int = 0
    allocated: int = 0
    in_transit: int = 0
    on_order: int = 0
    demand: DemandRate | None = None
    supplier: str | None = None
    lead_time: LeadTime | None = None
    lead_time_source: str | None = None  # measured | default
    safety_stock: float | None = None
    reorder_point: float | None = None
    order_up_to: float | None = None
    quantity: int | None = None
    days_of_cover: float | None = None
    delays: list[InboundDelay] = field(default_factory=list)

    @property
    def position(self) -> int:
        return self.on_hand - self.allocated + self.in_transit + self.on_order


@dataclass(slots=True)
class Report:
    as_of: datetime
    policy: ReplenishmentPolicy
    evaluations: list[Evaluation]
    suppliers: dict[str, dict[str, SupplierPerformance]]
    delays: dict[str, list[InboundDelay]]


def _supplier_of(orders: list[PurchaseOrderView], sku: str, location: str) -> str | None:
    """The supplier of the most recent purchase order for the SKU at this location, else at any
    location: whom the next order would go to."""
    latest_here = latest_anywhere = None
    for po in orders:  # ordered by ordered_at
        if sku in po.lines:
            latest_anywhere = po.supplier
            if po.location == location:
                latest_here = po.supplier
    return latest_here or latest_anywhere


def _lead_time(
    supplier: str | None, suppliers: dict[str, SupplierPerformance], policy: ReplenishmentPolicy
) -> tuple[LeadTime | None, str | None, str]:
    """The lead time to plan with, where it comes from, and why there is none."""
    measured = suppliers[supplier].lead_time if supplier in suppliers else None
    if measured is not None:
        return measured, "measured", ""
    if policy.default_lead_time_days is not None:
        return LeadTime(policy.default_lead_time_days, 0.0, 0), "default", ""
    if supplier is None:
        return None, None, "no purchase order for it: its supplier and lead time are unknown"
    return None, None, f"supplier {supplier} has no received purchase order: lead time unknown"


def _evaluate_one(
    item: Evaluation,
    series: list[tuple[date, int]] | None,
    start: str,
    orders: list[PurchaseOrderView],
    suppliers: dict[str, SupplierPerformance],
    policy: ReplenishmentPolicy,
) -> None:
    if series is None:
        item.reason = start
        return
    item.demand = demand_rate(
        series,
        alpha=policy.alpha,
        season_min_days=policy.season_min_days,
    )
    item.days_of_cover = days_of_cover(item.on_hand - item.allocated, item.demand.rate)
    if item.demand.rate <= 0:
        item.reason = f"no net demand in the last {item.demand.days} days"
        return
    item.supplier = _supplier_of(orders, item.sku, item.location)
    lead, source, why = _lead_time(item.supplier, suppliers, policy)
    if lead is None:
        item.reason = why
        return
    item.lead_time, item.lead_time_source = lead, source
    d = item.demand.rate
    item.safety_stock = safety_stock(policy.z, d, item.demand.deviation, lead.mean, lead.deviation)
    item.reorder_point = reorder_point(d, lead.mean, item.safety_stock)
    item.order_up_to = item.reorder_point + d * policy.review_period_days
    if item.position > item.reorder_point:
        item.status, item.reason = "ok", "inventory position above the reorder point"
        return
    eoq = None
    if policy.order_cost is not None and policy.holding_cost is not None:
        eoq = economic_order_quantity(d, policy.order_cost, policy.holding_cost)
    item.quantity = order_quantity(
        item.position, item.reorder_point, d, policy.review_period_days, eoq
    )
    item.status = "reorder"
    item.reason = "inventory position at or below the reorder point"


def _series(
    ledger: Ledger, tenant: str, as_of: datetime, policy: ReplenishmentPolicy
) -> tuple[dict[tuple[str, str], list[tuple[date, int]]], dict[tuple[str, str], str]]:
    """Per (SKU, location): the daily demand series, or why there is none usable."""
    first, end = history.window(as_of, policy.history_days)
    daily = history.daily_demand(ledger, tenant, first, end)
    starts = history.demand_start(ledger, tenant, end)
    series, reasons = {}, {}
    for pair, start in starts.items():
        begin = max(first, start)
        days = (end - begin).days
        if days < policy.min_history_days:
            reasons[pair] = (
                f"only {days} days of demand history since its first order on {start} "
                f"(needs {policy.min_history_days})"
            )
            continue
        by_day = daily.get(pair, {})
        series[pair] = [
            (day, by_day.get(day, 0))
            for day in (begin + timedelta(days=offset) for offset in range(days))
        ]
    return series, reasons


def evaluate(
    ledger: Ledger,
    policy: ReplenishmentPolicy,
    as_of: datetime,
    tenant: str | None = None,
) -> Report:
    """Evaluate every SKU at every stock location of ``tenant`` (or of every tenant)."""
    evaluations: list[Evaluation] = []
    all_suppliers: dict[str, dict[str, SupplierPerformance]] = {}
    all_delays: dict[str, list[InboundDelay]] = {}
    for name in [tenant] if tenant else history.tenants(ledger):
        orders = history.purchase_orders(ledger, name, as_of)
        suppliers = performance(orders, policy.lead_time_samples)
        delays = inbound_delays(orders, history.open_order_lines(ledger, name), as_of)
        all_suppliers[name], all_delays[name] = suppliers, delays
        series, reasons = _series(ledger, name, as_of, policy)
        stocked = history.stock_locations(ledger, name)
        items: dict[tuple[str, str], Evaluation] = {}
        for p in ledger.positions(name):
            if p.location in stocked:
                items[(p.sku, p.location)] = Evaluation(
                    name, p.sku, p.location, "no_suggestion", "", p.on_hand, p.allocated,
                    p.in_transit,
                )  # fmt: skip
        for po in orders:
            for sku, line in po.lines.items():
                if po.location in stocked:
                    item = items.setdefault(
                        (sku, po.location),
                        Evaluation(name, sku, po.location, "no_suggestion", ""),
                    )
                    item.on_order += max(0, line.ordered - line.received)
        for delay in delays:
            if (delay.sku, delay.location) in items:
                items[(delay.sku, delay.location)].delays.append(delay)
        for pair in sorted(items):
            item = items[pair]
            why = reasons.get(
                pair, f"no demand history: no customer order has reserved {pair[0]} at {pair[1]}"
            )
            _evaluate_one(item, series.get(pair), why, orders, suppliers, policy)
            evaluations.append(item)
    return Report(as_of, policy, evaluations, all_suppliers, all_delays)
