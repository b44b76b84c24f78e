"""The operational picture, read from the ledger and the operations store: what the dashboard shows.

Ledger tables answer "where is the stock and where are the orders"; the operations tables answer
"what is stuck and why". An operations lead asks both at once, so one read-only report joins them
per tenant. Every figure is computed in SQL that runs unchanged on SQLite and PostgreSQL, on its
own connection so a dashboard refresh never waits behind the router's write lock.

Definitions (the dashboard and docs/operations.md repeat them):

* **Backlog**: orders in an open lifecycle state (not yet delivered, invoiced, closed, cancelled,
  returned or refunded), by state, aged by the time since their last lifecycle event.
* **Fill rate**: of the units ordered on orders that have shipped (fully or partly), the share
  shipped.
* **Perfect-order rate**: of the orders that have shipped, the share that are perfect by the
  per-order definition of :mod:`hub.fulfilment_report` (complete, on time, undamaged, accurate, right
  documents) and were never on hold nor held for review or as an exception.
* **Allocation accuracy**: of the lines of closed fulfilment requests (shipped or short-closed), the
  share that shipped in full with no item exception on the same request and line.
* **On-time release rate**: of the fulfilment requests with a ``commit_by`` (not cancelled), the
  share released for a cut-off (``ship_by``) no later than that commitment.
* **Clean-order rate**: of all orders, the share that went straight through: never held for review
  or as an exception.
* **Return cycle time**: from an order's first ``return.requested`` to the first refund or inspection
  after it (median and worst, over the returns that have one).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.fulfilment_report import CLOSED_REQUEST_STATES, ITEM_KINDS, order_facts
from hub.ledger.url import open_database

__all__ = ["OPEN_STATES", "SHIPPED_STATES", "Overview", "Reports"]

#: States in which an order still needs work from someone (its age is a backlog age).
OPEN_STATES = (
    "captured",
    "validated",
    "on_hold",
    "allocated",
    "partially_allocated",
    "backordered",
    "released",
    "picked",
    "packed",
    "partially_shipped",
    "shipped",
    "return_requested",
)
#: States reached only after (some of) the order left a warehouse.
SHIPPED_STATES = (
    "shipped",
    "partially_shipped",
    "delivered",
    "invoiced",
    "closed",
    "return_requested",
    "returned",
    "refunded",
)
#: Age buckets of the backlog, in hours: [0, 1), [1, 4), [4, 24), [24, inf).
AGE_BUCKETS = ((0, 1, "<1h"), (1, 4, "1-4h"), (4, 24, "4-24h"), (24, None, ">24h"))


def _stamp(moment: datetime) -> str:
    """Timestamps as the ledger stores them (UTC ISO text), so text comparison is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in values)


@dataclass
class Overview:
    """Everything the dashboard's main page shows for one tenant, as plain data (JSON-ready)."""

    tenant: str
    as_of: str
    orders_total: int = 0
    orders_by_state: dict[str, int] = field(default_factory=dict)
    backlog_aging: dict[str, dict[str, int]] = field(default_factory=dict)
    cancellations: int = 0
    fill_rate: float | None = None
    perfect_order_rate: float | None = None
    clean_order_rate: float | None = None
    allocation_accuracy: float | None = None
    on_time_release_rate: float | None = None
    fulfilment_exceptions_open: dict[str, int] = field(default_factory=dict)
    recent_fulfilment_exceptions: list[dict[str, Any]] = field(default_factory=list)
    return_cycle_hours_median: float | None = None
    return_cycle_hours_max: float | None = None
    returns_open: int = 0
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)
    exceptions_by_rule: list[dict[str, Any]] = field(default_factory=list)
    dead_letters_open: int = 0
    recent_dead_letters: list[dict[str, Any]] = field(default_factory=list)
    inventory_by_location: list[dict[str, Any]] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    sku: str | None = None
    sku_positions: list[dict[str, Any]] = field(default_factory=list)
    sku_availability: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Reports:
    """Read-only reports over one ledger database (its own connection, one query at a time)."""

    def __init__(self, ledger_url: str) -> None:
        self._db: Any = open_database(ledger_url)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return list(self._db.query(sql, params))

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement on this connection (autocommit); its row count. Only the operator's
        decisions on fulfilment exceptions write through here."""
        with self._lock:
            return int(self._db.execute(sql, params))

    def tenants(self) -> list[str]:
        rows = self._query(
            "SELECT tenant FROM orders UNION SELECT tenant FROM positions "
            "UNION SELECT tenant FROM held_messages UNION SELECT tenant FROM dead_letters"
        )
        return sorted({str(row[0]) for row in rows})

    def overview(
        self, tenant: str, sku: str | None = None, *, now: datetime | None = None
    ) -> Overview:
        now = now or datetime.now(UTC)
        report = Overview(tenant=tenant, as_of=now.isoformat())
        self._orders(report, now)
        self._rates(report)
        self._clean_orders(report)
        self._fulfilment(report)
        self._returns(report)
        self._queues(report, now)
        self._dead_letters(report)
        self._inventory(report, sku)
        return report

    # -- orders ----------------------------------------------------------------------------------

    def _orders(self, report: Overview, now: datetime) -> None:
        tenant = report.tenant
        for state, count in self._query(
            "SELECT state, COUNT(*) FROM orders WHERE tenant = ? GROUP BY state", (tenant,)
        ):
            report.orders_by_state[str(state)] = int(count)
        report.orders_total = sum(report.orders_by_state.values())
        report.cancellations = int(
            self._query(
                "SELECT COUNT(*) FROM orders WHERE tenant = ? "
                "AND (cancelled <> 0 OR state = 'cancelled')",
                (tenant,),
            )[0][0]
        )
        cutoffs = [_stamp(now - timedelta(hours=low)) for low, _, _ in AGE_BUCKETS]
        # one pass: each open order's age since its last lifecycle event, counted into buckets
        cases = ", ".join(
            "SUM(CASE WHEN last_at <= ? "
            + ("AND last_at > ? " if high is not None else "")
            + "THEN 1 ELSE 0 END)"
            for _, high, _ in AGE_BUCKETS
        )
        params: list[Any] = []
        for (_, high, _), cutoff in zip(AGE_BUCKETS, cutoffs, strict=True):
            params.append(cutoff)
            if high is not None:
                params.append(_stamp(now - timedelta(hours=high)))
        rows = self._query(
            f"SELECT o.state, {cases} FROM orders o JOIN ("  # noqa: S608 - placeholders only
            "SELECT order_key, MAX(at) AS last_at FROM order_history WHERE tenant = ? "
            "GROUP BY order_key) h ON h.order_key = o.order_key "
            f"WHERE o.tenant = ? AND o.state IN ({_marks(OPEN_STATES)}) GROUP BY o.state",
            [*params, tenant, tenant, *OPEN_STATES],
        )
        for state, *counts in rows:
            report.backlog_aging[str(state)] = {
                label: int(count or 0)
                for (_, _, label), count in zip(AGE_BUCKETS, counts, strict=True)
            }

    def _rates(self, report: Overview) -> None:
        tenant = report.tenant
        rows = self._query(
            "SELECT o.order_key, SUM(l.quantity), "  # noqa: S608 - placeholders only
            "SUM(CASE WHEN l.shipped < l.quantity THEN l.shipped ELSE l.quantity END), "
            "SUM(l.returned), MAX(o.cancelled), MAX(o.on_hold) "
            "FROM orders o JOIN order_lines l ON l.tenant = o.tenant AND l.order_key = o.order_key "
            f"WHERE o.tenant = ? AND o.state IN ({_marks(SHIPPED_STATES)}) "
            "GROUP BY o.order_key",
            [tenant, *SHIPPED_STATES],
        )
        if not rows:
            return
        held = {
            str(row[0])
            for row in self._query(
                "SELECT DISTINCT order_key FROM held_messages "
                "WHERE tenant = ? AND order_key IS NOT NULL",
                (tenant,),
            )
        }
        ordered = sum(int(r[1] or 0) for r in rows)
        shipped = sum(int(r[2] or 0) for r in rows)
        facts = order_facts(self._query, tenant, states=SHIPPED_STATES)
        perfect = sum(
            1
            for key, *_ in rows
            if str(key) in facts
            and facts[str(key)].perfect
            and not facts[str(key)].on_hold
            and str(key) not in held
        )
        report.fill_rate = round(shipped / ordered, 4) if ordered else None
        report.perfect_order_rate = round(perfect / len(rows), 4)

    def _clean_orders(self, report: Overview) -> None:
        """Orders that went straight through, over every order received: those in the ledger,
        and those still held for a person before ever reaching it (not clean either)."""
        held = int(
            self._query(
                "SELECT COUNT(*) FROM orders o WHERE o.tenant = ? AND EXISTS (SELECT 1 FROM "
                "held_messages h WHERE h.tenant = o.tenant AND h.order_key = o.order_key)",
                (report.tenant,),
            )[0][0]
        )
        waiting = int(
            self._query(
                "SELECT COUNT(DISTINCT h.order_key) FROM held_messages h WHERE h.tenant = ? "
                "AND h.order_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o "
                "WHERE o.tenant = h.tenant AND o.order_key = h.order_key)",
                (report.tenant,),
            )[0][0]
        )
        received = report.orders_total + waiting
        if received:
            report.clean_order_rate = round((report.orders_total - held) / received, 4)

    def _fulfilment(self, report: Overview) -> None:
        tenant = report.tenant
        [(lines, accurate)] = self._query(
            "SELECT COUNT(*), SUM(CASE WHEN l.shipped >= l.quantity AND NOT EXISTS ("  # noqa: S608 - placeholders only
            "SELECT 1 FROM fulfilment_exceptions e WHERE e.tenant = l.tenant "
            "AND e.request_id = l.request_id AND (e.line_id = l.line_id OR e.line_id IS NULL) "
            f"AND e.kind IN ({_marks(ITEM_KINDS)})) THEN 1 ELSE 0 END) "
            "FROM fulfilment_request_lines l JOIN fulfilment_requests r "
            "ON r.tenant = l.tenant AND r.request_id = l.request_id "
            f"WHERE l.tenant = ? AND r.status IN ({_marks(CLOSED_REQUEST_STATES)})",
            [*ITEM_KINDS, tenant, *CLOSED_REQUEST_STATES],
        )
        if int(lines or 0):
            report.allocation_accuracy = round(int(accurate or 0) / int(lines), 4)
        [(committed, released_in_time)] = self._query(
            "SELECT COUNT(*), SUM(CASE WHEN COALESCE(ship_by, requested_at) <= commit_by "
            "THEN 1 ELSE 0 END) "
            "FROM fulfilment_requests WHERE tenant = ? AND commit_by IS NOT NULL "
            "AND status <> 'cancelled'",
            (tenant,),
        )
        if int(committed or 0):
            report.on_time_release_rate = round(int(released_in_time or 0) / int(committed), 4)
        report.fulfilment_exceptions_open = {
            str(kind): int(count)
            for kind, count in self._query(
                "SELECT kind, COUNT(*) FROM fulfilment_exceptions WHERE tenant = ? "
                "AND status = 'open' GROUP BY kind ORDER BY kind",
                (tenant,),
            )
        }
        report.recent_fulfilment_exceptions = [
            {
                "id": int(row[0]),
                "order_key": row[1],
                "shipment_id": row[2],
                "kind": row[3],
                "sku": row[4],
                "expected": None if row[5] is None else int(row[5]),
                "actual": None if row[6] is None else int(row[6]),
                "detail": row[7],
                "opened_at": row[8],
                "rma_id": row[9],
            }
            for row in self._query(
                "SELECT id, order_key, shipment_id, kind, sku, expected, actual, detail, "
                "opened_at, rma_id FROM fulfilment_exceptions WHERE tenant = ? AND status = 'open' "
                "ORDER BY id DESC LIMIT 10",
                (tenant,),
            )
        ]

    def _returns(self, report: Overview) -> None:
        started: dict[str, datetime] = {}
        cycles: list[float] = []
        for key, event, at in self._query(
            "SELECT order_key, event, at FROM order_history WHERE tenant = ? AND event IN "
            "('return.requested', 'payment.refunded', 'return.inspected') ORDER BY id",
            (report.tenant,),
        ):
            moment = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
            if event == "return.requested":
                started.setdefault(str(key), moment)
            elif str(key) in started:
                cycles.append((moment - started.pop(str(key))).total_seconds() / 3600)
        report.returns_open = len(started)
        if cycles:
            cycles.sort()
            report.return_cycle_hours_median = round(cycles[len(cycles) // 2], 2)
            report.return_cycle_hours_max = round(cycles[-1], 2)

    # -- queues ----------------------------------------------------------------------------------

    def _queues(self, report: Overview, now: datetime) -> None:
        tenant, stamp = report.tenant, _stamp(now)
        for queue, count, breached, oldest in self._query(
            "SELECT queue, COUNT(*), SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END), MIN(held_at) "
            "FROM held_messages WHERE tenant = ? AND status = 'open' GROUP BY queue",
            (stamp, tenant),
        ):
            report.queues[str(queue)] = {
                "open": int(count),
                "sla_breached": int(breached or 0),
                "oldest_age_s": _age(now, oldest),
            }
        for row in self._query(
            "SELECT id, queue, rule, reason, order_key, held_at, due_at FROM held_messages "
            "WHERE tenant = ? AND status = 'open' ORDER BY held_at LIMIT 50",
            (tenant,),
        ):
            report.held.append(
                {
                    "id": int(row[0]),
                    "queue": row[1],
                    "rule": row[2],
                    "reason": row[3],
                    "order_key": row[4],
                    "age_s": _age(now, row[5]),
                    "breached": str(row[6]) < stamp,
                }
            )
        # by rule and hour over the last day, open or decided: a recurring process problem shows
        # as one rule every hour, a volume spike as every rule in one hour
        since = _stamp(now - timedelta(hours=24))
        hours: dict[str, Counter[str]] = defaultdict(Counter)
        reasons: dict[str, Counter[str]] = defaultdict(Counter)
        for rule, reason, held_at in self._query(
            "SELECT rule, reason, held_at FROM held_messages WHERE tenant = ? AND held_at >= ?",
            (tenant, since),
        ):
            hours[str(rule)][str(held_at)[:13]] += 1
            reasons[str(rule)][str(reason)] += 1
        report.exceptions_by_rule = [
            {
                "rule": rule,
                "total": sum(hours[rule].values()),
                "by_hour": dict(sorted(hours[rule].items())),
                "top_reasons": [
                    {"reason": text, "count": n} for text, n in reasons[rule].most_common(3)
                ],
            }
            for rule in sorted(hours, key=lambda r: -sum(hours[r].values()))
        ]

    def _dead_letters(self, report: Overview) -> None:
        tenant = report.tenant
        report.dead_letters_open = int(
            self._query(
                "SELECT COUNT(*) FROM dead_letters WHERE tenant = ? AND status = 'open'", (tenant,)
            )[0][0]
        )
        report.recent_dead_letters = [
            {
                "id": int(row[0]),
                "failed_at": row[1],
                "instance": row[2],
                "event": row[3],
                "stage": row[4],
                "reason": row[5],
            }
            for row in self._query(
                "SELECT id, failed_at, instance, event, stage, reason FROM dead_letters "
                "WHERE tenant = ? AND status = 'open' ORDER BY id DESC LIMIT 10",
                (tenant,),
            )
        ]

    # -- inventory -------------------------------------------------------------------------------

    def _inventory(self, report: Overview, sku: str | None) -> None:
        tenant = report.tenant
        report.inventory_by_location = [
            {
                "location": row[0],
                "skus": int(row[1]),
                "on_hand": int(row[2] or 0),
                "allocated": int(row[3] or 0),
                "in_transit": int(row[4] or 0),
                "returns_pending": int(row[5] or 0),
                "damaged": int(row[6] or 0),
            }
            for row in self._query(
                "SELECT location, COUNT(*), SUM(on_hand), SUM(allocated), SUM(in_transit), "
                "SUM(returns_pending), SUM(damaged) FROM positions WHERE tenant = ? "
                "GROUP BY location ORDER BY location",
                (tenant,),
            )
        ]
        report.skus = [
            str(row[0])
            for row in self._query(
                "SELECT DISTINCT sku FROM positions WHERE tenant = ? ORDER BY sku LIMIT 1000",
                (tenant,),
            )
        ]
        report.sku = sku or (report.skus[0] if report.skus else None)
        if report.sku is None:
            return
        report.sku_positions = [
            {
                "location": row[0],
                "on_hand": int(row[1]),
                "allocated": int(row[2]),
                "in_transit": int(row[3]),
                "returns_pending": int(row[4]),
                "damaged": int(row[5]),
                "safety_stock": int(row[6]),
            }
            for row in self._query(
                "SELECT location, on_hand, allocated, in_transit, returns_pending, damaged, "
                "safety_stock FROM positions WHERE tenant = ? AND sku = ? ORDER BY location",
                (tenant, report.sku),
            )
        ]
        report.sku_availability = {
            str(row[0]): int(row[1])
            for row in self._query(
                "SELECT channel, available FROM channel_atp WHERE tenant = ? AND sku = ? "
                "ORDER BY channel",
                (tenant, report.sku),
            )
        }


def _age(now: datetime, stamp: Any) -> float | None:
    if not stamp:
        return None
    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return round((now - moment).total_seconds(), 1)
