"""Lot-controlled stock: what each lot holds at each location, when it expires, what releases
have committed of it, and every change to it (the forward trace of a lot).

A lot-controlled SKU keeps its usual position row (on hand, allocated, ...) and, beside it, one
``lot_stock`` row per (location, lot). The position says how many units there are; the lots say
which ones. Two rules follow from that split:

* **Expired lots are not allocatable**: sourcing and the channels' available-to-promise subtract
  the units of lots expired at that moment (:func:`expired_on_hand`), so an order is never
  allocated stock that may not ship, without a sweep having to run first.
* **Release names its lots**: a fulfilment request line of a lot-controlled SKU carries the lot to
  pick, chosen first-expiry-first-out among unexpired lots with free units (on hand less
  committed); the ledger refuses a request that names none, an expired one, or more than is free
  (:func:`commit`). Committed units are freed again when they ship, or when the request is
  closed short or cancelled.

Every function runs inside the ledger's transaction (``work``), so a lot change commits or rolls
back with the message that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canonical import Lot
from hub.ledger.errors import InvalidMessageError
from hub.ledger.work import Work, now_text, ts

__all__ = [
    "LotPick",
    "commit",
    "consume",
    "count_lot",
    "expired_on_hand",
    "expired_pools",
    "pick_fefo",
    "record_lot_change",
    "refresh_expired",
    "uncommit",
]

_MOVEMENT_INSERT = (
    "INSERT INTO lot_movements (tenant, sku, location, lot, quantity, kind, reference, "
    "order_key, shipment_id, message_id, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class LotPick:
    """Units of one lot chosen for a request line."""

    lot: str
    quantity: int
    expires_at: str | None


def record_lot_change(
    work: Work,
    tenant: str,
    sku: str,
    location: str,
    lot: Lot | str,
    delta: int,
    kind: str,
    *,
    reference: str | None = None,
    order_key: str | None = None,
    shipment_id: str | None = None,
) -> None:
    """Add ``delta`` units to a lot at a location (creating its row), and journal the change.

    The lot's on-hand may go below zero: a shipment or count is what physically happened, and a
    negative lot is the visible sign that the records of that lot were wrong.
    """
    number = lot.number if isinstance(lot, Lot) else lot
    expires = ts(lot.expires_at) if isinstance(lot, Lot) and lot.expires_at else None
    stamp = now_text()
    work.db.execute(
        "INSERT INTO lot_stock (tenant, sku, location, lot, expires_at, on_hand, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, sku, location, lot) DO UPDATE SET "
        "on_hand = lot_stock.on_hand + excluded.on_hand, "
        "expires_at = COALESCE(excluded.expires_at, lot_stock.expires_at), "
        "updated_at = excluded.updated_at",
        (tenant, sku, location, number, expires, delta, stamp),
    )
    work.defer(
        _MOVEMENT_INSERT,
        (
            tenant,
            sku,
            location,
            number,
            delta,
            kind,
            reference,
            order_key,
            shipment_id,
            work.message_id,
            ts(work.occurred_at),
        ),
    )


def count_lot(
    work: Work, tenant: str, sku: str, location: str, lot: Lot, counted: int, reference: str
) -> None:
    """A count of one lot: its on-hand becomes what was counted (the variance is journalled)."""
    rows = work.db.query(
        "SELECT on_hand FROM lot_stock WHERE tenant = ? AND sku = ? AND location = ? "  # noqa: S608 - fixed SQL
        "AND lot = ?" + work.db.for_update,
        (tenant, sku, location, lot.number),
    )
    variance = counted - (int(rows[0][0]) if rows else 0)
    if variance or not rows:
        record_lot_change(work, tenant, sku, location, lot, variance, "count", reference=reference)


def _now_text(moment: datetime | None) -> str:
    return ts(moment) if moment is not None else now_text()


def expired_on_hand(
    work: Work, tenant: str, sku: str, now: datetime | None = None
) -> dict[str, int]:
    """Per location, the units of ``sku`` held in lots expired at ``now`` (not allocatable)."""
    rows = work.db.query(
        "SELECT location, SUM(on_hand) FROM lot_stock WHERE tenant = ? AND sku = ? "
        "AND on_hand > 0 AND expires_at IS NOT NULL AND expires_at <= ? GROUP BY location",
        (tenant, sku, _now_text(now)),
    )
    return {str(location): int(units) for location, units in rows}


def expired_pools(work: Work, tenant: str, skus: Iterable[str]) -> dict[str, int]:
    """Per SKU, the units in expired lots over every location (for channel availability)."""
    wanted = sorted(set(skus))
    found: dict[str, int] = {}
    stamp = now_text()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for sku, units in work.db.query(
            "SELECT sku, SUM(on_hand) FROM lot_stock WHERE tenant = ? "  # noqa: S608 - placeholders only
            f"AND sku IN ({marks}) AND on_hand > 0 AND expires_at IS NOT NULL "
            "AND expires_at <= ? GROUP BY sku",
            (tenant, *chunk, stamp),
        ):
            found[str(sku)] = int(units)
    return found


def pick_fefo(
    lots: Iterable[tuple[str, int, str | None]], quantity: int, now: datetime
) -> list[LotPick] | None:
    """First expiry, first out: the lots to pick ``quantity`` from, out of ``(lot, free units,
    expires_at)``; lots expired at ``now`` are skipped, lots without expiry come last. None when
    the unexpired free units do not cover the quantity."""
    moment = ts(now)
    usable = sorted(
        (lot for lot in lots if lot[1] > 0 and (lot[2] is None or lot[2] > moment)),
        key=lambda lot: (lot[2] is None, lot[2] or "", lot[0]),
    )
    picks: list[LotPick] = []
    left = quantity
    for number, free, expires in usable:
        if left == 0:
            break
        take = min(free, left)
        picks.append(LotPick(number, take, expires))
        left -= take
    return picks if left == 0 else None


def commit(
    work: Work, tenant: str, sku: str, location: str, lot: str, quantity: int, request_id: str
) -> None:
    """Commit ``quantity`` units of a lot to a release; refuse an unknown, expired or short lot."""
    rows = work.db.query(
        "SELECT on_hand, committed, expires_at FROM lot_stock "  # noqa: S608 - fixed SQL
        "WHERE tenant = ? AND sku = ? AND location = ? AND lot = ?" + work.db.for_update,
        (tenant, sku, location, lot),
    )
    if not rows:
        raise InvalidMessageError(
            f"fulfilment request {request_id}: lot {lot} of {sku} is not held at {location}"
        )
    on_hand, committed, expires = int(rows[0][0]), int(rows[0][1]), rows[0][2]
    if expires is not None and str(expires) <= now_text():
        raise InvalidMessageError(
            f"fulfilment request {request_id}: lot {lot} of {sku} expired at {expires}; "
            "expired lots may not be released"
        )
    if on_hand - committed < quantity:
        raise InvalidMessageError(
            f"fulfilment request {request_id}: lot {lot} of {sku} at {location} has "
            f"{max(0, on_hand - committed)} free units for {quantity}"
        )
    work.db.execute(
        "UPDATE lot_stock SET committed = committed + ?, updated_at = ? "
        "WHERE tenant = ? AND sku = ? AND location = ? AND lot = ?",
        (quantity, now_text(), tenant, sku, location, lot),
    )


def uncommit(work: Work, tenant: str, sku: str, location: str, lot: str, quantity: int) -> None:
    """Free committed units (shipped, closed short or cancelled); never below zero."""
    if quantity <= 0:
        return
    work.db.execute(
        "UPDATE lot_stock SET committed = CASE WHEN committed > ? THEN committed - ? ELSE 0 END, "
        "updated_at = ? WHERE tenant = ? AND sku = ? AND location = ? AND lot = ?",
        (quantity, quantity, now_text(), tenant, sku, location, lot),
    )


def consume(
    work: Work,
    tenant: str,
    sku: str,
    location: str,
    lots: list[Lot],
    quantity: int,
    *,
    order_key: str,
    shipment_id: str,
) -> None:
    """Take shipped units out of the named lots: earliest expiry first, each lot up to what it
    holds, whatever is left from the last one named (the shipment is the physical truth)."""
    numbers = sorted({lot.number for lot in lots})
    marks = ", ".join("?" * len(numbers))
    held = {
        str(row[0]): (int(row[1]), row[2])
        for row in work.db.query(
            "SELECT lot, on_hand, expires_at FROM lot_stock WHERE tenant = ? AND sku = ? "  # noqa: S608 - placeholders only
            f"AND location = ? AND lot IN ({marks})",
            (tenant, sku, location, *numbers),
        )
    }

    def expiry_order(lot: Lot) -> tuple[bool, str]:
        expires = held.get(lot.number, (0, None))[1]
        return (expires is None, str(expires or ""))

    ordered = sorted(lots, key=expiry_order)
    left = quantity
    for index, lot in enumerate(ordered):
        if left == 0:
            break
        on_hand = held.get(lot.number, (0, None))[0]
        take = left if index == len(ordered) - 1 else min(left, max(0, on_hand))
        if take == 0:
            continue
        record_lot_change(
            work,
            tenant,
            sku,
            location,
            lot,
            -take,
            "shipment",
            reference=shipment_id,
            order_key=order_key,
            shipment_id=shipment_id,
        )
        left -= take


def refresh_expired(ledger: Any, since: str | None = None) -> list[tuple[str, str]]:
    """Recompute the channels' available-to-promise of every SKU with a lot that expired after
    ``since`` (any time, when None) and still holds units; changed figures reach the outbox like
    any other change, so the channels stop selling expired stock without waiting for another
    movement of the SKU. Returns the (tenant, SKU) pairs looked at. Run by the outbox relay's
    leader every few minutes, and by ``hub lots expire``."""
    stamp = now_text()

    def body(work: Work) -> list[tuple[str, str]]:
        rows = work.db.query(
            "SELECT DISTINCT tenant, sku FROM lot_stock WHERE on_hand > 0 "
            "AND expires_at IS NOT NULL AND expires_at <= ? AND expires_at > ? "
            "ORDER BY tenant, sku",
            (stamp, since or ""),
        )
        pairs = [(str(tenant), str(sku)) for tenant, sku in rows]
        for tenant, sku in pairs:
            work.sku(tenant, sku)
            work.touched.add((tenant, sku))
        work.finish()
        return pairs

    return list(ledger._run(body))
