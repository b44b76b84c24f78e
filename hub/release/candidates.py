"""Reading what release needs from the ledger: candidates and what each node released today.

Read-only SQL on a connection of its own (as :mod:`hub.reports` does), so planning never waits
behind the router's write lock and cannot change anything; the one write, the release itself,
goes through :meth:`hub.ledger.Ledger.apply` like every other message.

* **Candidates**: orders not released, not cancelled, in state ``allocated``,
  ``partially_allocated``, ``on_hold`` or ``partially_shipped`` (the remainder of a request its
  node closed short); one candidate per (order, location) of its reserved
  lines. The order snapshot (JSON) gives the service level, the promise, the placing time and the
  address to ship to. On-hold orders hold no reservation, so they are shown at the location their
  lines were last sourced to, with what they still have to ship.
* **Lots**: each lot-controlled line is given the lots it would pick (first expiry first out
  among unexpired lots with free units); a line they cannot cover holds its order.
* **Released today**: the ledger's ``order.released`` events (outbox). A release made by
  ``hub release run`` names its node's local day and wave in its request id; any other release
  counts on the local day of the event.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from canonical.party import Address
from hub.ledger.lots import pick_fefo
from hub.ledger.work import ts as _ts
from hub.release.ids import parse_request_id
from hub.release.model import Candidate, CandidateLine, DayUsage
from hub.release.policy import ReleasePolicy
from hub.reports import Reports

__all__ = ["LedgerReader"]

#: States of an order waiting for release; ``partially_shipped`` is the remainder of a request the
#: node closed short (the ledger marks such an order not released again).
_STATES = ("allocated", "partially_allocated", "on_hold", "partially_shipped")
_CHUNK = 500
_PARTS = (
    "SELECT o.order_key, o.channel, o.external_id, o.state, o.on_hold, o.snapshot, "
    "l.line_id, l.sku, l.quantity, l.shipped, l.reserved, l.location, l.fulfillment_type "
    "FROM orders o JOIN order_lines l ON l.tenant = o.tenant AND l.order_key = o.order_key "
)


@dataclass(slots=True)
class _Usage:
    orders: set[str] = field(default_factory=set)
    waves: int = 0


class LedgerReader(Reports):
    """Read-only queries for release over one ledger database (its own connection), on the
    same footing as the dashboard's reports."""

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def active_deployment(self) -> str | None:
        """The deployment document last made active (``hub deploy``, ``hub run --config``)."""
        from hub.deployments import DeploymentStore

        with self._lock:
            active = DeploymentStore(self._db).active()
        return active.document if active is not None else None

    def waiting_tenants(self) -> list[str]:
        """Tenants with an order waiting for release."""
        rows = self._query(
            "SELECT DISTINCT tenant FROM orders WHERE released = 0 AND cancelled = 0 "
            "AND state IN (?, ?, ?, ?) ORDER BY tenant",
            _STATES,
        )
        return [str(row[0]) for row in rows]

    def candidates(self, tenant: str, now: datetime | None = None) -> list[Candidate]:
        """Every (order, location) part waiting for release (module doc)."""
        rows = self._query(
            _PARTS + "WHERE o.tenant = ? AND o.released = 0 AND o.cancelled = 0 "
            "AND o.state IN (?, ?, ?, ?) ORDER BY o.order_key, l.line_id",
            (tenant, *_STATES),
        )
        orders: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            orders[str(row[0])].append(row)
        found: list[Candidate] = []
        for key, lines in orders.items():
            found.extend(_order_candidates(key, lines))
        return self._pick_lots(tenant, found, now or datetime.now(UTC))

    def _pick_lots(
        self, tenant: str, candidates: list[Candidate], now: datetime
    ) -> list[Candidate]:
        """Name the lots each lot-controlled line would pick: first expiry first out among the
        node's unexpired lots, less what released requests committed and what earlier-placed
        candidates of this plan were given. A line the lots cannot cover gives its candidate a
        ``lot_problem`` (the planner holds it)."""
        skus = sorted({line.sku for c in candidates for line in c.lines})
        controlled: set[str] = set()
        for start in range(0, len(skus), _CHUNK):
            chunk = skus[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            controlled.update(
                str(row[0])
                for row in self._query(
                    "SELECT sku FROM skus WHERE tenant = ? AND tracking = 'lot' "  # noqa: S608 - placeholders only
                    f"AND sku IN ({marks})",
                    (tenant, *chunk),
                )
            )
        if not controlled:
            return candidates
        free: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
        for sku, location, lot, on_hand, committed, expires in self._query(
            "SELECT sku, location, lot, on_hand, committed, expires_at FROM lot_stock "
            "WHERE tenant = ? AND on_hand > committed ORDER BY sku, location, lot",
            (tenant,),
        ):
            free[(str(sku), str(location))].append(
                [str(lot), int(on_hand) - int(committed), expires]
            )
        picked: list[Candidate] = []
        for candidate in sorted(candidates, key=lambda c: (c.placed_at, c.order_key, c.location)):
            lines: list[CandidateLine] = []
            problem: str | None = None
            for line in candidate.lines:
                if line.sku not in controlled:
                    lines.append(line)
                    continue
                pool = free[(line.sku, candidate.location)]
                picks = pick_fefo(
                    [(lot, units, exp) for lot, units, exp in pool], line.quantity, now
                )
                if picks is None:
                    usable = sum(units for _, units, exp in pool if exp is None or exp > _ts(now))
                    problem = problem or (
                        f"{line.sku} is lot-controlled and {candidate.location} has {usable} "
                        f"unexpired units free in its lots for {line.quantity}"
                    )
                    lines.append(line)
                    continue
                taken = {pick.lot: pick.quantity for pick in picks}
                for entry in pool:
                    entry[1] -= taken.get(entry[0], 0)
                lines.append(
                    replace(
                        line,
                        lots=tuple((pick.lot, pick.quantity, pick.expires_at) for pick in picks),
                    )
                )
            picked.append(replace(candidate, lines=tuple(lines), lot_problem=problem))
        order = {(c.order_key, c.location): index for index, c in enumerate(candidates)}
        return sorted(picked, key=lambda c: order[(c.order_key, c.location)])

    def request_lines(
        self, tenant: str, request_id: str
    ) -> list[tuple[str, str, int, str | None, str | None]]:
        """A stored request's lines as released: (line id, SKU, quantity, lot, lot expiry)."""
        return [
            (str(r[0]), str(r[1]), int(r[2]), r[3], r[4])
            for r in self._query(
                "SELECT l.line_id, l.sku, l.quantity, l.lot, s.expires_at "
                "FROM fulfilment_request_lines l JOIN fulfilment_requests r "
                "ON r.tenant = l.tenant AND r.request_id = l.request_id "
                "LEFT JOIN lot_stock s ON s.tenant = l.tenant AND s.sku = l.sku "
                "AND s.location = r.location AND s.lot = l.lot "
                "WHERE l.tenant = ? AND l.request_id = ? ORDER BY l.seq",
                (tenant, request_id),
            )
        ]

    def part(self, tenant: str, order_key: str, location: str) -> Candidate | None:
        """An order's part at ``location`` as it stands now, released or not: what a node's
        connector is asked to ship after the release (see :func:`hub.release.run.request_for`)."""
        rows = self._query(
            _PARTS + "WHERE o.tenant = ? AND o.order_key = ? ORDER BY l.line_id",
            (tenant, order_key),
        )
        if not rows:
            return None
        return next((c for c in _order_candidates(order_key, rows) if c.location == location), None)

    def released_today(
        self, tenant: str, policy: ReleasePolicy, now: datetime
    ) -> dict[str, DayUsage]:
        """Per location: orders, units and waves released on its current local day."""
        usage: dict[str, _Usage] = defaultdict(_Usage)
        rows = self._query(
            "SELECT payload, created_at FROM outbox WHERE tenant = ? AND event_type = ? "
            "ORDER BY id",
            (tenant, "order.released"),
        )
        for payload_text, created_at in rows:
            payload = json.loads(payload_text)
            location = str(payload.get("location") or "")
            if not location:
                continue
            today = now.astimezone(policy.location(location).zone).date()
            parsed = parse_request_id(str(payload.get("request_id") or ""))
            if parsed is not None:
                if parsed.location != location or parsed.day != today:
                    continue
                usage[location].waves = max(usage[location].waves, parsed.wave)
            else:
                moment = datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                if moment.astimezone(policy.location(location).zone).date() != today:
                    continue
            usage[location].orders.add(str(payload.get("order")))
        units = self._units(tenant, usage)
        return {
            location: DayUsage(
                orders=len(used.orders), units=units.get(location, 0), waves=used.waves
            )
            for location, used in usage.items()
        }

    def _units(self, tenant: str, usage: dict[str, _Usage]) -> dict[str, int]:
        """Units of the released orders' lines at each location."""
        totals: dict[str, int] = defaultdict(int)
        for location, used in usage.items():
            keys = sorted(used.orders)
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ", ".join("?" for _ in chunk)
                rows = self._query(
                    "SELECT SUM(quantity) FROM order_lines WHERE tenant = ? "  # noqa: S608 - placeholders only
                    f"AND location = ? AND order_key IN ({marks})",
                    (tenant, location, *chunk),
                )
                totals[location] += int(rows[0][0] or 0)
        return totals


def _order_candidates(key: str, rows: list[Any]) -> list[Candidate]:
    """One candidate per location of an order's lines that have something to release."""
    first = rows[0]
    channel, external_id, state, on_hold_flag, snapshot_text = (str(v) for v in first[1:6])
    on_hold = state == "on_hold" or bool(int(on_hold_flag or 0))
    snapshot = json.loads(snapshot_text) if snapshot_text else {}
    per_location: dict[str, list[CandidateLine]] = defaultdict(list)
    short_reserved = False
    for row in rows:
        line_id, sku, quantity, shipped, reserved, location, kind = row[6:13]
        if location is None or sku is None or kind != "stocked":
            continue
        outstanding = int(quantity) - int(shipped)
        short_reserved = short_reserved or int(reserved) < outstanding
        amount = outstanding if on_hold else int(reserved)
        if amount > 0:
            per_location[str(location)].append(CandidateLine(str(line_id), str(sku), amount))
    return [
        Candidate(
            order_key=key,
            channel=channel,
            external_id=external_id,
            location=location,
            lines=tuple(lines),
            placed_at=_moment(snapshot.get("placed_at")) or datetime.now(UTC),
            service_level=snapshot.get("service_level"),
            promised_by=_moment(snapshot.get("promised_by")),
            on_hold=on_hold,
            fully_allocated=state == "allocated"
            or (state == "partially_shipped" and not short_reserved),
            ship_to=_address(snapshot.get("shipping_address")),
        )
        for location, lines in sorted(per_location.items())
    ]


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _address(value: Any) -> Address | None:
    if not isinstance(value, dict):
        return None
    try:
        return Address.model_validate(value)
    except ValidationError:
        return None
