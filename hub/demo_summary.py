"""The demo's summary, read back from what the run left: the ledger, the vendors' journal, and the
vendors' record of their own deliveries.

Every business figure comes from the ledger file (so ``hub ledger positions``, ``hub orders show``
and friends agree with it, and a test can recompute it); the latency figures join the time a
vendor sent a webhook to the time the router delivered it to the ledger (the audit log), and to
the first stock push each channel received after that (the vendors' journal).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from statistics import quantiles
from typing import Any

from simulation.journal import Call
from simulation.scenario import Scenario
from simulation.sender import Attempt

__all__ = ["pushes_by_channel", "summarize"]

#: Deliveries whose processing can change what a channel may sell.
_STOCK_TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "order.created",
                 "order.updated"}  # fmt: skip


def _percentiles(samples: Sequence[float]) -> tuple[float | None, float | None]:
    if not samples:
        return None, None
    if len(samples) == 1:
        return round(samples[0], 1), round(samples[0], 1)
    cuts = quantiles(samples, n=100, method="inclusive")
    return round(cuts[49], 1), round(cuts[98], 1)


def pushes_by_channel(
    calls: Sequence[Call], scenario: Scenario
) -> list[tuple[float, str, str, int]]:
    """Successful stock pushes the channels received: (time, channel, sku, quantity)."""
    products = scenario.catalogue.products
    by_item = {p.shopify_inventory_item_id: p.sku for p in products}
    by_woo = {p.woo_product_id: p.sku for p in products}
    found = []
    for call in calls:
        if not 200 <= call.status < 300 or not isinstance(call.body, dict):
            continue
        if call.operation == "inventory_levels.set":
            sku = by_item.get(int(call.body["inventory_item_id"]))
            found.append((call.at, "shopify_us", sku, int(call.body["available"])))
        elif call.operation == "products.update_stock":
            sku = by_woo.get(int(call.path.rstrip("/").split("/products/")[1].split("/")[0]))
            found.append((call.at, "woo_us", sku, int(call.body.get("stock_quantity") or 0)))
        elif call.operation == "patchListingsItem":
            value = call.body["patches"][0]["value"][0]
            found.append(
                (call.at, "amazon_us", call.path.rsplit("/", 1)[1], int(value["quantity"]))
            )
    return [push for push in found if push[2] is not None]  # type: ignore[misc]


def _ledger_times(db: sqlite3.Connection) -> dict[str, float]:
    """raw message id -> when the router delivered it to the ledger (first deliver record)."""
    times: dict[str, float] = {}
    for details, at in db.execute("SELECT details, at FROM audit_log WHERE stage = 'deliver'"):
        raw_id = json.loads(details).get("raw_id")
        moment = datetime.fromisoformat(at).timestamp()
        if raw_id and (raw_id not in times or moment < times[raw_id]):
            times[raw_id] = moment
    return times


def _latencies(
    db: sqlite3.Connection, scenario: Scenario, attempts: Sequence[Attempt], calls: Sequence[Call]
) -> dict[str, Any]:
    first_sent: dict[str, float] = {}
    for attempt in attempts:
        first_sent.setdefault(attempt.delivery_id, attempt.sent_at)
    delivered = _ledger_times(db)
    by_id = {d.delivery_id: d for d in scenario.deliveries}
    pushes = pushes_by_channel(calls, scenario)
    to_ledger: list[float] = []
    to_push: list[float] = []
    for attempt in attempts:
        if attempt.message_id is None or attempt.message_id not in delivered:
            continue
        sent = first_sent[attempt.delivery_id]
        ledger_at = delivered[attempt.message_id]
        to_ledger.append((ledger_at - sent) * 1000)
        delivery = by_id[attempt.delivery_id]
        if delivery.topic not in _STOCK_TOPICS or delivery.kind == "duplicate":
            continue
        skus = set(delivery.skus)
        for channel in ("shopify_us", "woo_us", "amazon_us"):
            later = [
                t for t, ch, sku, _ in pushes if ch == channel and sku in skus and t >= ledger_at
            ]
            if later:
                to_push.append((min(later) - sent) * 1000)
    ledger_p50, ledger_p99 = _percentiles(to_ledger)
    push_p50, push_p99 = _percentiles(to_push)
    return {
        "webhook_to_ledger_p50": ledger_p50,
        "webhook_to_ledger_p99": ledger_p99,
        "webhook_to_channel_push_p50": push_p50,
        "webhook_to_channel_push_p99": push_p99,
        "samples": {"webhook_to_ledger": len(to_ledger), "webhook_to_channel_push": len(to_push)},
    }


def _oversold(db: sqlite3.Connection, tenant: str) -> dict[str, int]:
    """Per SKU: units promised or shipped to buyers beyond the units the business ever had."""
    committed = dict(db.execute(
        "SELECT sku, SUM(reserved + shipped) FROM order_lines WHERE tenant = ? AND sku IS NOT NULL "
        "GROUP BY sku", (tenant,),
    ).fetchall())  # fmt: skip
    supply = dict(db.execute(
        "SELECT sku, SUM(d_on_hand) FROM movements WHERE tenant = ? AND d_on_hand > 0 "
        "GROUP BY sku", (tenant,),
    ).fetchall())  # fmt: skip
    return {sku: max(0, int(units) - int(supply.get(sku, 0))) for sku, units in committed.items()}


def _kpis(ledger_path: str, tenant: str) -> dict[str, float | None]:
    """The operations KPIs of the dashboard (hub.reports), as the demo left the ledger."""
    from hub.reports import Reports

    reports = Reports(ledger_path)
    try:
        report = reports.overview(tenant)
    finally:
        reports.close()
    return {
        "clean_order_rate": report.clean_order_rate,
        "fill_rate": report.fill_rate,
        "perfect_order_rate": report.perfect_order_rate,
        "allocation_accuracy": report.allocation_accuracy,
        "on_time_release_rate": report.on_time_release_rate,
    }


def summarize(
    ledger_path: str,
    scenario: Scenario,
    attempts: Sequence[Attempt],
    calls: Sequence[Call],
    *,
    seconds: float,
    polled: int,
) -> dict[str, Any]:
    """The run's summary as one JSON-ready dict (see docs/demo.md for every field)."""
    tenant = scenario.catalogue.tenant
    db = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True)
    try:
        states = Counter(
            state for (state,) in db.execute("SELECT state FROM orders WHERE tenant = ?", (tenant,))
        )
        in_ledger = {k for (k,) in db.execute("SELECT order_key FROM orders WHERE tenant = ?",
                                              (tenant,))}  # fmt: skip
        held = dict(db.execute(
            "SELECT queue, COUNT(*) FROM held_messages WHERE tenant = ? AND status = 'open' "
            "GROUP BY queue", (tenant,),
        ).fetchall())  # fmt: skip
        held_orders = {k for (k,) in db.execute(
            "SELECT DISTINCT order_key FROM held_messages WHERE tenant = ? AND status = 'open' "
            "AND order_key IS NOT NULL", (tenant,),
        )} - in_ledger  # fmt: skip
        dead = db.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE tenant = ? AND status = 'open'", (tenant,)
        ).fetchone()[0]
        oversold = _oversold(db, tenant)
        atp = {(sku, ch): n for sku, ch, n in db.execute(
            "SELECT sku, channel, available FROM channel_atp WHERE tenant = ?", (tenant,))}  # fmt: skip
        sold = dict(db.execute(
            "SELECT sku, SUM(reserved + shipped) FROM order_lines WHERE tenant = ? GROUP BY sku",
            (tenant,),
        ).fetchall())  # fmt: skip
        shipment_exceptions = dict(db.execute(
            "SELECT kind, COUNT(*) FROM fulfilment_exceptions WHERE tenant = ? AND status = 'open' "
            "GROUP BY kind ORDER BY kind", (tenant,),
        ).fetchall())  # fmt: skip
        latency = _latencies(db, scenario, attempts, calls)
    finally:
        db.close()
    kpis = _kpis(ledger_path, tenant)
    pushes = pushes_by_channel(calls, scenario)
    last_push = {(ch, sku): qty for _, ch, sku, qty in sorted(pushes)}
    flash = {
        p.sku: {
            "stock": scenario.catalogue.total_stock(p.sku),
            "demand": sum(scenario.facts.flash_demand.get(p.sku, {}).values()),
            "sold": int(sold.get(p.sku) or 0),
            "available_to_promise": {ch: atp.get((p.sku, ch)) for ch in scenario.facts.orders},
            "last_pushed": {ch: last_push.get((ch, p.sku)) for ch in scenario.facts.orders},
        }
        for p in scenario.catalogue.flash
    }
    ok = [a for a in attempts if 200 <= a.status < 300]
    forged = [a for a in attempts if a.kind == "forged"]
    calls_by = Counter((c.vendor, c.operation, c.status) for c in calls)
    return {
        "seed": scenario.seed,
        "seconds": round(seconds, 1),
        "orders_total": len(in_ledger) + len(held_orders),
        "orders_by_state": {
            **dict(sorted(states.items())),
            **({"held": len(held_orders)} if held_orders else {}),
        },
        "oversold_units": sum(oversold.values()),
        "dead_letters": int(dead),
        "reviews": int(held.get("review", 0)),
        "exceptions": int(held.get("exception", 0)),
        "fulfilment_exceptions": {str(k): int(v) for k, v in shipment_exceptions.items()},
        "kpis": kpis,
        "webhooks": {
            "deliveries": len(scenario.deliveries),
            "attempts": len(attempts),
            "accepted": len(ok),
            "duplicates_delivered": sum(1 for a in ok if a.kind == "duplicate"),
            "late_delivered": sum(1 for a in ok if a.kind == "late"),
            "early_delivered": sum(1 for a in ok if a.kind == "early"),
            "forged_sent": len(forged),
            "forged_refused": sum(1 for a in forged if a.status == 401),
        },
        "amazon_orders_polled": polled,
        "released_to_3pl": sum(
            n
            for (v, op, status), n in calls_by.items()
            if (v, op) == ("shipbob", "orders.create") and 200 <= status < 300
        ),
        "flash_sale": flash,
        "vendor_calls": [
            {"vendor": v, "operation": op, "status": status, "count": n}
            for (v, op, status), n in sorted(calls_by.items())
        ],
        "latency_ms": latency,
    }
