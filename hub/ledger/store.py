"""The ledger: one interface over SQLite (embedded default) and PostgreSQL (production).

``apply`` takes a batch of envelopes and runs it in one transaction. Each message runs inside its
own SAVEPOINT: its idempotency key is inserted first (a UNIQUE key, so a duplicate is detected by
the database, never by a racy read), then its effects; a refused message is rolled back to its
savepoint and reported, and the rest of the batch commits exactly once. Serialization failures
and deadlocks (PostgreSQL) or a busy database (SQLite) retry the whole batch a bounded number of
times; nothing of a failed attempt survives, so a retry cannot apply anything twice.

Thread safety: one instance holds one connection and serialises its calls with a lock, so it may
be shared by threads (``asyncio.to_thread``); for parallelism open one ``Ledger`` per worker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prometheus_client import Counter

from canonical import ChannelAvailability, Envelope, StockPosition
from hub.ledger.dialect import PostgresDialect, SqliteDialect
from hub.ledger.errors import (
    LedgerError,
    LedgerNotMigratedError,
    MessageRejectedError,
    OrderNotYetKnownError,
    UnsupportedEventError,
)
from hub.ledger.handlers import HANDLERS, RECORD_ONLY
from hub.ledger.migrations import migrate, pending
from hub.ledger.orders import prefetch
from hub.ledger.parking import park, resume_parked
from hub.ledger.policy import LedgerPolicy
from hub.ledger.url import parse_ledger_url
from hub.ledger.work import BUCKET_COLUMNS, IsolationNeeded, Work, now_text, parse_ts, ts
from hub.operations.store import AUDIT_INSERT, audit_rows
from router.audit import AuditRecord

__all__ = ["ApplyResult", "Ledger", "OutboxEvent", "Outcome"]

Outcome = Literal["applied", "duplicate", "stale", "parked", "rejected"]
MAX_ATTEMPTS = 8

log = logging.getLogger(__name__)

ISOLATED_BATCHES = Counter(
    "hub_ledger_isolated_batches_total",
    "Batches whose optimistic pass failed and ran again message by message, by the error that "
    "sent them there (a steady rate means a bug or a poison message, and halves throughput).",
    ["cause"],
)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The ledger's answer for one envelope (satisfies ``router.ports.Delivery``'s shape)."""

    message_id: str
    outcome: Outcome
    reason: str = ""
    code: str = ""
    error: MessageRejectedError | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    tenant: str
    event_type: str
    key: str
    payload: dict[str, Any]
    created_at: str
    traceparent: str | None = None


class Ledger:
    """The inventory and order-to-cash system of record."""

    def __init__(
        self,
        url: str,
        *,
        policy: LedgerPolicy | None = None,
        auto_migrate: bool | None = None,
    ) -> None:
        """Open the ledger at ``url`` (a SQLite path, ``sqlite:///PATH`` or ``postgresql://``).

        A schema that is behind raises :class:`LedgerNotMigratedError` unless ``auto_migrate``;
        by default only the embedded default file migrates itself (a first run just works; a
        shared production database is migrated on purpose with ``hub ledger migrate``).
        """
        target = parse_ledger_url(url)
        self.url = url
        self.policy = policy or LedgerPolicy()
        self.db: SqliteDialect | PostgresDialect = (
            SqliteDialect(target.location)
            if target.kind == "sqlite"
            else PostgresDialect(target.location)
        )
        self._lock = threading.RLock()
        #: batches whose optimistic pass failed and ran again isolated (statement by statement):
        #: rare by design; a batch that goes isolated every time is a bug or a poison message
        self.isolated_batches = 0
        if auto_migrate is None:
            auto_migrate = target.is_default
        if auto_migrate:
            migrate(self.db)
        behind = pending(self.db)
        if behind:
            self.db.close()
            names = ", ".join(f"{m.version:04d}_{m.name}" for m in behind)
            raise LedgerNotMigratedError(
                f"the ledger at {url} is missing schema migrations ({names}); "
                f"run `hub ledger migrate --ledger {url}`"
            )

    @classmethod
    def migrate(cls, url: str) -> list[str]:
        """Apply pending migrations to the ledger at ``url``; returns their names."""
        target = parse_ledger_url(url)
        db = (
            SqliteDialect(target.location)
            if target.kind == "sqlite"
            else PostgresDialect(target.location)
        )
        try:
            return [f"{m.version:04d}_{m.name}" for m in migrate(db)]
        finally:
            db.close()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------------

    def _run(self, body: Any, *, pipeline: bool = False) -> Any:
        """Run ``body(work)`` in one write transaction, retried on serialization failures,
        deadlocks and busy locks (bounded, with backoff). With ``pipeline``, PostgreSQL runs the
        transaction in pipeline mode (see :meth:`PostgresDialect.begin_write`)."""
        with self._lock:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                work = Work(self.db, self.policy)
                try:
                    self.db.begin_write(pipeline=pipeline)
                    result = body(work)
                    self.db.commit()
                    return result
                except BaseException as error:
                    self.db.rollback()
                    if attempt < MAX_ATTEMPTS and self.db.is_retryable(error):
                        time.sleep(min(0.5, 0.01 * 2**attempt))
                        continue
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

    # -- applying messages ---------------------------------------------------------------------

    def apply_audited(
        self,
        envelopes: Sequence[Envelope],
        audit: Callable[[Sequence[ApplyResult]], Sequence[AuditRecord]],
    ) -> list[ApplyResult]:
        """:meth:`apply`, writing ``audit(results)`` to the audit log in the same transaction
        (``router.ports.AuditingLedger``): the records commit, or roll back, with the effects."""
        return self.apply(envelopes, audit=audit)

    def apply(
        self,
        envelopes: Sequence[Envelope],
        *,
        audit: Callable[[Sequence[ApplyResult]], Sequence[AuditRecord]] | None = None,
    ) -> list[ApplyResult]:
        """Apply a batch in one transaction; one result per envelope, in order.

        The batch first runs *optimistically*: every idempotency key is inserted with one
        statement, the rows the batch reads are read (and locked) up front in a few statements
        (``orders.prefetch``), and on PostgreSQL the transaction runs in pipeline mode, so the
        messages' writes are queued and cost no round trip. Each message still has its savepoint
        (queued too): a message the ledger's logic refuses is rolled back to it, its key dropped
        and the batch copies undone, and the others go on. Any other failure of a message (a
        constraint the logic did not foresee, an error in the code) rolls the whole transaction
        back and the batch runs again *isolated*: each message in its own savepoint, read and
        written statement by statement, so the failing one is rolled back alone with its exact
        error and the others commit exactly once.
        """
        if not envelopes:
            return []

        def optimistic(work: Work) -> list[ApplyResult]:
            work.optimistic = True
            try:
                results = self._apply_optimistic(work, envelopes)
                work.finish()
                self._write_audit(audit, results)
                self.db.sync()  # an error of a queued statement surfaces here, not at COMMIT
                work.check_created_rows()
            except IsolationNeeded:
                raise
            except MessageRejectedError as error:
                raise IsolationNeeded from error
            except Exception as error:
                if self.db.is_retryable(error) or not self._is_message_error(error):
                    raise
                raise IsolationNeeded from error
            return results

        def isolated(work: Work) -> list[ApplyResult]:
            results = [self._apply_one(work, envelope) for envelope in envelopes]
            # Once per batch: ATP events describe committed state, one per SKU and channel whose
            # figure changed, whatever number of messages of the batch moved it.
            work.finish()
            self._write_audit(audit, results)
            return results

        try:
            return list(self._run(optimistic, pipeline=True))
        except IsolationNeeded as signal:
            self.isolated_batches += 1
            cause = signal.__cause__ or signal
            ISOLATED_BATCHES.labels(type(cause).__name__).inc()
            log.debug(
                "a ledger batch of %d runs isolated after %s", len(envelopes), type(cause).__name__
            )
            return list(self._run(isolated))

    def _write_audit(
        self,
        audit: Callable[[Sequence[ApplyResult]], Sequence[AuditRecord]] | None,
        results: list[ApplyResult],
    ) -> None:
        """The caller's audit records of this batch, in this transaction (the audit log lives in
        the ledger's database; see ``hub.operations``). They are sealed into the tenant's hash
        chain later, like every appended record."""
        if audit is None:
            return
        records = audit(results)
        if records:
            self.db.insert_many(AUDIT_INSERT, audit_rows(records))

    def _apply_optimistic(self, work: Work, envelopes: Sequence[Envelope]) -> list[ApplyResult]:
        """The happy path: one statement claims every key of the batch, the batch's rows are read
        up front (PostgreSQL), then each message runs in a queued savepoint; a refusal by the
        ledger's logic is undone alone, any other error aborts this pass (``IsolationNeeded``)."""
        first: dict[tuple[str, str], int] = {}
        for index, envelope in enumerate(envelopes):
            first.setdefault((envelope.tenant, envelope.idempotency_key), index)
        stamp = now_text()
        rows = sorted(  # one lock order for every worker: two batches never wait on each other
            _processed_row(envelopes[index], str(envelopes[index].message_id), stamp)
            for index in first.values()
        )
        inserted: set[tuple[str, str]] = set()
        for start in range(0, len(rows), 500):
            # (tenant, key, message id, event type, outcome, time), in key order
            chunk = [(*row[:4], "applied", row[4]) for row in rows[start : start + 500]]
            source, params = self.db.rows_source(chunk, _PROCESSED_TYPES)
            inserted.update(
                (tenant, key)
                for tenant, key in self.db.query(
                    "INSERT INTO processed_messages (tenant, idempotency_key, message_id, "
                    f"event_type, outcome, processed_at) {source} "
                    "ON CONFLICT (tenant, idempotency_key) DO NOTHING "
                    "RETURNING tenant, idempotency_key",
                    params,
                )
            )
        if db_reads_cost_a_round_trip(self.db):  # on SQLite a read is an in-process call
            prefetch(work, [envelopes[index] for key, index in first.items() if key in inserted])
        results: list[ApplyResult] = []
        db = self.db
        refused: set[tuple[str, str]] = set()  # keys whose message was refused in this batch
        for index, envelope in enumerate(envelopes):
            key = (envelope.tenant, envelope.idempotency_key)
            message_id = str(envelope.message_id)
            again = key in refused  # an earlier copy was refused (its key dropped): try this one
            if not again and (first[key] != index or key not in inserted):
                results.append(
                    ApplyResult(message_id, "duplicate", "this idempotency key was already applied")
                )
                continue
            # A savepoint per message lets a message the ledger refuses be undone alone. It is
            # taken just before the message's first statement (none for a message whose writes
            # are all deferred to the batch's end) and never released (a newer one of the same
            # name hides it; see ``arm_savepoint``); in pipeline mode it costs no round trip.
            db.arm_savepoint("msg")
            work.begin_message()
            try:
                if again:
                    db.execute(_PROCESSED_INSERT, _processed_row(envelope, message_id, now_text()))
                results.append(self._effect(work, envelope, message_id))
                refused.discard(key)
                db.disarm_savepoint()
            except MessageRejectedError as error:
                # Raised by the ledger's logic for this message (a database error never becomes
                # a refusal in this pass), so it is this message's alone.
                if db.disarm_savepoint(keep=False):  # else nothing was sent: nothing to undo
                    db.statements("ROLLBACK TO SAVEPOINT msg")
                work.undo_message()
                work.message_rolled_back()
                if not again:  # the batch's insert of the key is older than the savepoint
                    db.execute(
                        "DELETE FROM processed_messages WHERE tenant = ? AND idempotency_key = ?",
                        key,
                    )
                refused.add(key)
                error.for_message(message_id)
                results.append(ApplyResult(message_id, "rejected", error.reason, error.code, error))
        return results

    def _effect(self, work: Work, envelope: Envelope, message_id: str) -> ApplyResult:
        """A message's effects, once its key is stored; raises if the ledger refuses it."""
        work.message_id = message_id
        work.occurred_at = envelope.occurred_at
        work.traceparent = envelope.traceparent
        handler = HANDLERS.get(envelope.event_type)
        if handler is None:
            if envelope.event_type not in RECORD_ONLY:
                raise UnsupportedEventError(
                    f"event type {envelope.event_type!r} is not handled by the ledger"
                )
            outcome, reason = "applied", "recorded without ledger effect"
        else:
            try:
                outcome = handler(work, envelope)
            except OrderNotYetKnownError as missing:
                outcome, reason = "parked", park(work, envelope, missing)
            else:
                reason = "older than the snapshot already applied" if outcome == "stale" else ""
            while work.new_orders:
                resume_parked(work, *work.new_orders.pop())
        if outcome not in ("applied", "parked"):  # park() already wrote its outcome
            self.db.execute(
                "UPDATE processed_messages SET outcome = ? WHERE tenant = ? AND idempotency_key = ?",
                (outcome, envelope.tenant, envelope.idempotency_key),
            )
        work.message_succeeded()
        return ApplyResult(message_id, outcome, reason)  # type: ignore[arg-type]

    def _apply_one(self, work: Work, envelope: Envelope) -> ApplyResult:
        message_id = str(envelope.message_id)
        work.message_id = message_id
        work.occurred_at = envelope.occurred_at
        work.traceparent = envelope.traceparent
        db = self.db
        if work.savepoint_open:  # release the previous message's savepoint in the same trip
            db.statements("RELEASE SAVEPOINT msg", "SAVEPOINT msg")
        else:
            db.statements("SAVEPOINT msg")
        work.savepoint_open = True
        try:
            inserted = db.execute(
                _PROCESSED_INSERT, _processed_row(envelope, message_id, now_text())
            )
            if inserted == 0:
                return ApplyResult(
                    message_id, "duplicate", "this idempotency key was already applied"
                )
            return self._effect(work, envelope, message_id)
        except MessageRejectedError as error:
            self._rollback_message(work)
            error.for_message(message_id)
            return ApplyResult(message_id, "rejected", error.reason, error.code, error)
        except Exception as error:
            if db.is_retryable(error) or not self._is_message_error(error):
                raise
            self._rollback_message(work)
            rejected = MessageRejectedError(
                f"{type(error).__name__}: {error}", message_id=message_id
            )
            rejected.code = (
                "invariant_violation" if db.is_integrity_error(error) else "internal_error"
            )
            return ApplyResult(message_id, "rejected", rejected.reason, rejected.code, rejected)

    def _is_message_error(self, error: Exception) -> bool:
        """A bug or constraint hit caused by this message (not a lost connection)."""
        if self.db.is_integrity_error(error):
            return True
        module = type(error).__module__
        return not module.startswith(("psycopg", "sqlite3"))

    def _rollback_message(self, work: Work) -> None:
        self.db.statements("ROLLBACK TO SAVEPOINT msg", "RELEASE SAVEPOINT msg")
        work.savepoint_open = False
        work.message_rolled_back()

    # -- master data ---------------------------------------------------------------------------

    def upsert_sku(
        self,
        tenant: str,
        sku: str,
        *,
        gtin: str | None = None,
        tracking: str = "none",
        backorder_allowed: bool = False,
        title: str | None = None,
    ) -> None:
        self._write(
            "INSERT INTO skus (tenant, sku, gtin, tracking, backorder_allowed, title) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, sku) DO UPDATE SET gtin = excluded.gtin, "
            "tracking = excluded.tracking, backorder_allowed = excluded.backorder_allowed, "
            "title = excluded.title",
            (tenant, sku, gtin, tracking, backorder_allowed, title),
        )

    def upsert_location(
        self,
        tenant: str,
        location: str,
        *,
        kind: str = "warehouse",
        region: str | None = None,
        priority: int = 100,
    ) -> None:
        self._write(
            "INSERT INTO locations (tenant, location, kind, region, priority) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant, location) DO UPDATE SET kind = excluded.kind, "
            "region = excluded.region, priority = excluded.priority",
            (tenant, location, kind, region, priority),
        )

    def upsert_channel(self, tenant: str, channel: str, *, kind: str = "other") -> None:
        self._write(
            "INSERT INTO channels (tenant, channel, kind) VALUES (?, ?, ?) "
            "ON CONFLICT (tenant, channel) DO UPDATE SET kind = excluded.kind",
            (tenant, channel, kind),
        )

    def map_external_id(
        self, tenant: str, channel: str, external_id: str, sku: str, *, id_kind: str = "variant_id"
    ) -> None:
        """Record that ``channel`` calls ``sku`` by ``external_id`` (variant id, ASIN, seller SKU)."""
        self._write(
            "INSERT INTO sku_external_ids (tenant, channel, external_id, sku, id_kind) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, channel, external_id) "
            "DO UPDATE SET sku = excluded.sku, id_kind = excluded.id_kind",
            (tenant, channel, external_id, sku, id_kind),
        )

    def set_safety_stock(self, tenant: str, sku: str, location: str, quantity: int) -> None:
        """Hold ``quantity`` back from promising at one location (emits ATP changes)."""

        def body(work: Work) -> None:
            work.set_safety_stock(tenant, sku, location, quantity)
            work.finish()

        self._run(body)

    def note_node_reference(
        self, tenant: str, request_id: str, reference: str, *, source: str = ""
    ) -> Literal["recorded", "unchanged", "replaced"]:
        """Record the node's own id for a released fulfilment request (a ShipBob order id, an
        EasyPost shipment id): ``recorded`` the first time, ``unchanged`` for the same value
        again (a no-op), ``replaced`` for a different one, which the order's history records.
        ``source`` names what reported it (the outbox event), kept as the history entry's
        message id. Raises :class:`UnknownRequestError` for a request the tenant does not have
        (see ``hub.ledger.shipments.note_node_reference``)."""
        from hub.ledger.shipments import note_node_reference

        def body(work: Work) -> Literal["recorded", "unchanged", "replaced"]:
            work.message_id = source
            outcome = note_node_reference(work, tenant, request_id, reference)
            work.finish()
            return outcome

        return self._run(body)  # type: ignore[no-any-return]

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        self._run(lambda work: work.db.execute(sql, params))

    # -- queries -------------------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.query(sql, params)

    def positions(
        self, tenant: str | None = None, *, sku: str | None = None, location: str | None = None
    ) -> list[StockPosition]:
        """Positions, filtered by tenant, SKU and location, ordered by tenant, SKU, location."""
        where, params = _filters(tenant=tenant, sku=sku, location=location)
        rows = self._read(
            "SELECT tenant, sku, location, on_hand, allocated, in_transit, returns_pending, damaged, "  # noqa: S608 - fixed SQL; values are parameters
            f"safety_stock, updated_at FROM positions{where} ORDER BY tenant, sku, location",
            params,
        )
        return [
            StockPosition(
                tenant=r[0],
                sku=r[1],
                location=r[2],
                on_hand=int(r[3]),
                allocated=int(r[4]),
                in_transit=int(r[5]),
                returns_pending=int(r[6]),
                damaged=int(r[7]),
                safety_stock=int(r[8]),
                as_of=parse_ts(r[9]),
            )
            for r in rows
        ]

    def availability(
        self, tenant: str | None = None, *, sku: str | None = None, channel: str | None = None
    ) -> list[ChannelAvailability]:
        """Available-to-promise per channel, as last computed and emitted."""
        where, params = _filters(tenant=tenant, sku=sku, channel=channel)
        rows = self._read(
            f"SELECT tenant, sku, channel, available, updated_at FROM channel_atp{where} "  # noqa: S608
            "ORDER BY tenant, sku, channel",
            params,
        )
        return [
            ChannelAvailability(
                tenant=r[0], sku=r[1], channel=r[2], available=int(r[3]), as_of=parse_ts(r[4])
            )
            for r in rows
        ]

    def journal_totals(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """Each position recomputed from the journal alone (the conservation check, I-2)."""
        sums = ", ".join(f"SUM(d_{b})" for b in BUCKET_COLUMNS)
        rows = self._read(
            f"SELECT tenant, sku, location, {sums} FROM movements GROUP BY tenant, sku, location"  # noqa: S608
        )
        return {
            (r[0], r[1], r[2]): dict(zip(BUCKET_COLUMNS, map(int, r[3:]), strict=True))
            for r in rows
        }

    def processed_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM processed_messages")[0][0])

    def order(self, order_key: str, tenant: str | None = None) -> dict[str, Any] | None:
        """An order's state, lines, payments, sourcing decisions and timeline (None if unknown)."""
        where, params = _filters(tenant=tenant, order_key=order_key)
        rows = self._read(
            "SELECT tenant, order_key, state, source_version, updated_at, cancelled, released, "  # noqa: S608 - fixed SQL; values are parameters
            "currency, total_minor, payment_status, captured_minor, refunded_minor, captured_at, "
            f"shipped_at, invoiced_at, invoice_document FROM orders{where}",
            params,
        )
        if not rows:
            return None
        if len(rows) > 1:
            raise LedgerError(f"order {order_key!r} exists in several tenants; pass --tenant")
        names = [
            "tenant",
            "order_key",
            "state",
            "source_version",
            "updated_at",
            "cancelled",
            "released",
            "currency",
            "total_minor",
            "payment_status",
            "captured_minor",
            "refunded_minor",
            "captured_at",
            "shipped_at",
            "invoiced_at",
            "invoice_document",
        ]
        view: dict[str, Any] = dict(zip(names, rows[0], strict=True))
        view["cancelled"], view["released"] = bool(view["cancelled"]), bool(view["released"])
        key_params = (view["tenant"], order_key)
        view["lines"] = [
            dict(
                zip(
                    (
                        "line_id",
                        "sku",
                        "quantity",
                        "fulfillment_type",
                        "location",
                        "reserved",
                        "shipped",
                        "returned",
                        "status",
                    ),
                    r,
                    strict=True,
                )
            )
            for r in self._read(
                "SELECT line_id, sku, quantity, fulfillment_type, location, reserved, shipped, "
                "returned, status FROM order_lines WHERE tenant = ? AND order_key = ? ORDER BY line_id",
                key_params,
            )
        ]
        view["sourcing"] = [
            dict(
                zip(
                    ("line_id", "location", "quantity", "outcome", "reason", "decided_at"),
                    r,
                    strict=True,
                )
            )
            for r in self._read(
                "SELECT line_id, location, quantity, outcome, reason, decided_at FROM sourcing_decisions "
                "WHERE tenant = ? AND order_key = ? ORDER BY id",
                key_params,
            )
        ]
        view["timeline"] = [
            dict(zip(("at", "event", "state", "detail", "message_id"), r, strict=True))
            for r in self._read(
                "SELECT at, event, state, detail, message_id FROM order_history "
                "WHERE tenant = ? AND order_key = ? ORDER BY id",
                key_params,
            )
        ]
        return view

    def reconciliation(
        self, tenant: str, *, now: datetime | None = None, capture_days: int = 3
    ) -> dict[str, list[str]]:
        """Order-to-cash exceptions: shipped but not invoiced; captured but not shipped after
        ``capture_days``; refunded without a received return."""
        cutoff = ts((now or datetime.now(UTC)) - timedelta(days=capture_days))
        shipped = self._read(
            "SELECT order_key FROM orders WHERE tenant = ? AND shipped_at IS NOT NULL "
            "AND invoiced_at IS NULL ORDER BY order_key",
            (tenant,),
        )
        captured = self._read(
            "SELECT order_key FROM orders WHERE tenant = ? AND captured_at IS NOT NULL "
            "AND captured_at <= ? AND shipped_at IS NULL AND cancelled = 0 ORDER BY order_key",
            (tenant, cutoff),
        )
        refunds = self._read(
            "SELECT order_key FROM orders o WHERE tenant = ? AND refunded_minor > 0 AND NOT EXISTS "
            "(SELECT 1 FROM return_lines l JOIN returns r ON r.tenant = l.tenant AND r.rma_id = l.rma_id "
            "WHERE r.tenant = o.tenant AND r.order_key = o.order_key AND l.received > 0) ORDER BY order_key",
            (tenant,),
        )
        return {
            "shipped_not_invoiced": [r[0] for r in shipped],
            "captured_not_shipped": [r[0] for r in captured],
            "refunded_without_return": [r[0] for r in refunds],
        }

    # -- outbox --------------------------------------------------------------------------------

    def unpublished(self, limit: int = 100, after_id: int = 0) -> list[OutboxEvent]:
        """Outbox events not yet published, oldest first, past ``after_id`` (for the relay)."""
        rows = self._read(
            "SELECT id, tenant, event_type, event_key, payload, created_at, traceparent FROM outbox "
            "WHERE published_at IS NULL AND id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [
            OutboxEvent(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows
        ]

    def mark_published(self, ids: Sequence[int]) -> None:
        stamp = now_text()

        def body(work: Work) -> None:
            for event_id in ids:
                work.db.execute(
                    "UPDATE outbox SET published_at = ? WHERE id = ?", (stamp, event_id)
                )

        self._run(body)


_PROCESSED_INSERT = (
    "INSERT INTO processed_messages (tenant, idempotency_key, message_id, event_type, "
    "outcome, processed_at) VALUES (?, ?, ?, ?, 'applied', ?) "
    "ON CONFLICT (tenant, idempotency_key) DO NOTHING"
)


_PROCESSED_TYPES = ("text",) * 6


def _processed_row(envelope: Envelope, message_id: str, stamp: str) -> tuple[str, ...]:
    return (envelope.tenant, envelope.idempotency_key, message_id, envelope.event_type, stamp)


def db_reads_cost_a_round_trip(db: SqliteDialect | PostgresDialect) -> bool:
    """Whether reading rows up front for the whole batch pays: on PostgreSQL each read is a
    round trip; on SQLite it is a function call, cheaper than keeping the batch copies."""
    return db.name == "postgres"


def _filters(**values: Any) -> tuple[str, list[Any]]:
    clauses = [f"{name} = ?" for name, value in values.items() if value is not None]
    params = [value for value in values.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else "", params)
