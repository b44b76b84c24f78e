"""Reading fulfilment: perfect-order status per order, the forward trace of a lot, and the
reconciliation exceptions an operator works through.

Read-only over the tables the ledger writes when it releases fulfilment requests and records
shipments (migration 0009: ``fulfilment_requests``, ``shipments``, ``fulfilment_exceptions``,
``lot_stock``, ``lot_movements`` ...; 0014 adds the node's reference to a request), on the
connection of a :class:`hub.reports.Reports`. The one write is
:meth:`FulfilmentReports.resolve_exception`: an operator closing an exception with a note.

Perfect order (per order; the overview's perfect-order rate counts the same thing):

* **complete**: the order is not cancelled and every stocked line shipped at least its quantity;
* **on time**: the order's last shipment left no later than the earliest ``commit_by`` of its
  fulfilment requests; with no ``commit_by``, no later than the earliest ``ship_by``; with neither,
  on time. Unknown (None) while nothing has shipped. The last shipment is the latest
  ``shipments.shipped_at``; an order shipped before shipments were recorded uses
  ``orders.shipped_at``;
* **undamaged**: none of the order's returns was received with the reason damaged or defective;
* **accurate**: no item exception (short ship, wrong item, extra item, wrong location, lot
  mismatch) was ever opened for the order, whether still open or resolved since;
* **right documents**: every shipment of the order carries at least one tracking number and no
  document exception (missing or bad tracking, serial or lot missing, duplicate serial, a serial
  whose unit a return scrapped) was opened.

An order is perfect when all five hold. Return exceptions (``serial_not_shipped``: a return
brought back a serial the order never shipped; ``return_serial_missing``: a received return line
of a serial-controlled SKU brought back fewer serials than units) are listed with the others but
count in none of the five: the return comes after delivery, and whether the shipment's serials or
the returned unit is wrong is only known once someone looks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.errors import HubError
from hub.ledger.shipments import DOCUMENT_KINDS, ITEM_KINDS, RETURN_KINDS

if TYPE_CHECKING:
    from hub.reports import Reports

__all__ = [
    "CLOSED_REQUEST_STATES",
    "DOCUMENT_KINDS",
    "ITEM_KINDS",
    "RETURN_KINDS",
    "ExceptionAlreadyResolvedError",
    "FulfilmentReports",
    "OrderFacts",
    "UnknownExceptionError",
    "order_facts",
]

#: Fulfilment requests the node has finished with (the denominator of allocation accuracy).
CLOSED_REQUEST_STATES = ("shipped", "short_closed")
#: Return reasons that make an order damaged.
DAMAGE_REASONS = ("damaged", "defective")
#: Lot movements that bring stock into a lot (how it came in).
LOT_INBOUND_KINDS = ("receipt", "adjustment", "count")

Query = Callable[[str, Sequence[Any]], list[Any]]


class FulfilmentError(HubError):
    """A fulfilment read or decision that cannot be done as asked."""


class UnknownExceptionError(FulfilmentError):
    """No fulfilment exception with that id for the tenant."""


class ExceptionAlreadyResolvedError(FulfilmentError):
    """The fulfilment exception was resolved already."""


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(value: Any) -> datetime | None:
    """A stored timestamp (UTC ISO text, or a date) as an aware datetime; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json_list(text: Any) -> list[str]:
    """A JSON list column (tracking numbers, lots, serials); anything else is an empty list."""
    if not text:
        return []
    try:
        value = json.loads(str(text))
    except ValueError:
        return []
    return (
        [str(item) for item in value if item not in (None, "")] if isinstance(value, list) else []
    )


def _category(kind: str) -> str:
    if kind in ITEM_KINDS:
        return "item"
    if kind in DOCUMENT_KINDS:
        return "document"
    if kind in RETURN_KINDS:
        return "return"
    return "other"


@dataclass
class OrderFacts:
    """What the perfect-order components of one order are computed from."""

    order_key: str
    state: str
    cancelled: bool
    on_hold: bool
    order_shipped_at: str | None
    short_lines: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[tuple[str, list[str], str]] = field(default_factory=list)
    commit_by: str | None = None
    ship_by: str | None = None
    damaged: list[dict[str, Any]] = field(default_factory=list)
    item_exceptions: list[dict[str, Any]] = field(default_factory=list)
    document_exceptions: list[dict[str, Any]] = field(default_factory=list)

    # -- components ------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return not self.cancelled and not self.short_lines

    @property
    def last_shipped_at(self) -> str | None:
        if self.shipments:
            return max(
                self.shipments, key=lambda s: _moment(s[2]) or datetime.min.replace(tzinfo=UTC)
            )[2]
        return self.order_shipped_at

    @property
    def deadline(self) -> tuple[str, str] | None:
        """The moment the order had to leave by, and which field set it."""
        if self.commit_by:
            return self.commit_by, "commit_by"
        if self.ship_by:
            return self.ship_by, "ship_by"
        return None

    @property
    def on_time(self) -> bool | None:
        last = _moment(self.last_shipped_at)
        if last is None:
            return None
        deadline = self.deadline
        if deadline is None:
            return True
        due = _moment(deadline[0])
        return due is None or last <= due

    @property
    def undamaged(self) -> bool:
        return not self.damaged

    @property
    def accurate(self) -> bool:
        return not self.item_exceptions

    @property
    def untracked_shipments(self) -> list[str]:
        return [shipment_id for shipment_id, tracking, _ in self.shipments if not tracking]

    @property
    def documents(self) -> bool:
        return not self.untracked_shipments and not self.document_exceptions

    def components(self) -> dict[str, bool | None]:
        return {
            "complete": self.complete,
            "on_time": self.on_time,
            "undamaged": self.undamaged,
            "accurate": self.accurate,
            "documents": self.documents,
        }

    @property
    def perfect(self) -> bool:
        return all(value is True for value in self.components().values())

    def reasons(self) -> list[str]:
        """Why the order is not perfect, one sentence each (empty when it is)."""
        reasons: list[str] = []
        if self.cancelled:
            reasons.append("The order was cancelled.")
        for line in self.short_lines:
            reasons.append(
                f"Line {line['line_id']} ({line['sku']}) shipped {line['shipped']} of "
                f"{line['quantity']}."
            )
        on_time = self.on_time
        if on_time is None:
            reasons.append("Nothing has shipped yet, so it cannot be on time.")
        elif not on_time:
            due, source = self.deadline or ("", "")
            what = (
                "its service commitment (commit_by)"
                if source == "commit_by"
                else "the carrier cut-off it was released for (ship_by)"
            )
            reasons.append(f"The last shipment left at {self.last_shipped_at}, after {what} {due}.")
        for item in self.damaged:
            reasons.append(
                f"Return {item['rma_id']} line {item['line_id']} came back {item['reason']} "
                f"({item['quantity']} units)."
            )
        for found in self.item_exceptions + self.document_exceptions:
            reasons.append(
                f"{found['kind']} exception {found['id']} ({found['status']}): {found['detail']}"
            )
        flagged = {  # an open missing-tracking exception already says it
            found["shipment_id"]
            for found in self.document_exceptions
            if found["kind"] == "missing_tracking" and found["status"] == "open"
        }
        for shipment_id in self.untracked_shipments:
            if shipment_id not in flagged:
                reasons.append(f"Shipment {shipment_id} has no tracking number.")
        return reasons


def order_facts(
    query: Query,
    tenant: str,
    *,
    order_key: str | None = None,
    states: Sequence[str] | None = None,
) -> dict[str, OrderFacts]:
    """The perfect-order facts of one order (``order_key``) or of every order of a tenant in
    ``states``, in seven set-based queries whatever the number of orders."""
    scope = "o.tenant = ?"
    params: list[Any] = [tenant]
    if order_key is not None:
        scope += " AND o.order_key = ?"
        params.append(order_key)
    if states is not None:
        scope += f" AND o.state IN ({_marks(states)})"
        params.extend(states)

    def scoped(alias: str) -> str:
        return (
            f"JOIN orders o ON o.tenant = {alias}.tenant AND o.order_key = {alias}.order_key "
            f"WHERE {scope}"
        )

    facts: dict[str, OrderFacts] = {}
    for key, state, cancelled, on_hold, shipped_at in query(
        f"SELECT o.order_key, o.state, o.cancelled, o.on_hold, o.shipped_at FROM orders o "  # noqa: S608 - placeholders only
        f"WHERE {scope}",
        params,
    ):
        facts[str(key)] = OrderFacts(
            order_key=str(key),
            state=str(state),
            cancelled=bool(int(cancelled or 0)) or str(state) == "cancelled",
            on_hold=bool(int(on_hold or 0)),
            order_shipped_at=None if shipped_at is None else str(shipped_at),
        )
    if not facts:
        return facts
    for key, line_id, sku, quantity, shipped in query(
        "SELECT l.order_key, l.line_id, l.sku, l.quantity, l.shipped FROM order_lines l "  # noqa: S608 - placeholders only
        f"{scoped('l')} AND l.fulfillment_type = 'stocked' AND l.shipped < l.quantity "
        "ORDER BY l.order_key, l.line_id",
        params,
    ):
        facts[str(key)].short_lines.append(
            {"line_id": line_id, "sku": sku, "quantity": int(quantity), "shipped": int(shipped)}
        )
    for key, shipment_id, tracking, shipped_at in query(
        "SELECT s.order_key, s.shipment_id, s.tracking, s.shipped_at FROM shipments s "  # noqa: S608 - placeholders only
        f"{scoped('s')} ORDER BY s.shipped_at, s.shipment_id",
        params,
    ):
        facts[str(key)].shipments.append((str(shipment_id), _json_list(tracking), str(shipped_at)))
    for key, commit_by, ship_by in query(
        "SELECT r.order_key, MIN(r.commit_by), MIN(r.ship_by) FROM fulfilment_requests r "  # noqa: S608 - placeholders only
        f"{scoped('r')} GROUP BY r.order_key",
        params,
    ):
        facts[str(key)].commit_by = None if commit_by is None else str(commit_by)
        facts[str(key)].ship_by = None if ship_by is None else str(ship_by)
    kinds = (*ITEM_KINDS, *DOCUMENT_KINDS)
    for key, exception_id, kind, status, detail, shipment_id in query(
        "SELECT e.order_key, e.id, e.kind, e.status, e.detail, e.shipment_id "  # noqa: S608 - placeholders only
        "FROM fulfilment_exceptions e "
        f"{scoped('e')} AND e.kind IN ({_marks(kinds)}) ORDER BY e.id",
        [*params, *kinds],
    ):
        found = {
            "id": int(exception_id),
            "kind": kind,
            "status": status,
            "detail": detail,
            "shipment_id": shipment_id,
        }
        target = facts[str(key)]
        (target.item_exceptions if kind in ITEM_KINDS else target.document_exceptions).append(found)
    for key, rma_id, line_id, reason, quantity in query(
        "SELECT r.order_key, rl.rma_id, rl.line_id, m.reason, m.quantity FROM movements m "  # noqa: S608 - placeholders only
        "JOIN return_lines rl ON rl.tenant = m.tenant "
        "AND m.reference = rl.rma_id || '/' || rl.line_id "
        "JOIN returns r ON r.tenant = rl.tenant AND r.rma_id = rl.rma_id "
        f"{scoped('r')} AND m.kind = 'return_received' "
        f"AND m.reason IN ({_marks(DAMAGE_REASONS)}) ORDER BY m.id",
        [*params, *DAMAGE_REASONS],
    ):
        facts[str(key)].damaged.append(
            {"rma_id": rma_id, "line_id": line_id, "reason": reason, "quantity": int(quantity)}
        )
    return facts


def _exception(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": int(row[0]),
        "order_key": row[1],
        "request_id": row[2],
        "shipment_id": row[3],
        "kind": row[4],
        "category": _category(str(row[4])),
        "line_id": row[5],
        "sku": row[6],
        "expected": None if row[7] is None else int(row[7]),
        "actual": None if row[8] is None else int(row[8]),
        "detail": row[9],
        "opened_at": row[10],
        "status": row[11],
        "resolved_at": row[12],
        "resolution": row[13],
        "actor": row[14],
        "message_id": row[15],
        "rma_id": row[16],
    }


_EXCEPTION_COLUMNS = (
    "id, order_key, request_id, shipment_id, kind, line_id, sku, expected, actual, detail, "
    "opened_at, status, resolved_at, resolution, actor, message_id, rma_id"
)


class FulfilmentReports:
    """Fulfilment reads (and the one decision) on the connection of a :class:`Reports`."""

    def __init__(self, reports: Reports) -> None:
        self._reports = reports

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._reports._query(sql, params)

    # -- perfect order ---------------------------------------------------------------------------

    def perfect_order(self, tenant: str, order_key: str) -> dict[str, Any] | None:
        """One order's perfect-order status with its requests, shipments and exceptions, or None
        for an order the ledger does not know."""
        facts = order_facts(self._query, tenant, order_key=order_key).get(order_key)
        if facts is None:
            return None
        held = bool(
            self._query(
                "SELECT 1 FROM held_messages WHERE tenant = ? AND order_key = ? LIMIT 1",
                (tenant, order_key),
            )
        )
        deadline = facts.deadline
        return {
            "tenant": tenant,
            "order_key": order_key,
            "state": facts.state,
            "cancelled": facts.cancelled,
            "on_hold": facts.on_hold,
            "held_for_review": held,
            "perfect": facts.perfect,
            "components": facts.components(),
            "reasons": facts.reasons(),
            "last_shipped_at": facts.last_shipped_at,
            "deadline": None if deadline is None else {"at": deadline[0], "from": deadline[1]},
            "lines": self._order_lines(tenant, order_key),
            "requests": self._requests(tenant, order_key),
            "shipments": self._shipments(tenant, order_key),
            "exceptions": self.fulfilment_exceptions(tenant, status="all", order_key=order_key),
        }

    def _order_lines(self, tenant: str, order_key: str) -> list[dict[str, Any]]:
        return [
            {
                "line_id": row[0],
                "sku": row[1],
                "quantity": int(row[2]),
                "shipped": int(row[3]),
                "returned": int(row[4]),
                "fulfillment_type": row[5],
            }
            for row in self._query(
                "SELECT line_id, sku, quantity, shipped, returned, fulfillment_type "
                "FROM order_lines WHERE tenant = ? AND order_key = ? ORDER BY line_id",
                (tenant, order_key),
            )
        ]

    def _requests(self, tenant: str, order_key: str) -> list[dict[str, Any]]:
        requests: dict[str, dict[str, Any]] = {}
        for row in self._query(
            "SELECT request_id, location, carrier, service_level, requested_at, ship_by, "
            "commit_by, status, closed_at, node_reference, node_reference_at "
            "FROM fulfilment_requests "
            "WHERE tenant = ? AND order_key = ? ORDER BY requested_at, request_id",
            (tenant, order_key),
        ):
            requests[str(row[0])] = {
                "request_id": row[0],
                "location": row[1],
                "carrier": row[2],
                "service_level": row[3],
                "requested_at": row[4],
                "ship_by": row[5],
                "commit_by": row[6],
                "status": row[7],
                "closed_at": row[8],
                # the node's own id for it (ShipBob order, EasyPost shipment): migration 0014
                "node_reference": row[9],
                "node_reference_at": row[10],
                "lines": [],
            }
        if requests:
            for row in self._query(
                "SELECT l.request_id, l.seq, l.line_id, l.sku, l.quantity, l.lot, l.shipped "
                "FROM fulfilment_request_lines l JOIN fulfilment_requests r "
                "ON r.tenant = l.tenant AND r.request_id = l.request_id "
                "WHERE r.tenant = ? AND r.order_key = ? ORDER BY l.request_id, l.seq",
                (tenant, order_key),
            ):
                requests[str(row[0])]["lines"].append(
                    {
                        "seq": int(row[1]),
                        "line_id": row[2],
                        "sku": row[3],
                        "quantity": int(row[4]),
                        "lot": row[5],
                        "shipped": int(row[6]),
                    }
                )
        return list(requests.values())

    def _shipments(self, tenant: str, order_key: str) -> list[dict[str, Any]]:
        shipments: dict[str, dict[str, Any]] = {}
        for row in self._query(
            "SELECT shipment_id, location, request_id, carrier, service, tracking, shipped_at, "
            "closes_request FROM shipments WHERE tenant = ? AND order_key = ? "
            "ORDER BY shipped_at, shipment_id",
            (tenant, order_key),
        ):
            shipments[str(row[0])] = {
                "shipment_id": row[0],
                "location": row[1],
                "request_id": row[2],
                "carrier": row[3],
                "service": row[4],
                "tracking": _json_list(row[5]),
                "shipped_at": row[6],
                "closes_request": bool(int(row[7] or 0)),
                "lines": [],
            }
        if shipments:
            for row in self._query(
                "SELECT l.shipment_id, l.seq, l.line_id, l.sku, l.quantity, l.lots, l.serials "
                "FROM shipment_lines l JOIN shipments s "
                "ON s.tenant = l.tenant AND s.shipment_id = l.shipment_id "
                "WHERE s.tenant = ? AND s.order_key = ? ORDER BY l.shipment_id, l.seq",
                (tenant, order_key),
            ):
                shipments[str(row[0])]["lines"].append(
                    {
                        "seq": int(row[1]),
                        "line_id": row[2],
                        "sku": row[3],
                        "quantity": int(row[4]),
                        "lots": _json_list(row[5]),
                        "serials": _json_list(row[6]),
                    }
                )
        return list(shipments.values())

    # -- exceptions ------------------------------------------------------------------------------

    def fulfilment_exceptions(
        self,
        tenant: str,
        status: str | None = "open",
        kind: str | None = None,
        *,
        order_key: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Reconciliation exceptions, oldest first: ``status`` open, resolved, or all/None."""
        where, params = "tenant = ?", [tenant]
        if status not in (None, "all"):
            where += " AND status = ?"
            params.append(str(status))
        if kind:
            where += " AND kind = ?"
            params.append(kind)
        if order_key is not None:
            where += " AND order_key = ?"
            params.append(order_key)
        rows = self._query(
            f"SELECT {_EXCEPTION_COLUMNS} FROM fulfilment_exceptions "  # noqa: S608 - placeholders only
            f"WHERE {where} ORDER BY id LIMIT {int(limit)}",
            params,
        )
        return [_exception(row) for row in rows]

    def fulfilment_exception(self, tenant: str, exception_id: int) -> dict[str, Any] | None:
        rows = self._query(
            f"SELECT {_EXCEPTION_COLUMNS} FROM fulfilment_exceptions "  # noqa: S608 - constant
            "WHERE tenant = ? AND id = ?",
            (tenant, int(exception_id)),
        )
        return _exception(rows[0]) if rows else None

    def resolve_exception(
        self,
        tenant: str,
        exception_id: int,
        resolution: str,
        actor: str,
        *,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Close an open exception with a note and who closed it; returns it as now stored.

        Raises :class:`UnknownExceptionError` for an id the tenant does not have and
        :class:`ExceptionAlreadyResolvedError` for one that is not open any more."""
        resolution = (resolution or "").strip()
        if not resolution:
            raise FulfilmentError("a resolution note is required: say what was done about it")
        changed = self._reports._execute(
            "UPDATE fulfilment_exceptions SET status = 'resolved', resolved_at = ?, "
            "resolution = ?, actor = ? WHERE tenant = ? AND id = ? AND status = 'open'",
            (_stamp(now or datetime.now(UTC)), resolution, actor, tenant, int(exception_id)),
        )
        current = self.fulfilment_exception(tenant, exception_id)
        if current is None:
            raise UnknownExceptionError(f"no fulfilment exception {exception_id} for {tenant}")
        if changed == 0:
            raise ExceptionAlreadyResolvedError(
                f"fulfilment exception {exception_id} is already {current['status']}"
                + (
                    f" (by {current['actor']} at {current['resolved_at']}: {current['resolution']})"
                    if current["resolved_at"]
                    else ""
                )
            )
        return current

    # -- lots ------------------------------------------------------------------------------------

    def lot_trace(
        self, tenant: str, lot: str, sku: str | None = None, *, now: datetime | None = None
    ) -> dict[str, Any]:
        """Where a lot is now, how it came in, and every shipment (and order) that received it.

        ``found`` is false when the ledger has no stock, movement or shipment line of the lot."""
        now = now or datetime.now(UTC)
        where, params = "tenant = ? AND lot = ?", [tenant, lot]
        if sku:
            where += " AND sku = ?"
            params.append(sku)
        stock = []
        for row in self._query(
            "SELECT sku, location, on_hand, committed, expires_at FROM lot_stock "  # noqa: S608 - placeholders only
            f"WHERE {where} ORDER BY sku, location",
            params,
        ):
            expires = _moment(row[4])
            stock.append(
                {
                    "sku": row[0],
                    "location": row[1],
                    "on_hand": int(row[2]),
                    "committed": int(row[3]),
                    "expires_at": row[4],
                    "expired": expires is not None and expires <= now,
                }
            )
        movements = [
            {
                "id": int(row[0]),
                "sku": row[1],
                "location": row[2],
                "quantity": int(row[3]),
                "kind": row[4],
                "reference": row[5],
                "order_key": row[6],
                "shipment_id": row[7],
                "occurred_at": row[8],
            }
            for row in self._query(
                "SELECT id, sku, location, quantity, kind, reference, order_key, shipment_id, "  # noqa: S608 - placeholders only
                f"occurred_at FROM lot_movements WHERE {where} ORDER BY occurred_at, id",
                params,
            )
        ]
        received = [m for m in movements if m["kind"] in LOT_INBOUND_KINDS]
        shipped = self._lot_shipments(tenant, lot, sku, movements)
        return {
            "tenant": tenant,
            "lot": lot,
            "sku": sku,
            "as_of": now.isoformat(),
            "found": bool(stock or movements or shipped),
            "stock": stock,
            "received": received,
            "shipped": shipped,
            "movements": movements,
            "totals": {
                "received": sum(m["quantity"] for m in received),
                "shipped": sum(s["quantity"] or 0 for s in shipped),
                "on_hand": sum(s["on_hand"] for s in stock),
                "committed": sum(s["committed"] for s in stock),
                "orders": len({s["order_key"] for s in shipped}),
            },
        }

    def _lot_shipments(
        self, tenant: str, lot: str, sku: str | None, movements: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        # what lot_movements records, one entry per shipment and SKU (units as a positive number)
        entries: dict[tuple[str, str], dict[str, Any]] = {}
        for move in movements:
            if move["kind"] != "shipment" or not move["shipment_id"]:
                continue
            entry = entries.setdefault(
                (str(move["shipment_id"]), str(move["sku"])),
                {
                    "order_key": move["order_key"],
                    "shipment_id": move["shipment_id"],
                    "sku": move["sku"],
                    "location": move["location"],
                    "quantity": 0,
                    "shipped_at": move["occurred_at"],
                    "tracking": [],
                    "serials": [],
                    "recorded_in": "lot_movements",
                },
            )
            entry["quantity"] += abs(move["quantity"])
        # the shipment lines that name the lot: tracking, serials, and any line with no movement
        lines: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        pattern = json.dumps(lot)
        like = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition, params = "l.tenant = ?", [tenant]
        if pattern == f'"{lot}"':  # the lot appears verbatim in the JSON text: narrow it in SQL
            condition += " AND l.lots LIKE ? ESCAPE '\\'"
            params.append(f"%{like}%")
        if sku:
            condition += " AND l.sku = ?"
            params.append(sku)
        for row in self._query(
            "SELECT l.shipment_id, l.sku, l.quantity, l.lots, l.serials, s.order_key, "  # noqa: S608 - placeholders only
            "s.location, s.shipped_at, s.tracking FROM shipment_lines l JOIN shipments s "
            f"ON s.tenant = l.tenant AND s.shipment_id = l.shipment_id WHERE {condition} "
            "ORDER BY s.shipped_at, l.shipment_id, l.seq",
            params,
        ):
            lots = _json_list(row[3])
            if lot in lots:
                lines[str(row[0])].append(row)
        for shipment_id, rows in lines.items():
            for row in rows:
                # a line of several lots does not say how many units came from this one
                units = int(row[2]) if _json_list(row[3]) == [lot] else None
                found = entries.get((shipment_id, str(row[1])))
                if found is None:
                    found = entries[(shipment_id, str(row[1]))] = {
                        "order_key": row[5],
                        "shipment_id": shipment_id,
                        "sku": row[1],
                        "location": row[6],
                        "quantity": 0,
                        "shipped_at": row[7],
                        "tracking": [],
                        "serials": [],
                        "recorded_in": "shipment_lines",
                    }
                if found["recorded_in"] == "shipment_lines":  # no movement: count the lines
                    found["quantity"] = (
                        None if units is None or found["quantity"] is None
                        else found["quantity"] + units
                    )  # fmt: skip
                found["shipped_at"] = row[7]
                found["location"] = row[6]
                found["tracking"] = _json_list(row[8])
                found["serials"].extend(_json_list(row[4]))
        # a movement whose shipment line does not name the lot: the shipment's tracking still
        missing = sorted({sid for sid, _ in entries if sid not in lines})
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            for row in self._query(
                "SELECT shipment_id, tracking, shipped_at FROM shipments "  # noqa: S608 - placeholders only
                f"WHERE tenant = ? AND shipment_id IN ({_marks(chunk)})",
                [tenant, *chunk],
            ):
                for (sid, _), entry in entries.items():
                    if sid == str(row[0]):
                        entry["tracking"] = _json_list(row[1])
                        entry["shipped_at"] = row[2]
        return sorted(entries.values(), key=lambda e: (str(e["shipped_at"]), str(e["shipment_id"])))
