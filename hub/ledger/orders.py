"""Orders in the ledger: newest-snapshot-wins, reservations per line, shipments and release.

Reservation rule (one place, :func:`reconcile`): each stocked line should hold a reservation equal
to its outstanding quantity (ordered - shipped; zero once cancelled or while reservation waits for
payment or a hold). When a line's reservation differs from that target, the old one is released
and the outstanding quantity is sourced again. A line row is UNIQUE per (tenant, order, line), so
a line is never reserved twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from canonical import (
    Envelope,
    MovementKind,
    Order,
    Shipment,
)
from canonical.order import FulfillmentType, PaymentStatus
from hub.ledger.errors import OrderNotYetKnownError, UnknownSkuError
from hub.ledger.lots import expired_on_hand
from hub.ledger.sourcing import choose_location, rank_locations
from hub.ledger.work import Work, now_text, ts

__all__ = [
    "apply_order",
    "history",
    "note_returned",
    "prefetch",
    "reconcile",
]

_PAID = {PaymentStatus.AUTHORIZED, PaymentStatus.PAID, PaymentStatus.PARTIALLY_PAID}


@dataclass(slots=True)
class Line:
    line_id: str
    sku: str | None
    quantity: int
    fulfillment_type: str
    location: str | None
    reserved: int
    shipped: int
    returned: int
    status: str


_LINE_COLUMNS = (
    "line_id, sku, quantity, fulfillment_type, location, reserved, shipped, returned, status"
)


def load_lines(work: Work, tenant: str, order_key: str) -> list[Line]:
    cached = work.cached_lines.get((tenant, order_key))
    if cached is not None:  # copies: a line changes in the cache only when it is saved
        return [
            replace(line)
            for line in sorted(
                cached.values(), key=lambda line: (line.sku is None, line.sku or "", line.line_id)
            )
        ]
    rows = work.db.query(
        f"SELECT {_LINE_COLUMNS} FROM order_lines WHERE tenant = ? AND order_key = ? "  # noqa: S608
        "ORDER BY sku, line_id",
        (tenant, order_key),
    )
    return [
        Line(r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), int(r[6]), int(r[7]), r[8]) for r in rows
    ]


_LINE_UPSERT = (
    "INSERT INTO order_lines (tenant, order_key, line_id, sku, quantity, fulfillment_type, "
    "location, reserved, shipped, returned, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant, order_key, line_id) DO UPDATE SET sku = excluded.sku, "
    "quantity = excluded.quantity, fulfillment_type = excluded.fulfillment_type, "
    "location = excluded.location, reserved = excluded.reserved, shipped = excluded.shipped, "
    "returned = excluded.returned, status = excluded.status"
)


def _line_row(tenant: str, order_key: str, line: Line) -> tuple[Any, ...]:
    return (
        tenant,
        order_key,
        line.line_id,
        line.sku,
        line.quantity,
        line.fulfillment_type,
        line.location,
        line.reserved,
        line.shipped,
        line.returned,
        line.status,
    )


def save_line(work: Work, tenant: str, order_key: str, line: Line) -> None:
    """Write a line as it is now (an upsert: new lines are first written here, once sourced).

    In the optimistic pass the batch copy is the line's state, and the row is written once, with
    its final state, when the batch ends (:func:`flush_lines`), not once per change."""
    cached = work.cached_lines.get((tenant, order_key))
    if cached is not None:
        work.remember("lines", (tenant, order_key))
        cached[line.line_id] = replace(line)
        if work.optimistic:
            work.dirty_lines.add((tenant, order_key, line.line_id))
            work.batch_flushes.setdefault("order_lines", flush_lines)
            return
    work.db.execute(_LINE_UPSERT, _line_row(tenant, order_key, line))


def flush_lines(work: Work) -> None:
    """Write every order line the batch changed, as the batch copy holds it now (one statement
    for the batch; lines a rolled-back message created are no longer in the copy)."""
    rows = []
    for tenant, order_key, line_id in sorted(work.dirty_lines):
        line = work.cached_lines.get((tenant, order_key), {}).get(line_id)
        if line is not None:
            rows.append(_line_row(tenant, order_key, line))
    work.dirty_lines.clear()
    if rows:
        work.db.executemany(_LINE_UPSERT, rows)


def note_returned(work: Work, tenant: str, order_key: str, line: Line) -> None:
    """Write a line's returned quantity (and keep the batch's copy current)."""
    work.db.execute(
        "UPDATE order_lines SET returned = ? WHERE tenant = ? AND order_key = ? AND line_id = ?",
        (line.returned, tenant, order_key, line.line_id),
    )
    cached = work.cached_lines.get((tenant, order_key))
    if cached is not None and line.line_id in cached:
        work.remember("lines", (tenant, order_key))
        cached[line.line_id].returned = line.returned


_ORDER_KEYS = (
    "total_minor",
    "source_version",
    "updated_at",
    "state",
    "cancelled",
    "on_hold",
    "released",
    "payment_status",
    "captured_minor",
    "refunded_minor",
    "currency",
    "ship_region",
    "channel",
)
_ORDER_COLUMNS = ", ".join(_ORDER_KEYS)


def lock_order(work: Work, tenant: str, order_key: str) -> dict[str, Any] | None:
    """The order row, locked until commit, or None.

    In the optimistic pass an order of the batch comes from the batch's copy, and the caller's
    changes to the returned dict are the changes it writes (state, money, flags), so the copy
    stays current for the next message of the batch.
    """
    if (tenant, order_key) in work.cached_orders:
        work.remember("order", (tenant, order_key))
        return work.cached_orders[(tenant, order_key)]
    rows = work.db.query(
        f"SELECT {_ORDER_COLUMNS} FROM orders "  # noqa: S608 - fixed SQL; values are parameters
        "WHERE tenant = ? AND order_key = ?" + work.db.for_update,
        (tenant, order_key),
    )
    if not rows:
        return None
    return dict(zip(_ORDER_KEYS, rows[0], strict=True))


def _payload_skus(payload: Any) -> list[str]:
    sku = getattr(payload, "sku", None)
    skus = [sku] if isinstance(sku, str) else []
    for line in getattr(payload, "lines", None) or ():
        line_sku = getattr(line, "sku", None)
        if isinstance(line_sku, str):
            skus.append(line_sku)
    return skus


def prefetch(work: Work, envelopes: list[Envelope]) -> None:
    """The optimistic pass's reads, for the whole batch, in a few statements.

    Per tenant: its locations; the SKUs' master data; the orders named by the batch, locked in key order; for
    the ones not stored yet, the order keys' advisory locks (key order) and a second look, then
    which of them have parked messages; the stored orders' lines; and every position row of the
    SKUs the batch names or its orders' lines hold, locked in (SKU, location) order. Messages
    then read these copies instead of the database, and the locks are taken in one order by
    every worker. Anything the batch touches that is not here is read as usual.
    """
    by_tenant: dict[str, tuple[set[str], set[str]]] = {}
    shipments: dict[str, list[Shipment]] = {}
    for envelope in envelopes:
        keys, skus = by_tenant.setdefault(envelope.tenant, (set(), set()))
        key = envelope.order_key
        if key is not None:
            keys.add(key)
        skus.update(_payload_skus(envelope.payload))
        if isinstance(envelope.payload, Shipment):
            shipments.setdefault(envelope.tenant, []).append(envelope.payload)
    _prefetch_fulfilment(work, shipments)
    for tenant, (keys, skus) in by_tenant.items():
        # read now, not by the first message that needs them: a read after a message's held
        # writes would make it take its savepoint (see ``PostgresDialect.arm_savepoint``)
        work.locations(tenant)
        ordered = sorted(keys)
        for key, row in _select_orders(work, tenant, ordered).items():
            work.cached_orders[(tenant, key)] = row
        missing = [key for key in ordered if work.cached_orders[(tenant, key)] is None]
        if missing:
            if work.db.name == "postgres":
                work.db.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                    "FROM (SELECT unnest(?::text[]) AS k ORDER BY 1) AS keys",
                    ([f"{tenant}\x1f{key}" for key in missing],),
                )
            work.key_locked.update((tenant, key) for key in missing)
            for key, row in _select_orders(work, tenant, missing).items():
                work.cached_orders[(tenant, key)] = row
            for key in missing:
                work.parked_for[(tenant, key)] = False
            for (parked_key,) in work.select_in(
                "SELECT DISTINCT order_key FROM parked_messages WHERE tenant = ? "
                "AND status = 'parked' AND order_key IN ({marks})",
                tenant,
                missing,
            ):
                work.parked_for[(tenant, parked_key)] = True
        stored = [key for key in ordered if work.cached_orders[(tenant, key)] is not None]
        for key in stored:
            work.cached_lines[(tenant, key)] = {}
        for line_key, *r in work.select_in(
            f"SELECT order_key, {_LINE_COLUMNS} FROM order_lines WHERE tenant = ? "  # noqa: S608 - fixed SQL; values are parameters
            "AND order_key IN ({marks})",
            tenant,
            stored,
        ):
            line = Line(r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), int(r[6]), int(r[7]), r[8])
            work.cached_lines[(tenant, line_key)][line.line_id] = line
            if line.sku is not None:
                skus.add(line.sku)
        work.prefetch_skus(tenant, sorted(skus))
        known = [sku for sku in skus if work.known_sku(tenant, sku)]
        work.prefetch_positions(tenant, known)
    for absent in [pair for pair, stored_row in work.cached_orders.items() if stored_row is None]:
        work.cached_lines.setdefault(absent, {})


def _prefetch_fulfilment(work: Work, shipments: dict[str, list[Shipment]]) -> None:
    """Which of the batch's shipments are recorded already, and which of their orders have an
    open fulfilment request: two statements per batch, so a shipment of an order the hub did not
    release (most of them, where a channel or 3PL ships by itself) reads nothing of its own."""
    work.shipments_known, work.orders_with_requests = set(), set()
    for tenant, payloads in shipments.items():
        ids = sorted({shipment.shipment_id for shipment in payloads})
        work.shipments_known.update(
            (tenant, str(row[0]))
            for row in work.select_in(
                "SELECT shipment_id FROM shipments WHERE tenant = ? AND shipment_id IN ({marks})",
                tenant,
                ids,
            )
        )
        keys = sorted({shipment.order.key for shipment in payloads})
        work.orders_with_requests.update(
            (tenant, str(row[0]))
            for row in work.select_in(
                "SELECT DISTINCT order_key FROM fulfilment_requests WHERE tenant = ? "
                "AND status IN ('open', 'partially_shipped') AND order_key IN ({marks})",
                tenant,
                keys,
            )
        )


def _select_orders(work: Work, tenant: str, keys: list[str]) -> dict[str, dict[str, Any] | None]:
    """The orders of ``keys`` (None for the ones not stored), locked in key order."""
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
    for order_key, *values in work.select_in(
        f"SELECT order_key, {_ORDER_COLUMNS} FROM orders WHERE tenant = ? "  # noqa: S608 - fixed SQL; values are parameters
        "AND order_key IN ({marks}) ORDER BY order_key" + work.db.for_update,
        tenant,
        keys,
    ):
        found[order_key] = dict(zip(_ORDER_KEYS, values, strict=True))
    return found


def lock_order_key(work: Work, tenant: str, order_key: str) -> None:
    """Serialise "is this order known?" decisions for one order key until the transaction ends.

    A message for an unknown order is parked, and the transaction that first stores the order
    re-applies what is parked. On PostgreSQL (READ COMMITTED) two workers could otherwise pass
    each other: one parks while the other, not yet seeing the parked row, stores the order, and the
    parked message would wait forever. Both take this lock before their final look at the order.
    SQLite needs nothing: ``BEGIN IMMEDIATE`` already serialises writers.
    """
    if work.db.name == "postgres" and (tenant, order_key) not in work.key_locked:
        work.db.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"{tenant}\x1f{order_key}",)
        )
        if work.optimistic:  # the isolated pass does not track them
            work.remember("key_locked", (tenant, order_key))
            work.key_locked.add((tenant, order_key))


def require_order(work: Work, tenant: str, order_key: str) -> dict[str, Any]:
    """The locked order row; :class:`OrderNotYetKnownError` if the ledger has not seen it.

    Handlers call this before any effect, so a message refused here changed nothing and can be
    parked as it is (see :mod:`hub.ledger.parking`).
    """
    order = lock_order(work, tenant, order_key)
    if order is None and (tenant, order_key) not in work.cached_orders:
        lock_order_key(work, tenant, order_key)
        order = lock_order(work, tenant, order_key)
    if order is None:
        raise OrderNotYetKnownError(
            f"order {order_key!r} is not in the ledger yet; it must arrive before its shipments, "
            "payments and returns",
            tenant=tenant,
            order_key=order_key,
        )
    return order


def history(work: Work, tenant: str, order_key: str, event: str, state: str, detail: str) -> None:
    """Append to the order's timeline (written with the batch, dropped with a rejected message)."""
    work.defer(
        "INSERT INTO order_history (tenant, order_key, at, event, state, detail, message_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (tenant, order_key, now_text(), event, state, detail, work.message_id),
    )


def _resolve_sku(work: Work, order: Order, index: int) -> str:
    line = order.lines[index]
    if line.sku is not None:
        try:
            return work.sku(order.tenant, line.sku).sku
        except UnknownSkuError:
            pass
    mapped = work.resolve_external(
        order.tenant, order.channel, [line.variant_id, line.sku, line.product_id]
    )
    if mapped is None:
        ids = (
            ", ".join(
                f"{name}={value!r}"
                for name, value in (
                    ("sku", line.sku),
                    ("variant_id", line.variant_id),
                    ("product_id", line.product_id),
                )
                if value
            )
            or "no ids"
        )
        raise UnknownSkuError(
            f"order {order.key} line {line.line_id} ({ids}) maps to no SKU of tenant "
            f"{order.tenant!r} on channel {order.channel!r}; map it with `hub catalog import`"
        )
    return work.sku(order.tenant, mapped).sku


def _version(source_version: int | None, updated_at: str) -> tuple[int, str]:
    return (-1 if source_version is None else int(source_version), updated_at)


def apply_order(work: Work, envelope: Envelope) -> str:
    """Apply an order snapshot; returns ``applied`` or ``stale``."""
    order = envelope.payload
    assert isinstance(order, Order)
    tenant, key = order.tenant, order.key
    skus = [_resolve_sku(work, order, i) for i in range(len(order.lines))]
    region = order.shipping_address.region if order.shipping_address else None
    cancelled = envelope.event_type == "order.cancelled" or order.cancelled_at is not None
    snapshot = order.model_dump_json()
    stored = lock_order(work, tenant, key)
    if stored is None and (tenant, key) not in work.cached_orders:
        # a first snapshot: decide it against messages parked for this order (the batch's
        # prefetch already took the key's lock and looked again)
        lock_order_key(work, tenant, key)
        stored = lock_order(work, tenant, key)
    if stored is not None and _version(order.source_version, ts(order.updated_at)) <= _version(
        stored["source_version"], stored["updated_at"]
    ):
        return "stale"
    values = (
        order.source_version,
        ts(order.updated_at),
        int(cancelled or bool(stored and stored["cancelled"])),
        _payment_status(order.payment_status, stored),
        order.currency,
        order.totals.total.minor_units,
        region,
        snapshot,
    )
    if stored is None:
        work.db.execute(
            "INSERT INTO orders (source_version, updated_at, cancelled, payment_status, currency, "
            "total_minor, ship_region, snapshot, tenant, order_key, channel, external_id, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'captured')",
            (*values, tenant, key, order.channel, order.external_id),
        )
        history(work, tenant, key, envelope.event_type, "captured", "order captured")
        work.new_orders.append((tenant, key))
        stored = {
            "state": "captured",
            "on_hold": 0,
            "released": 0,
            "captured_minor": 0,
            "refunded_minor": 0,
            "channel": order.channel,
        }
        if (tenant, key) in work.cached_orders:
            work.cached_orders[(tenant, key)] = stored  # filled in below, as the row is
        existing: dict[str, Line] = {}
    else:
        work.db.execute(
            "UPDATE orders SET source_version = ?, updated_at = ?, cancelled = ?, "
            "payment_status = ?, currency = ?, total_minor = ?, ship_region = ?, snapshot = ? "
            "WHERE tenant = ? AND order_key = ?",
            (*values, tenant, key),
        )
        existing = {line.line_id: line for line in load_lines(work, tenant, key)}
    names = "source_version updated_at cancelled payment_status currency total_minor ship_region"
    stored.update(zip(names.split(), values, strict=False))
    lines = dict(existing)
    for line, sku in zip(order.lines, skus, strict=True):
        if line.line_id in lines:
            kept_line = lines[line.line_id]
            kept_line.sku, kept_line.quantity = sku, line.quantity
            kept_line.fulfillment_type = line.fulfillment_type.value
        else:
            lines[line.line_id] = Line(
                line.line_id, sku, line.quantity, line.fulfillment_type.value, None, 0, 0, 0, "new"
            )
    kept = {line.line_id for line in order.lines}
    for line_id in existing.keys() - kept:  # a line removed from the order: nothing to reserve
        lines[line_id].quantity = lines[line_id].shipped
    reconcile(work, tenant, key, envelope.event_type, order=stored, lines=list(lines.values()))
    return "applied"


def _payment_status(status: PaymentStatus, stored: dict[str, Any] | None) -> str:
    """The channel's payment status, except that a snapshot still saying ``pending`` does not
    undo a payment the ledger already saw (a payment event can beat the order's own update)."""
    if stored is not None and status is PaymentStatus.PENDING:
        return str(stored["payment_status"])
    return status.value


def _payment_ready(work: Work, order: dict[str, Any]) -> bool:
    if work.policy.reservation.reserve_at == "capture":
        return True
    return PaymentStatus(order["payment_status"]) in _PAID or int(order["captured_minor"]) > 0


def reconcile(
    work: Work,
    tenant: str,
    key: str,
    event: str,
    *,
    order: dict[str, Any] | None = None,
    lines: list[Line] | None = None,
) -> None:
    """Bring every line's reservation to its target, record decisions, update the order state.

    ``order`` and ``lines`` are the locked order row and its lines when the caller already holds
    them (an order snapshot builds them in memory); otherwise they are read. Every line is written
    back, in (SKU, line) order, which is also the order positions are locked in.
    """
    if order is None:
        order = require_order(work, tenant, key)
    if lines is None:
        lines = load_lines(work, tenant, key)
    lines = sorted(lines, key=lambda line: (line.sku or "", line.line_id))
    stocked = [line for line in lines if line.fulfillment_type == FulfillmentType.STOCKED.value]
    cancelled = bool(order["cancelled"])
    hold = (
        not cancelled
        and work.policy.reservation.mixed_orders == "hold"
        and bool(stocked)
        and len(stocked) < len(lines)
    )
    ready = not cancelled and not hold and _payment_ready(work, order)
    allocated: list[dict[str, Any]] = []
    backordered: list[dict[str, Any]] = []
    released: list[dict[str, Any]] = []
    for line in lines:
        if line.fulfillment_type != FulfillmentType.STOCKED.value:
            line.status = "cancelled" if cancelled else "awaiting_supply"
            save_line(work, tenant, key, line)
            continue
        assert line.sku is not None
        outstanding = max(0, line.quantity - line.shipped)
        target = outstanding if ready else 0
        if line.reserved != target or (target > 0 and line.status == "refused"):
            if line.reserved > 0:
                assert line.location is not None
                work.move(
                    tenant,
                    MovementKind.RESERVATION_RELEASE,
                    line.sku,
                    line.location,
                    line.reserved,
                    reference=f"{key}/{line.line_id}",
                    reason="cancelled" if cancelled else "reservation changed",
                )
                released.append(
                    {
                        "line_id": line.line_id,
                        "sku": line.sku,
                        "quantity": line.reserved,
                        "location": line.location,
                    }
                )
                line.reserved = 0
            if target > 0:
                _source(work, tenant, key, order, line, target, allocated, backordered)
        if target == 0:
            if cancelled:
                line.status = "cancelled"
            elif outstanding == 0:
                line.status = "shipped"
            elif hold:
                line.status = "on_hold"
            else:
                line.status = "awaiting_payment"
        save_line(work, tenant, key, line)
    if allocated:
        work.emit(tenant, "order.allocated", key, {"order": key, "lines": allocated})
    if backordered:
        work.emit(tenant, "order.backordered", key, {"order": key, "lines": backordered})
    if released:
        work.emit(tenant, "reservation.released", key, {"order": key, "lines": released})
    _update_state(work, tenant, key, order, lines, hold=hold, ready=ready, event=event)


def _source(
    work: Work,
    tenant: str,
    key: str,
    order: dict[str, Any],
    line: Line,
    quantity: int,
    allocated: list[dict[str, Any]],
    backordered: list[dict[str, Any]],
) -> None:
    assert line.sku is not None
    positions = work.lock_positions(tenant, line.sku)
    ranked = rank_locations(work.locations(tenant), order["ship_region"], work.policy.sourcing)
    channel = order["channel"]
    backorder = (
        work.sku(tenant, line.sku).backorder_allowed
        and channel not in work.policy.reservation.refuse_backorder_channels
    )
    expired = (
        expired_on_hand(work, tenant, line.sku)
        if work.sku(tenant, line.sku).tracking == "lot"
        else {}
    )
    channel_available = work.policy.channels.available(
        channel, work.pool(positions) - sum(expired.values())
    )
    decision = choose_location(
        ranked,
        {loc: p.available - expired.get(loc, 0) for loc, p in positions.items()},
        quantity,
        channel_available=channel_available,
        backorder=backorder,
    )
    work.defer(
        "INSERT INTO sourcing_decisions (tenant, order_key, line_id, location, quantity, outcome, "
        "reason, message_id, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            key,
            line.line_id,
            decision.location,
            quantity,
            decision.outcome,
            decision.reason,
            work.message_id,
            now_text(),
        ),
    )
    entry = {
        "line_id": line.line_id,
        "sku": line.sku,
        "quantity": quantity,
        "location": decision.location,
        "reason": decision.reason,
    }
    if decision.location is None:
        line.status = "refused"
        line.location = None
        backordered.append(entry)
        return
    work.move(
        tenant,
        MovementKind.RESERVATION,
        line.sku,
        decision.location,
        quantity,
        reference=f"{key}/{line.line_id}",
        reason=decision.reason,
        check_oversell=decision.outcome == "allocated",
    )
    line.reserved = quantity
    line.location = decision.location
    line.status = decision.outcome
    (allocated if decision.outcome == "allocated" else backordered).append(entry)


def _update_state(
    work: Work,
    tenant: str,
    key: str,
    order: dict[str, Any],
    lines: list[Line],
    *,
    hold: bool,
    ready: bool,
    event: str,
) -> None:
    stocked = [line for line in lines if line.fulfillment_type == FulfillmentType.STOCKED.value]
    shipped = [line for line in stocked if line.shipped > 0]
    if order["cancelled"]:
        state = "cancelled"
    elif hold:
        state = "on_hold"
    elif shipped and all(line.shipped >= line.quantity for line in stocked):
        state = "shipped"
    elif shipped:
        state = "partially_shipped"
    elif order["released"]:
        state = "released"
    elif not ready:
        state = "captured"
    elif not stocked:
        state = "validated"
    else:
        statuses = {line.status for line in stocked if line.quantity > line.shipped}
        if statuses <= {"allocated"}:
            state = "allocated"
        elif "allocated" in statuses:
            state = "partially_allocated"
        else:
            state = "backordered"
    if state != order["state"]:
        history(work, tenant, key, event, state, f"{order['state']} -> {state}")
        order["state"] = state
        if work.optimistic and work.cached_orders.get((tenant, key)) is order:
            # the batch copy is the order's state: written once when the batch ends
            work.dirty_states.add((tenant, key))
            work.batch_flushes.setdefault("order_states", flush_states)
        else:
            work.db.execute(
                "UPDATE orders SET state = ? WHERE tenant = ? AND order_key = ?",
                (state, tenant, key),
            )


def flush_states(work: Work) -> None:
    """Write the state of every order the batch moved, as the batch copy holds it now, in one
    statement (an order a rolled-back message created is no longer in the copy)."""
    rows = []
    for tenant, key in sorted(work.dirty_states):
        order = work.cached_orders.get((tenant, key))
        if order is not None:
            rows.append((tenant, key, order["state"]))
    work.dirty_states.clear()
    if rows and work.db.name != "postgres":  # only PostgreSQL's pass keeps a batch copy today
        work.db.executemany(
            "UPDATE orders SET state = ? WHERE tenant = ? AND order_key = ?",
            [(state, tenant, key) for tenant, key, state in rows],
        )
    elif rows:
        tenants, keys, states = (list(column) for column in zip(*rows, strict=True))
        work.db.execute(
            "UPDATE orders AS o SET state = v.state "
            "FROM unnest(?::text[], ?::text[], ?::text[]) AS v(tenant, order_key, state) "
            "WHERE o.tenant = v.tenant AND o.order_key = v.order_key",
            (tenants, keys, states),
        )


def order_snapshot(text: str) -> dict[str, Any]:
    return dict(json.loads(text))
