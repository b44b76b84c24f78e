"""A simple in-memory model of the ledger, the test oracle of the model-based test.

It implements the documented semantics directly on dictionaries, built on
``canonical.movement_deltas`` and the same policies; a message that breaks an invariant leaves the
model unchanged and is ``rejected``. It covers the messages the property test generates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from canonical import (
    CycleCount,
    Envelope,
    MovementKind,
    Order,
    ReturnRequest,
    Shipment,
    StockMovement,
    movement_deltas,
)
from hub.ledger.policy import LedgerPolicy

BUCKETS = ("on_hand", "allocated", "in_transit", "returns_pending", "damaged")


class RejectedError(Exception):
    pass


@dataclass
class OLine:
    sku: str
    quantity: int
    reserved: int = 0
    shipped: int = 0
    returned: int = 0
    location: str | None = None
    status: str = "new"


@dataclass
class OOrder:
    version: int
    channel: str
    cancelled: bool
    lines: dict[str, OLine]


@dataclass
class State:
    positions: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    orders: dict[str, OOrder] = field(default_factory=dict)
    returns: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # received, inspected
    counts: dict[tuple[str, str], str] = field(default_factory=dict)


class Oracle:
    def __init__(
        self, policy: LedgerPolicy, locations: list[str], channels: list[str], backorder: set[str]
    ) -> None:
        self.policy = policy
        self.locations = locations  # in sourcing order (priority)
        self.channels = channels
        self.backorder = backorder
        self.keys: set[str] = set()
        self.state = State()

    # -- stock ---------------------------------------------------------------------------------

    def pos(self, state: State, sku: str, loc: str) -> dict[str, int]:
        return state.positions.setdefault((sku, loc), dict.fromkeys(BUCKETS, 0))

    def move(
        self,
        state: State,
        kind: MovementKind,
        sku: str,
        loc: str,
        qty: int,
        *,
        counterpart: str | None = None,
        disposition: object = None,
        check: bool = True,
    ) -> None:
        movement = StockMovement(
            tenant="acme",
            movement_id="m",
            kind=kind,
            sku=sku,
            location=loc,
            quantity=qty,
            counterpart_location=counterpart,
            disposition=disposition,
            occurred_at="2026-01-01T00:00:00Z",
        )  # type: ignore[arg-type]
        per_loc: dict[str, dict[str, int]] = {}
        for (location, bucket), delta in movement_deltas(movement).items():
            per_loc.setdefault(location, {})[bucket] = delta
        for location, deltas in per_loc.items():
            p = self.pos(state, sku, location)
            for bucket, delta in deltas.items():
                p[bucket] += delta
            if any(p[b] < 0 for b in BUCKETS):
                raise RejectedError("negative")
            frees = deltas.get("on_hand", 0) < 0 or deltas.get("allocated", 0) > 0
            if check and frees and sku not in self.backorder and p["on_hand"] < p["allocated"]:
                raise RejectedError("oversell")

    def _ship_line(self, state: State, location: str, line: OLine, qty: int) -> None:
        if line.reserved > 0 and line.location != location:
            assert line.location is not None
            self.move(
                state, MovementKind.RESERVATION_RELEASE, line.sku, line.location, line.reserved
            )
            line.reserved = 0
        if line.reserved < qty:
            self.move(
                state,
                MovementKind.RESERVATION,
                line.sku,
                location,
                qty - line.reserved,
                check=False,
            )
            line.reserved = qty
        self.move(state, MovementKind.SHIPMENT, line.sku, location, qty)
        line.reserved -= qty
        line.shipped += qty
        line.location = location

    def _ship_unordered(self, state: State, location: str, sku: str, qty: int) -> None:
        """Units beyond the order line left all the same: found stock first if the ledger had
        too few free, then reserved and shipped (hub.ledger.shipments)."""
        p = self.pos(state, sku, location)
        free = p["on_hand"] - p["allocated"]
        if free < qty:
            self.move(
                state, MovementKind.ADJUSTMENT, sku, location, qty - max(0, free), check=False
            )
        self.move(state, MovementKind.RESERVATION, sku, location, qty, check=False)
        self.move(state, MovementKind.SHIPMENT, sku, location, qty)

    def pool(self, state: State, sku: str) -> int:
        return sum(
            p["on_hand"] - p["allocated"] for (s, _), p in state.positions.items() if s == sku
        )

    def atp(self) -> dict[tuple[str, str], int]:
        skus = {s for s, _ in self.state.positions}
        return {
            (sku, ch): self.policy.channels.available(ch, self.pool(self.state, sku))
            for sku in skus
            for ch in self.channels
        }

    # -- orders --------------------------------------------------------------------------------

    def reconcile(self, state: State, key: str) -> None:
        order = state.orders[key]
        for line_id in sorted(order.lines, key=lambda lid: (order.lines[lid].sku, lid)):
            line = order.lines[line_id]
            outstanding = max(0, line.quantity - line.shipped)
            target = 0 if order.cancelled else outstanding
            if line.reserved != target or (target > 0 and line.status == "refused"):
                if line.reserved > 0:
                    assert line.location is not None
                    self.move(
                        state,
                        MovementKind.RESERVATION_RELEASE,
                        line.sku,
                        line.location,
                        line.reserved,
                    )
                    line.reserved = 0
                if target > 0:
                    self.source(state, order, line, target)
            if target == 0:
                line.status = "cancelled" if order.cancelled else "shipped"

    def source(self, state: State, order: OOrder, line: OLine, qty: int) -> None:
        avail = {
            loc: self.pos(state, line.sku, loc)["on_hand"]
            - self.pos(state, line.sku, loc)["allocated"]
            for loc in self.locations
        }
        channel_avail = self.policy.channels.available(order.channel, self.pool(state, line.sku))
        chosen = None
        if channel_avail >= qty:
            chosen = next((loc for loc in self.locations if avail[loc] >= qty), None)
        status = "allocated"
        if chosen is None:
            if line.sku in self.backorder:
                chosen, status = self.locations[0], "backordered"
            else:
                line.status, line.location = "refused", None
                return
        self.move(
            state, MovementKind.RESERVATION, line.sku, chosen, qty, check=status == "allocated"
        )
        line.reserved, line.location, line.status = qty, chosen, status

    # -- messages ------------------------------------------------------------------------------

    def apply(self, env: Envelope) -> str:
        if env.idempotency_key in self.keys:
            return "duplicate"
        state = copy.deepcopy(self.state)
        try:
            outcome = self._apply(state, env)
        except RejectedError:
            return "rejected"
        self.state = state
        self.keys.add(env.idempotency_key)
        return outcome

    def _apply(self, state: State, env: Envelope) -> str:
        p = env.payload
        if isinstance(p, StockMovement):
            self.move(
                state,
                p.kind,
                p.sku,
                p.location,
                p.quantity,
                counterpart=p.counterpart_location,
                disposition=p.disposition,
            )
            return "applied"
        if isinstance(p, Order):
            version = p.source_version or 0
            stored = state.orders.get(p.key)
            if stored is not None and version <= stored.version:
                return "stale"
            cancelled = env.event_type == "order.cancelled" or bool(stored and stored.cancelled)
            if stored is None:
                stored = state.orders[p.key] = OOrder(version, p.channel, cancelled, {})
            stored.version, stored.cancelled = version, cancelled
            for line in p.lines:
                assert line.sku is not None
                if line.line_id in stored.lines:
                    stored.lines[line.line_id].quantity = line.quantity
                else:
                    stored.lines[line.line_id] = OLine(line.sku, line.quantity)
            kept = {line.line_id for line in p.lines}
            for line_id, line in stored.lines.items():
                if line_id not in kept:
                    line.quantity = line.shipped
            self.reconcile(state, p.key)
            return "applied"
        if isinstance(p, Shipment):
            order = state.orders[p.order.key]
            for s in p.lines:
                assert s.line_id is not None
                line = order.lines[s.line_id]
                take = min(s.quantity, line.quantity - line.shipped)
                if take > 0:
                    self._ship_line(state, p.location, line, take)
                if s.quantity > take:  # shipped all the same: an extra_item exception
                    self._ship_unordered(state, p.location, s.sku, s.quantity - take)
            self.reconcile(state, p.order.key)
            return "applied"
        if isinstance(p, ReturnRequest):
            order = state.orders[p.order.key]
            assert p.location is not None
            for r in p.lines:
                line = order.lines[r.line_id]
                received, inspected = state.returns.setdefault((p.rma_id, r.line_id), [0, 0])
                if r.quantity > received:
                    delta = r.quantity - received
                    if line.returned + delta > line.shipped:
                        raise RejectedError("over-return")
                    self.move(state, MovementKind.RETURN_RECEIVED, line.sku, p.location, delta)
                    line.returned += delta
                    received = r.quantity
                if (
                    env.event_type == "return.inspected"
                    and r.disposition is not None
                    and received > inspected
                ):
                    self.move(
                        state,
                        MovementKind.INSPECTION,
                        line.sku,
                        p.location,
                        received - inspected,
                        disposition=r.disposition,
                    )
                    inspected = received
                state.returns[(p.rma_id, r.line_id)] = [received, inspected]
            return "applied"
        if isinstance(p, CycleCount):
            as_of = p.as_of.isoformat()
            applied = False
            for line in sorted(p.lines, key=lambda c: c.sku):
                if state.counts.get((line.sku, p.location), "") >= as_of:
                    continue
                applied = True
                pos = self.pos(state, line.sku, p.location)
                if line.quantity < pos["allocated"] and line.sku not in self.backorder:
                    raise RejectedError("count below allocated")
                variance = line.quantity - pos["on_hand"]
                if variance:
                    self.move(
                        state, MovementKind.ADJUSTMENT, line.sku, p.location, variance, check=False
                    )
                state.counts[(line.sku, p.location)] = as_of
            return "applied" if applied else "stale"
        raise AssertionError(f"the oracle does not model {env.event_type}")
