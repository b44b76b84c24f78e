"""Reading what release needs from the ledger: candidates and what each node released today.

Read-only SQL on a connection of its own (as :mod:`hub.reports` does), so planning never waits
behind the router's write lock and cannot change anything; the one write, the release itself,
goes through :meth:`hub.ledger.Ledger.apply` like every other message.

* **Candidates**: orders not released, not cancelled, in state ``allocated``,
  ``partially_allocated`` or ``on_hold``; one candidate per (order, location) of its reserved
  lines. The order snapshot (JSON) gives the service level, the promise, the placing time and the
  address to ship to. On-hold orders hold no reservation, so they are shown at the location their
  lines were last sourced to, with what they still have to ship.
* **Released today**: the ledger's ``order.released`` events (outbox). A release made by
  ``hub release run`` names its node's local day and wave in its request id; any other release
  counts on the local day of the event.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from canonical.party import Address
from hub.release.ids import parse_request_id
from hub.release.model import Candidate, CandidateLine, DayUsage
from hub.release.policy import ReleasePolicy
from hub.reports import Reports

__all__ = ["LedgerReader"]

_STATES = ("allocated", "partially_allocated", "on_hold")
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
            "AND state IN (?, ?, ?) ORDER BY tenant",
            _STATES,
        )
        return [str(row[0]) for row in rows]

    def candidates(self, tenant: str) -> list[Candidate]:
        """Every (order, location) part waiting for release (module doc)."""
        rows = self._query(
            _PARTS + "WHERE o.tenant = ? AND o.released = 0 AND o.cancelled = 0 "
            "AND o.state IN (?, ?, ?) ORDER BY o.order_key, l.line_id",
            (tenant, *_STATES),
        )
        orders: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            orders[str(row[0])].append(row)
        found: list[Candidate] = []
        for key, lines in orders.items():
            found.extend(_order_candidates(key, lines))
        return found

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
    for row in rows:
        line_id, sku, quantity, shipped, reserved, location, kind = row[6:13]
        if location is None or sku is None or kind != "stocked":
            continue
        outstanding = int(quantity) - int(shipped)
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
            fully_allocated=state == "allocated",
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
