"""One batch transaction's operations: positions, the journal, channel ATP and the outbox.

Handlers call these; they never write position rows themselves. Every stock change goes through
:meth:`Work.move`, which locks the position rows, computes the new buckets with
``canonical.movement_deltas``'s rules (``bucket_deltas``, the function the test oracle uses through
it), checks the invariants and
writes the journal row, so the journal always sums to the positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from canonical import ChannelAvailability, Disposition, MovementKind
from canonical.inventory import bucket_deltas, check_movement
from hub.ledger.dialect import PostgresDialect, SqliteDialect
from hub.ledger.errors import InsufficientStockError, UnknownLocationError, UnknownSkuError
from hub.ledger.policy import LedgerPolicy
from hub.ledger.sourcing import LocationInfo

__all__ = ["BUCKET_COLUMNS", "IsolationNeeded", "Position", "SkuInfo", "Work", "now_text", "ts"]

BUCKET_COLUMNS = ("on_hand", "allocated", "in_transit", "returns_pending", "damaged")
_POSITION_COLUMNS = (*BUCKET_COLUMNS, "safety_stock")


def ts(moment: datetime) -> str:
    """A timestamp as stored: UTC ISO-8601 with microseconds, so text order is time order.
    (``isoformat`` rather than ``strftime``: the same text at a third less time, and the ledger
    stamps every row it writes.)"""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_ts(text: str) -> datetime:
    """A timestamp as stored (:func:`ts`) back to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now_text() -> str:
    return ts(datetime.now(UTC))


class IsolationNeeded(Exception):  # noqa: N818 - a signal, not an error
    """A message of the batch's optimistic pass failed in a way that pass cannot pin on it (an
    error other than the ledger's own refusal): roll the pass back and run the batch again
    isolated, statement by statement (see ``Ledger.apply``)."""


@dataclass(slots=True)
class Position:
    """One position row as locked inside the transaction."""

    on_hand: int = 0
    allocated: int = 0
    in_transit: int = 0
    returns_pending: int = 0
    damaged: int = 0
    safety_stock: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated - self.safety_stock

    def copy(self) -> Position:
        """A copy (``dataclasses.replace`` costs several times more, per row and message)."""
        return Position(
            self.on_hand,
            self.allocated,
            self.in_transit,
            self.returns_pending,
            self.damaged,
            self.safety_stock,
        )


@dataclass(frozen=True, slots=True)
class SkuInfo:
    sku: str
    backorder_allowed: bool
    tracking: str


def _event_json(payload: dict[str, Any]) -> str:
    """An outbox event's payload as stored: JSON with sorted keys (orjson: several per message)."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


@dataclass
class Work:
    """The state of one batch transaction (one per ``apply`` call and attempt)."""

    db: SqliteDialect | PostgresDialect
    policy: LedgerPolicy
    message_id: str = ""
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: ``ts(occurred_at)``, kept for the message it was computed for (see ``move``)
    _occurred_for: datetime | None = None
    _occurred_text: str = ""
    touched: set[tuple[str, str]] = field(default_factory=set)
    #: the current message's W3C trace context; its outbox events carry it, so the push a change
    #: causes joins the trace of the message that caused it
    traceparent: str | None = None
    #: per touched SKU, the trace of the last message that touched it (for its ATP event)
    touched_trace: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _skus: dict[tuple[str, str], SkuInfo | None] = field(default_factory=dict)
    _locations: dict[str, list[LocationInfo]] = field(default_factory=dict)
    _channels: dict[str, list[str]] = field(default_factory=dict)
    _seq: int = 0
    #: append-only rows (journal, outbox, history, decisions) of the current message, moved to
    #: the batch's once it succeeds and dropped if it is rolled back; nothing reads them inside
    #: the transaction, so they are written with one executemany per statement at batch end
    _deferred: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    _batch_deferred: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    savepoint_open: bool = False
    #: the batch's optimistic pass (no savepoints; any refusal redoes the batch isolated)
    optimistic: bool = False
    #: Optimistic pass only (see ``orders.prefetch``): rows read and locked for the whole batch
    #: up front, kept current by the batch's own writes, so a message needs no read of its own.
    #: Never used by the isolated pass, where a message rolled back to its savepoint would leave
    #: them stale. Orders (None: known not to exist), their lines, the SKUs' position rows.
    cached_orders: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    cached_lines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cached_positions: dict[tuple[str, str], dict[str, Position]] = field(default_factory=dict)
    #: order keys whose advisory lock this transaction holds, and those with parked messages
    key_locked: set[tuple[str, str]] = field(default_factory=set)
    #: order keys looked up in parked_messages by the prefetch: whether messages wait for them
    parked_for: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: the batch copies as they were before the current message changed them (its undo log)
    _undo: list[tuple[str, Any, Any]] = field(default_factory=list)
    _undo_seen: set[tuple[str, Any]] = field(default_factory=set)
    #: orders first stored by the current message; messages parked for them are applied next
    new_orders: list[tuple[str, str]] = field(default_factory=list)
    #: Optimistic pass (``orders.prefetch``): negative knowledge that spares a shipment its reads.
    #: ``None`` until prefetched. The shipment ids of the batch already recorded when the batch
    #: began, and the orders that then had an open fulfilment request; what the batch itself
    #: records or releases is added as it goes (a rolled-back message leaves its entries, which
    #: only costs the read they would have spared).
    shipments_known: set[tuple[str, str]] | None = None
    orders_with_requests: set[tuple[str, str]] | None = None
    #: Optimistic pass: order lines changed in the batch copy, written once each at the batch's
    #: end by the flush registered under a name in ``batch_flushes`` (``orders.flush_lines``);
    #: a rolled-back message put its lines back in the copy, so the final state is written.
    dirty_lines: set[tuple[str, str, str]] = field(default_factory=set)
    #: Optimistic pass: orders whose state changed in the batch copy, written the same way
    #: (``orders.flush_states``): an order that moves captured -> allocated -> shipped within one
    #: batch costs one write.
    dirty_states: set[tuple[str, str]] = field(default_factory=set)
    batch_flushes: dict[str, Callable[[Work], None]] = field(default_factory=dict)
    #: Optimistic pass: each cached position row the batch changed, as it was in the database
    #: when this transaction locked (or created) it, and when it last changed. Its net change
    #: (the batch copy minus this) is written once per row before the batch ends
    #: (:meth:`flush_positions`), not once per movement; a message rolled back to its savepoint
    #: put the copy back (undo log), so its changes are not in the difference.
    _position_base: dict[tuple[str, str, str], Position] = field(default_factory=dict)
    _position_stamp: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: the row counts of the INSERTs that created position rows in this pass (read after sync)
    _created_rows: list[Callable[[], int]] = field(default_factory=list)

    # -- master data (cached for the batch) ----------------------------------------------------

    def sku(self, tenant: str, sku: str) -> SkuInfo:
        key = (tenant, sku)
        if key not in self._skus:
            rows = self.db.query(
                "SELECT sku, backorder_allowed, tracking FROM skus WHERE tenant = ? AND sku = ?",
                (tenant, sku),
            )
            self._skus[key] = SkuInfo(rows[0][0], bool(rows[0][1]), rows[0][2]) if rows else None
        info = self._skus[key]
        if info is None:
            raise UnknownSkuError(
                f"SKU {sku!r} is not in tenant {tenant!r}'s master data; add it with "
                "`hub catalog import` and replay the message"
            )
        return info

    def known_sku(self, tenant: str, sku: str) -> bool:
        """Whether the batch's cache knows ``sku`` (after :meth:`prefetch_skus`)."""
        return self._skus.get((tenant, sku)) is not None

    def locations(self, tenant: str) -> list[LocationInfo]:
        if tenant not in self._locations:
            rows = self.db.query(
                "SELECT location, kind, region, priority FROM locations WHERE tenant = ?",
                (tenant,),
            )
            self._locations[tenant] = [LocationInfo(r[0], r[1], r[2], int(r[3])) for r in rows]
        return self._locations[tenant]

    def location(self, tenant: str, location: str) -> LocationInfo:
        for info in self.locations(tenant):
            if info.location == location:
                return info
        raise UnknownLocationError(
            f"location {location!r} is not in tenant {tenant!r}'s master data; add it to the "
            "deployment config (or Ledger.upsert_location) and replay the message"
        )

    def channels(self, tenant: str) -> list[str]:
        if tenant not in self._channels:
            rows = self.db.query(
                "SELECT channel FROM channels WHERE tenant = ? ORDER BY channel", (tenant,)
            )
            self._channels[tenant] = [r[0] for r in rows]
        return self._channels[tenant]

    def resolve_external(self, tenant: str, channel: str, ids: list[str | None]) -> str | None:
        """The SKU a channel's external id (variant, listing, seller SKU) maps to, if any."""
        for external in ids:
            if external:
                rows = self.db.query(
                    "SELECT sku FROM sku_external_ids WHERE tenant = ? AND channel = ? "
                    "AND external_id = ?",
                    (tenant, channel, external),
                )
                if rows:
                    return str(rows[0][0])
        return None

    # -- positions -----------------------------------------------------------------------------

    def select_in(self, sql: str, tenant: str, values: list[str]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (its ``{marks}`` the placeholders of an ``IN`` list, its first
        parameter the tenant) for many values, in statements of 500 values."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            rows.extend(
                self.db.query(sql.format(marks=", ".join("?" * len(chunk))), (tenant, *chunk))
            )
        return rows

    def prefetch_skus(self, tenant: str, skus: list[str]) -> None:
        """Read many SKUs' master data in one statement (the batch's cache)."""
        wanted = [sku for sku in skus if (tenant, sku) not in self._skus]
        for sku in wanted:
            self._skus[(tenant, sku)] = None
        for row in self.select_in(
            "SELECT sku, backorder_allowed, tracking FROM skus WHERE tenant = ? AND sku IN ({marks})",
            tenant,
            wanted,
        ):
            self._skus[(tenant, row[0])] = SkuInfo(row[0], bool(row[1]), row[2])

    def prefetch_positions(self, tenant: str, skus: list[str]) -> None:
        """Lock every position row of ``skus`` (SKU then location order, the order every worker
        locks them in) and keep them for the batch (optimistic pass)."""
        wanted = sorted({sku for sku in skus if (tenant, sku) not in self.cached_positions})
        for sku in wanted:
            self.cached_positions[(tenant, sku)] = {}
        for row in self.select_in(
            "SELECT sku, location, on_hand, allocated, in_transit, returns_pending, damaged, "  # noqa: S608 - fixed SQL; values are parameters
            "safety_stock FROM positions WHERE tenant = ? AND sku IN ({marks}) "
            "ORDER BY sku, location" + self.db.for_update,
            tenant,
            wanted,
        ):
            self.cached_positions[(tenant, row[0])][row[1]] = Position(*(int(v) for v in row[2:]))

    def lock_positions(self, tenant: str, sku: str) -> dict[str, Position]:
        """Every position row of ``sku``, locked (PostgreSQL) in location order until commit."""
        cached = self.cached_positions.get((tenant, sku))
        if cached is not None:
            return {loc: cached[loc].copy() for loc in sorted(cached)}
        rows = self.db.query(
            "SELECT location, on_hand, allocated, in_transit, returns_pending, damaged, "  # noqa: S608 - fixed SQL; values are parameters
            "safety_stock FROM positions WHERE tenant = ? AND sku = ? ORDER BY location"
            + self.db.for_update,
            (tenant, sku),
        )
        return {r[0]: Position(*(int(v) for v in r[1:])) for r in rows}

    def _ensure_position(self, tenant: str, sku: str, location: str) -> Position:
        """The position row, created at zero if missing, locked (one round trip: the upsert's
        no-op update takes the row lock on PostgreSQL and returns the current buckets)."""
        rows = self.db.query(
            "INSERT INTO positions (tenant, sku, location, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (tenant, sku, location) DO UPDATE SET updated_at = positions.updated_at "
            "RETURNING on_hand, allocated, in_transit, returns_pending, damaged, safety_stock",
            (tenant, sku, location, now_text()),
        )
        return Position(*(int(v) for v in rows[0]))

    def _add_to_position(
        self,
        tenant: str,
        sku: str,
        location: str,
        deltas: dict[str, int],
        stamp: str,
        kind: MovementKind,
        quantity: int,
    ) -> Position:
        """Add ``deltas`` to a position (creating it at zero first) and return the new buckets, in
        one statement for an existing row. The UPDATE takes the row lock on PostgreSQL; the CHECK
        constraints refuse a negative bucket, which becomes an :class:`InsufficientStockError`
        naming the bucket."""
        values = [deltas.get(bucket, 0) for bucket in BUCKET_COLUMNS]
        cached = self.cached_positions.get((tenant, sku))
        if cached is not None:
            # The SKU's rows are locked by this transaction and their buckets known: compute and
            # check (what the CHECK constraints would refuse) before writing.
            now = cached.get(location) or Position()
            new = Position(
                now.on_hand + values[0],
                now.allocated + values[1],
                now.in_transit + values[2],
                now.returns_pending + values[3],
                now.damaged + values[4],
                now.safety_stock,
            )
            for bucket in BUCKET_COLUMNS:
                if getattr(new, bucket) < 0:
                    raise InsufficientStockError(
                        f"{kind.value} of {quantity} x {sku} at {location} would leave {bucket} "
                        "below zero"
                    )
            self.remember("positions", (tenant, sku))
            if location in cached:  # written with the batch's net change (flush_positions)
                row = (tenant, sku, location)
                if row not in self._position_base:
                    self._position_base[row] = now
                self._position_stamp[row] = stamp
                cached[location] = new
                return new
            # A new row (there was none when the batch locked the SKU's rows): a queued INSERT
            # creates it at zero (no round trip; the row is then this transaction's) and the
            # movement goes with the batch's net change like any other. If another transaction
            # created the row meanwhile, the INSERT inserts nothing and this pass decided on a
            # wrong copy: ``check_created_rows`` sends the batch to the isolated pass.
            self._created_rows.append(
                self.db.execute_counted(
                    "INSERT INTO positions (tenant, sku, location, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (tenant, sku, location) DO NOTHING",
                    (tenant, sku, location, stamp),
                )
            )
            self._position_base[(tenant, sku, location)] = Position()
            self._position_stamp[(tenant, sku, location)] = stamp
            cached[location] = new
            return new
        update = (
            "UPDATE positions SET on_hand = on_hand + ?, allocated = allocated + ?, "
            "in_transit = in_transit + ?, returns_pending = returns_pending + ?, "
            "damaged = damaged + ?, updated_at = ? WHERE tenant = ? AND sku = ? AND location = ? "
            "RETURNING on_hand, allocated, in_transit, returns_pending, damaged, safety_stock"
        )
        params = (*values, stamp, tenant, sku, location)
        try:
            rows = self.db.query(update, params)
            if not rows:  # a new position: create it at zero, then add
                self.db.execute(
                    "INSERT INTO positions (tenant, sku, location, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tenant, sku, location) DO NOTHING",
                    (tenant, sku, location, stamp),
                )
                rows = self.db.query(update, params)
        except Exception as error:
            # In pipeline mode (PostgreSQL's optimistic pass) a constraint error may belong to an
            # earlier queued statement: it goes up as it is, and the batch is redone isolated.
            if not self.db.is_integrity_error(error) or self.db.queued:
                raise
            bucket = next((b for b in BUCKET_COLUMNS if b in str(error)), "a bucket")
            raise InsufficientStockError(
                f"{kind.value} of {quantity} x {sku} at {location} would leave {bucket} below zero"
            ) from None
        return Position(*(int(v) for v in rows[0]))

    def move(
        self,
        tenant: str,
        kind: MovementKind,
        sku: str,
        location: str,
        quantity: int,
        *,
        counterpart: str | None = None,
        disposition: Disposition | None = None,
        reason: str | None = None,
        reference: str | None = None,
        movement_id: str | None = None,
        check_oversell: bool = True,
    ) -> None:
        """Apply one movement: lock, compute, check, write the position and the journal."""
        info = self.sku(tenant, sku)
        self.location(tenant, location)
        if counterpart is not None:
            self.location(tenant, counterpart)
        self._seq += 1
        # the kind's rules, without building a StockMovement for each of a message's movements
        check_movement(kind, location, quantity, counterpart, disposition)
        movement_id = movement_id or f"{self.message_id}/{self._seq}"
        per_location: dict[str, dict[str, int]] = {}
        for (loc, bucket), delta in bucket_deltas(
            kind, location, quantity, counterpart, disposition
        ).items():
            per_location.setdefault(loc, {})[bucket] = delta
        if self._occurred_for is not self.occurred_at:  # once per message, not per movement
            self._occurred_for, self._occurred_text = self.occurred_at, ts(self.occurred_at)
        stamp = now_text()
        for loc in sorted(per_location):
            deltas = per_location[loc]
            position = self._add_to_position(tenant, sku, loc, deltas, stamp, kind, quantity)
            removes_free_stock = deltas.get("on_hand", 0) < 0 or deltas.get("allocated", 0) > 0
            if (
                check_oversell
                and removes_free_stock
                and not info.backorder_allowed
                and position.on_hand < position.allocated
            ):
                raise InsufficientStockError(
                    f"{kind.value} of {quantity} x {sku} at {loc} would leave {position.on_hand} "
                    f"on hand for {position.allocated} allocated, and {sku} does not allow "
                    "backorders"
                )
            self.defer(
                _JOURNAL_INSERT,
                (
                    tenant,
                    self.message_id,
                    movement_id,
                    kind.value,
                    sku,
                    loc,
                    quantity,
                    *(deltas.get(bucket, 0) for bucket in BUCKET_COLUMNS),
                    reason,
                    reference,
                    self._occurred_text,
                    stamp,
                ),
            )
        self.touched.add((tenant, sku))
        self.touched_trace[(tenant, sku)] = self.traceparent

    def set_safety_stock(self, tenant: str, sku: str, location: str, quantity: int) -> None:
        self.sku(tenant, sku)
        self.location(tenant, location)
        self._ensure_position(tenant, sku, location)
        self.db.execute(
            "UPDATE positions SET safety_stock = ?, updated_at = ? "
            "WHERE tenant = ? AND sku = ? AND location = ?",
            (quantity, now_text(), tenant, sku, location),
        )
        self.touched.add((tenant, sku))
        self.touched_trace[(tenant, sku)] = self.traceparent

    # -- channel availability and the outbox -----------------------------------------------------

    def pool(self, positions: dict[str, Position]) -> int:
        return sum(p.available for p in positions.values())

    def flush_availability(self) -> None:
        """Recompute each touched SKU's ATP per channel; store and emit the ones that changed.

        The pools are read from the SKUs' position rows *locked* (``FOR UPDATE`` on PostgreSQL),
        so two transactions cannot both compute from a stale sum and store a wrong figure. A few
        statements per tenant and batch, whatever the number of SKUs touched.
        """
        by_tenant: dict[str, list[str]] = {}
        for tenant, sku in sorted(self.touched):
            by_tenant.setdefault(tenant, []).append(sku)
        for tenant, skus in by_tenant.items():
            for start in range(0, len(skus), 500):
                self._flush_skus(tenant, skus[start : start + 500])
        self.touched.clear()

    def _flush_skus(self, tenant: str, skus: list[str]) -> None:
        marks = ", ".join("?" * len(skus))
        pools = dict.fromkeys(skus, 0)
        for sku, available in self.db.query(
            "SELECT sku, on_hand - allocated - safety_stock FROM positions "  # noqa: S608 - placeholders only
            f"WHERE tenant = ? AND sku IN ({marks}) ORDER BY sku, location" + self.db.for_update,
            (tenant, *skus),
        ):
            pools[sku] += int(available)
        lot_skus = [
            sku
            for sku in skus
            if (info := self._skus.get((tenant, sku))) and info.tracking == "lot"
        ]
        if lot_skus:  # units in expired lots may not be promised (hub.ledger.lots)
            from hub.ledger.lots import expired_pools  # lots imports this module

            for sku, units in expired_pools(self, tenant, lot_skus).items():
                pools[sku] -= units
        current = {
            (sku, channel): int(available)
            for sku, channel, available in self.db.query(
                "SELECT sku, channel, available FROM channel_atp "  # noqa: S608 - placeholders only
                f"WHERE tenant = ? AND sku IN ({marks})",
                (tenant, *skus),
            )
        }
        now = datetime.now(UTC)
        changed = []
        for sku in skus:
            for channel in self.channels(tenant):
                available = self.policy.channels.available(channel, pools[sku])
                if current.get((sku, channel)) == available:
                    continue
                changed.append((tenant, sku, channel, available, ts(now)))
                event = ChannelAvailability(
                    tenant=tenant, sku=sku, channel=channel, available=available, as_of=now
                )
                self.emit(
                    tenant,
                    "availability.changed",
                    f"{sku}@{channel}",
                    event.model_dump(mode="json"),
                    traceparent=self.touched_trace.get((tenant, sku)),
                )
        if changed:
            self.db.executemany(
                "INSERT INTO channel_atp (tenant, sku, channel, available, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, sku, channel) "
                "DO UPDATE SET available = excluded.available, updated_at = excluded.updated_at",
                changed,
            )

    def emit(
        self,
        tenant: str,
        event_type: str,
        key: str,
        payload: dict[str, Any],
        *,
        traceparent: str | None = None,
    ) -> None:
        """Write a domain event to the outbox, in this transaction (with its message), carrying
        the trace of the message that caused it (``traceparent``, default: the current one)."""
        trace = traceparent if traceparent is not None else self.traceparent
        self.defer(
            _OUTBOX_INSERT,
            (tenant, event_type, key, _event_json(payload), now_text(), trace),
        )

    def defer(self, sql: str, row: tuple[Any, ...]) -> None:
        """Insert ``row`` with ``sql`` at the end of the batch if this message succeeds."""
        self._deferred.setdefault(sql, []).append(row)

    # -- the batch copies' undo log (optimistic pass) -----------------------------------------------

    def remember(self, kind: str, key: Any) -> None:
        """Keep the batch copy of ``key`` as it is before the current message changes it, once per
        message, so a refused message can be undone (see :meth:`undo_message`)."""
        if (kind, key) in self._undo_seen:
            return
        self._undo_seen.add((kind, key))
        saved: Any
        if kind == "order":
            row = self.cached_orders.get(key)
            saved = None if row is None else dict(row)
        elif kind == "lines":
            lines = self.cached_lines.get(key)
            saved = None if lines is None else {i: replace(line) for i, line in lines.items()}
        elif kind == "positions":
            saved = dict(self.cached_positions[key])
        elif kind == "key_locked":
            saved = key in self.key_locked
        else:  # "parked"
            saved = self.parked_for.get(key)
        self._undo.append((kind, key, saved))

    def begin_message(self) -> None:
        self._undo = []
        self._undo_seen = set()

    def undo_message(self) -> None:
        """Put the batch copies back as they were before the current message (rolled back to its
        savepoint): the database forgot its writes, so the copies must too."""
        self.undo_to((0, set()))

    def undo_mark(self) -> tuple[int, set[tuple[str, Any]]]:
        """Where the undo log stands, for a savepoint nested in the message (a parked message
        applied by it); changes after the mark are remembered again."""
        mark = (len(self._undo), self._undo_seen)
        self._undo_seen = set()
        return mark

    def undo_release(self, mark: tuple[int, set[tuple[str, Any]]]) -> None:
        """The nested savepoint was released: its changes belong to the message."""
        self._undo_seen |= mark[1]

    def undo_to(self, mark: tuple[int, set[tuple[str, Any]]]) -> None:
        """Put the batch copies back as they were at ``mark`` (its savepoint was rolled back)."""
        for kind, key, saved in reversed(self._undo[mark[0] :]):
            if kind == "order":
                self.cached_orders[key] = saved
            elif kind == "positions":
                self.cached_positions[key] = saved
            elif kind == "key_locked":
                if not saved:
                    self.key_locked.discard(key)
            else:
                table: dict[Any, Any] = self.cached_lines if kind == "lines" else self.parked_for
                if saved is None:
                    table.pop(key, None)
                else:
                    table[key] = saved
        del self._undo[mark[0] :]
        self._undo_seen = mark[1]

    # -- message and batch boundaries -------------------------------------------------------------

    def message_succeeded(self) -> None:
        for sql, rows in self._deferred.items():
            self._batch_deferred.setdefault(sql, []).extend(rows)
        self._deferred = {}

    def message_rolled_back(self) -> None:
        self._deferred = {}
        self.new_orders = []

    def deferred_mark(self) -> dict[str, int]:
        """Where the current message's deferred rows stand (for a nested savepoint)."""
        return {sql: len(rows) for sql, rows in self._deferred.items()}

    def deferred_rollback(self, mark: dict[str, int]) -> None:
        """Drop the deferred rows added since ``mark`` (their nested savepoint was rolled back)."""
        for sql in list(self._deferred):
            del self._deferred[sql][mark.get(sql, 0) :]
            if not self._deferred[sql]:
                del self._deferred[sql]

    def check_created_rows(self) -> None:
        """After the pass's statements have run (``sync``): every position row it created at
        zero was really created by it. One that another transaction created meanwhile means a
        message decided on a copy that lacked that transaction's stock: redo the batch isolated
        (statement by statement, reading every row)."""
        if any(count() == 0 for count in self._created_rows):
            raise IsolationNeeded("a position row this batch created was created concurrently")

    def flush_positions(self) -> None:
        """Write the batch's net change of every cached position row it changed, in one
        statement per 500 rows (optimistic pass; see ``_position_base``). The rows are locked by
        this transaction since they were read or created, so nobody else changed them meanwhile,
        and each net change leaves every bucket where the batch copy says (checked per
        movement, so never below zero)."""
        rows = []
        for (tenant, sku, location), base in sorted(self._position_base.items()):
            now = self.cached_positions.get((tenant, sku), {}).get(location)
            if now is None or now == base:  # rolled back, or changed back to where it was
                continue
            rows.append(
                (
                    tenant,
                    sku,
                    location,
                    *(getattr(now, bucket) - getattr(base, bucket) for bucket in BUCKET_COLUMNS),
                    self._position_stamp.get((tenant, sku, location), now_text()),
                )
            )
            # what is written is the new base (a flush before the batch's end, then more changes)
            self._position_base[(tenant, sku, location)] = now
        for start in range(0, len(rows), 500):
            self.db.add_to_positions(rows[start : start + 500])

    def finish(self) -> None:
        """End of the batch: write the position rows' net changes, emit ATP changes, then write
        the deferred rows (in bulk: see ``insert_many``)."""
        for flush in list(self.batch_flushes.values()):
            flush(self)
        self.flush_positions()
        self.flush_availability()
        self.message_succeeded()
        for sql, rows in self._batch_deferred.items():
            self.db.insert_many(sql, rows)
        self._batch_deferred = {}


_JOURNAL_INSERT = (
    "INSERT INTO movements (tenant, message_id, movement_id, kind, sku, location, "
    "quantity, d_on_hand, d_allocated, d_in_transit, d_returns_pending, d_damaged, "
    "reason, reference, occurred_at, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_OUTBOX_INSERT = (
    "INSERT INTO outbox (tenant, event_type, event_key, payload, created_at, traceparent) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
