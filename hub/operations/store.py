"""The operations store: the router's dead-letter store, hold queue and audit sink, and queries.

Writes come in batches from the router (one statement per batch and table). Dead letters are keyed
by (tenant, raw message, stage) and held messages by (tenant, idempotency key, rule) while open, so
a redelivered message that fails the same way again does not create a second entry.

The audit log is appended without locks (workers write concurrently) and *sealed* afterwards:
:meth:`OperationsStore.seal` numbers a tenant's new records in id order and links each to the
previous one's hash, under a lock on the tenant's chain head. :meth:`OperationsStore.verify` seals,
then checks the whole chain, so a changed, removed or reordered record is found.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from canonical import Envelope
from router.audit import GENESIS_HASH, AuditRecord, chain_record, verify_chain
from router.ports import DeadLetter, HeldMessage, RawMessage
from router.transport.codec import decode_raw, encode_raw

__all__ = [
    "AUDIT_INSERT",
    "DEAD_LETTER_STATUSES",
    "DeadLetterNotOpenError",
    "DeadLetterRow",
    "HeldRow",
    "OperationsStore",
    "QueueDepth",
    "audit_rows",
]

DEFAULT_SLA: Mapping[str, timedelta] = {
    "exception": timedelta(hours=4),
    "review": timedelta(hours=2),
}


#: A dead letter's statuses: ``open`` until replayed (``replayed``; a replay that fails again reopens
#: it) or closed by hand without replaying (``resolved``, with who, when and why).
DEAD_LETTER_STATUSES = ("open", "replayed", "resolved")

#: The longest resolution note kept; longer notes are cut (the audit log is not a document store).
MAX_NOTE_LENGTH = 2000


class DeadLetterNotOpenError(Exception):
    """Resolving a dead letter that is not open (already resolved, or replayed)."""

    def __init__(self, row: DeadLetterRow) -> None:
        self.row = row
        if row.status == "resolved":
            detail = f"already resolved by {row.resolved_by} at {_when(row.resolved_at)}"
        else:
            detail = f"it is {row.status}, not open"
        super().__init__(f"dead letter {row.id} cannot be resolved: {detail}")


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "an unknown time"


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    tenant: str
    raw_id: str
    stage: str
    instance: str
    event: str
    reason: str
    errors: list[str]
    failed_at: datetime
    status: str
    replay_count: int
    raw: RawMessage = field(repr=False)
    envelope: Envelope | None = field(repr=False)
    #: who closed the letter by hand, when and why (``status == "resolved"``; kept if it reopens)
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The letter for listings (admin API, ``hub dlq``): no payload, which may hold personal data."""
        data = {
            "id": self.id,
            "tenant": self.tenant,
            "raw_id": self.raw_id,
            "stage": self.stage,
            "instance": self.instance,
            "event": self.event,
            "reason": self.reason,
            "errors": self.errors,
            "failed_at": self.failed_at.isoformat(),
            "status": self.status,
            "replay_count": self.replay_count,
        }
        if self.resolved_at is not None:
            data["resolved_at"] = self.resolved_at.isoformat()
            data["resolved_by"] = self.resolved_by
            data["resolution_note"] = self.resolution_note
        return data


@dataclass(frozen=True)
class HeldRow:
    id: int
    tenant: str
    queue: str
    rule: str
    reason: str
    order_key: str | None
    held_at: datetime
    due_at: datetime
    status: str
    actor: str | None
    note: str | None
    message: HeldMessage = field(repr=False)

    def age(self, now: datetime) -> timedelta:
        return now - self.held_at

    def as_json(self, now: datetime) -> dict[str, Any]:
        """The held message for listings, with its age and whether it is past its SLA."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "queue": self.queue,
            "rule": self.rule,
            "reason": self.reason,
            "order_key": self.order_key,
            "held_at": self.held_at.isoformat(),
            "age_s": round(self.age(now).total_seconds(), 1),
            "sla_breached": now > self.due_at,
            "status": self.status,
        }


@dataclass(frozen=True)
class QueueDepth:
    tenant: str
    queue: str
    open: int
    oldest_age_s: float
    breaching_sla: int


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


#: Appends audit records, unsealed (see :meth:`OperationsStore.seal`). The ledger runs it too, in
#: the transaction of the effects the records describe (``Ledger.apply_audited``).
AUDIT_INSERT = (
    "INSERT INTO audit_log (tenant, message_id, stage, outcome, reason, correlation_id, "
    "trace_id, order_key, actor, details, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def audit_rows(records: Sequence[AuditRecord]) -> list[tuple[Any, ...]]:
    """``records`` as rows of :data:`AUDIT_INSERT`."""
    return [
        (
            r.tenant,
            r.message_id,
            r.stage,
            r.outcome,
            r.reason,
            r.correlation_id,
            r.trace_id,
            r.order_key,
            r.actor,
            _json(dict(r.details)),
            _ts(r.at),
        )
        for r in records
    ]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class OperationsStore:
    """Implements :class:`router.ports.DeadLetterStore`, ``HoldQueue`` and ``AuditSink``."""

    def __init__(
        self,
        db: Any,
        *,
        sla: Mapping[str, timedelta] = DEFAULT_SLA,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._sla = dict(sla)
        self._clock = clock
        self._lock = threading.RLock()

    # -- plumbing -------------------------------------------------------------------------------

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._lock:
            if self._db.name == "sqlite":
                self._db.begin_write()
                try:
                    self._db.conn.executemany(sql, rows)
                    self._db.commit()
                except BaseException:
                    self._db.rollback()
                    raise
            else:
                self._db.ensure_connected()  # after a database outage, write on a new connection
                with self._db.conn.transaction(), self._db.conn.cursor() as cursor:
                    cursor.executemany(sql.replace("?", "%s"), rows)

    def _executemany_in_transaction(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """executemany inside a transaction the caller opened with ``begin_write``."""
        if not rows:
            return
        if self._db.name == "sqlite":
            self._db.conn.executemany(sql, rows)
        else:
            with self._db.conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.query(sql, params))

    # -- router ports ---------------------------------------------------------------------------

    def put(self, letters: Sequence[DeadLetter]) -> None:
        now = self._clock()
        self._many(
            "INSERT INTO dead_letters (tenant, raw_id, stage, instance, event, reason, errors, raw, "
            "envelope, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            # A replayed message that fails again reopens its letter with the new reason.
            "ON CONFLICT (tenant, raw_id, stage) DO UPDATE SET reason = excluded.reason, "
            "errors = excluded.errors, envelope = excluded.envelope, failed_at = excluded.failed_at, "
            "status = 'open'",
            [
                (
                    letter.raw.tenant,
                    letter.raw.id,
                    letter.stage,
                    letter.raw.instance,
                    letter.raw.event,
                    letter.reason,
                    _json(list(letter.errors)),
                    encode_raw(letter.raw).decode(),
                    letter.envelope.model_dump_json() if letter.envelope else None,
                    _ts(letter.failed_at or now),
                )
                for letter in letters
            ],
        )

    def hold(self, items: Sequence[HeldMessage]) -> None:
        now = self._clock()
        rows = []
        for item in items:
            held_at = item.held_at or now
            payload = item.envelope.payload
            order_key = getattr(payload, "key", None) or getattr(
                getattr(payload, "order", None), "key", None
            )
            rows.append(
                (
                    item.envelope.tenant,
                    item.queue,
                    item.rule,
                    item.reason,
                    item.envelope.idempotency_key,
                    order_key,
                    encode_raw(item.raw).decode(),
                    item.envelope.model_dump_json(),
                    _json(list(item.passed_rules)),
                    _ts(held_at),
                    _ts(held_at + self._sla.get(item.queue, timedelta(hours=4))),
                )
            )
        self._many(
            "INSERT INTO held_messages (tenant, queue, rule, reason, idempotency_key, order_key, raw, "
            "envelope, passed_rules, held_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )

    def append(self, records: Sequence[AuditRecord]) -> None:
        self._many(AUDIT_INSERT, audit_rows(records))

    # -- dead letters ---------------------------------------------------------------------------

    _DEAD_COLUMNS = (
        "id, tenant, raw_id, stage, instance, event, reason, errors, failed_at, status, "
        "replay_count, raw, envelope, resolved_at, resolved_by, resolution_note"
    )

    @staticmethod
    def _dead_row(row: tuple[Any, ...]) -> DeadLetterRow:
        envelope = Envelope.model_validate_json(row[12]) if row[12] else None
        return DeadLetterRow(
            id=int(row[0]),
            tenant=row[1],
            raw_id=row[2],
            stage=row[3],
            instance=row[4],
            event=row[5],
            reason=row[6],
            errors=orjson.loads(row[7]),
            failed_at=datetime.fromisoformat(row[8]),
            status=row[9],
            replay_count=int(row[10]),
            raw=decode_raw(row[11]),
            envelope=envelope,
            resolved_at=datetime.fromisoformat(row[13]) if row[13] else None,
            resolved_by=row[14],
            resolution_note=row[15],
        )

    def dead_letters(
        self,
        *,
        tenant: str | None = None,
        status: str | None = "open",
        stage: str | None = None,
        reason_contains: str | None = None,
        limit: int = 100,
    ) -> list[DeadLetterRow]:
        conditions, params = [], []
        for column, value in (("tenant", tenant), ("status", status), ("stage", stage)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        if reason_contains:
            conditions.append("reason LIKE ?")
            params.append(f"%{reason_contains}%")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._query(
            f"SELECT {self._DEAD_COLUMNS} FROM dead_letters{where} ORDER BY id LIMIT ?",  # noqa: S608 - column names are constants
            [*params, limit],
        )
        return [self._dead_row(row) for row in rows]

    def open_dead_letters_by_tenant(self) -> dict[str, int]:
        rows = self._query(
            "SELECT tenant, COUNT(*) FROM dead_letters WHERE status = 'open' GROUP BY tenant"
        )
        return {str(tenant): int(count) for tenant, count in rows}

    def dead_letter(self, letter_id: int) -> DeadLetterRow | None:
        rows = self._query(
            f"SELECT {self._DEAD_COLUMNS} FROM dead_letters WHERE id = ?",  # noqa: S608 - constant columns
            [letter_id],
        )
        return self._dead_row(rows[0]) if rows else None

    def mark_replayed(self, ids: Sequence[int], *, since: datetime | None = None) -> None:
        """Record that these letters were sent through the pipeline again.

        A letter whose message failed again is reopened by :meth:`put` with the new reason; the
        replay calls this afterwards, so ``since`` (when the replay began) keeps such a letter
        open: one that failed after it is counted as replayed but stays ``open``.
        """
        now = _ts(self._clock())
        after = _ts(since) if since is not None else None
        self._many(
            "UPDATE dead_letters SET replay_count = replay_count + 1, replayed_at = ?, "
            "status = CASE WHEN failed_at > COALESCE(?, failed_at) THEN status ELSE 'replayed' END "
            "WHERE id = ?",
            [(now, after, letter_id) for letter_id in ids],
        )

    def resolve(self, letter_id: int, *, actor: str, note: str) -> DeadLetterRow | None:
        """Close an open dead letter by hand, without replaying it; None if there is no such letter.

        For failures handled outside the hub (the parcel was intercepted at the carrier, the product
        was deleted at the vendor, the webhook came from a test shop). The letter is kept, with
        status ``resolved`` and who, when and why, and the decision is an audit record (outcome
        ``resolved``, the actor, the note as its reason) written in the same transaction. The note
        is the operator's free text: it goes to the letter and the audit record, never to the
        process log. Raises :class:`DeadLetterNotOpenError` when the letter is already resolved or
        was replayed: a second resolution would overwrite the first one's note.
        """
        if not actor.strip():
            raise ValueError("a resolution needs an actor")
        if not note.strip():
            raise ValueError("a resolution needs a note: why the letter is closed without replay")
        note = note.strip()[:MAX_NOTE_LENGTH]
        now = self._clock()
        with self._lock:
            self._db.begin_write()
            try:
                rows = self._db.query(
                    f"SELECT {self._DEAD_COLUMNS} FROM dead_letters WHERE id = ?"  # noqa: S608 - constant columns
                    + self._db.for_update,
                    (letter_id,),
                )
                if not rows:
                    self._db.rollback()
                    return None
                row = self._dead_row(rows[0])
                if row.status != "open":
                    raise DeadLetterNotOpenError(row)
                self._db.execute(
                    "UPDATE dead_letters SET status = 'resolved', resolved_at = ?, resolved_by = ?, "
                    "resolution_note = ? WHERE id = ?",
                    (_ts(now), actor, note, letter_id),
                )
                envelope = row.envelope
                record = AuditRecord(
                    tenant=row.tenant,
                    message_id=str(envelope.message_id) if envelope else row.raw_id,
                    stage=row.stage,
                    outcome="resolved",
                    at=now,
                    reason=note,
                    correlation_id=envelope.correlation_id if envelope else None,
                    actor=actor,
                    order_key=envelope.order_key if envelope else None,
                    details={"raw_id": row.raw_id, "dead_letter": row.id},
                )
                self._executemany_in_transaction(AUDIT_INSERT, audit_rows([record]))
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
        return self.dead_letter(letter_id)

    # -- held messages --------------------------------------------------------------------------

    _HELD_COLUMNS = (
        "id, tenant, queue, rule, reason, order_key, held_at, due_at, status, actor, note, raw, "
        "envelope, passed_rules"
    )

    @staticmethod
    def _held_row(row: tuple[Any, ...]) -> HeldRow:
        raw = decode_raw(row[11])
        envelope = Envelope.model_validate_json(row[12])
        held_at = datetime.fromisoformat(row[6])
        message = HeldMessage(
            raw=raw,
            envelope=envelope,
            queue=row[2],
            rule=row[3],
            reason=row[4],
            passed_rules=tuple(orjson.loads(row[13])),
            held_at=held_at,
        )
        return HeldRow(
            id=int(row[0]),
            tenant=row[1],
            queue=row[2],
            rule=row[3],
            reason=row[4],
            order_key=row[5],
            held_at=held_at,
            due_at=datetime.fromisoformat(row[7]),
            status=row[8],
            actor=row[9],
            note=row[10],
            message=message,
        )

    def held(
        self,
        *,
        tenant: str | None = None,
        queue: str | None = None,
        status: str | None = "open",
        limit: int = 100,
    ) -> list[HeldRow]:
        conditions, params = [], []
        for column, value in (("tenant", tenant), ("queue", queue), ("status", status)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._query(
            f"SELECT {self._HELD_COLUMNS} FROM held_messages{where} ORDER BY id LIMIT ?",  # noqa: S608 - constant columns
            [*params, limit],
        )
        return [self._held_row(row) for row in rows]

    def held_item(self, held_id: int) -> HeldRow | None:
        rows = self._query(
            f"SELECT {self._HELD_COLUMNS} FROM held_messages WHERE id = ?",  # noqa: S608 - constant columns
            [held_id],
        )
        return self._held_row(rows[0]) if rows else None

    def decide(self, held_id: int, *, status: str, actor: str, note: str | None = None) -> bool:
        """Close an open held message (approved, rejected, resubmitted); False if not open."""
        if status not in {"approved", "rejected", "resubmitted"}:
            raise ValueError(f"unknown decision {status!r}")
        with self._lock:
            self._db.begin_write()
            try:
                changed = self._db.execute(
                    "UPDATE held_messages SET status = ?, decided_at = ?, actor = ?, note = ? "
                    "WHERE id = ? AND status = 'open'",
                    (status, _ts(self._clock()), actor, note, held_id),
                )
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
        return bool(changed)

    def reject(self, held: HeldRow, *, actor: str, note: str | None = None) -> bool:
        """Reject an open held message for good, and record who did and why in the audit log."""
        if not self.decide(held.id, status="rejected", actor=actor, note=note):
            return False
        self.append(
            [
                AuditRecord(
                    tenant=held.tenant,
                    message_id=str(held.message.envelope.message_id),
                    stage=held.queue,
                    outcome="rejected",
                    at=self._clock(),
                    reason=note or "",
                    actor=actor,
                    order_key=held.order_key,
                    details={"raw_id": held.message.raw.id},
                )
            ]
        )
        return True

    def queue_depths(self) -> list[QueueDepth]:
        now = self._clock()
        rows = self._query(
            "SELECT tenant, queue, COUNT(*), MIN(held_at), "
            "SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) FROM held_messages "
            "WHERE status = 'open' GROUP BY tenant, queue ORDER BY tenant, queue",
            [_ts(now)],
        )
        return [
            QueueDepth(
                tenant=row[0],
                queue=row[1],
                open=int(row[2]),
                oldest_age_s=max(0.0, (now - datetime.fromisoformat(row[3])).total_seconds()),
                breaching_sla=int(row[4] or 0),
            )
            for row in rows
        ]

    # -- audit ----------------------------------------------------------------------------------

    _AUDIT_COLUMNS = (
        "tenant, message_id, stage, outcome, at, reason, correlation_id, trace_id, order_key, "
        "actor, details, sequence, previous_hash, hash"
    )

    @staticmethod
    def _audit_row(row: tuple[Any, ...]) -> AuditRecord:
        return AuditRecord(
            tenant=row[0],
            message_id=row[1],
            stage=row[2],
            outcome=row[3],
            at=datetime.fromisoformat(row[4]),
            reason=row[5],
            correlation_id=row[6],
            trace_id=row[7],
            order_key=row[8],
            actor=row[9],
            details=orjson.loads(row[10]),
            sequence=int(row[11]) if row[11] is not None else 0,
            previous_hash=row[12] or GENESIS_HASH,
            hash=row[13] or "",
        )

    def audit_trail(
        self, tenant: str, *, message_id: str | None = None, order_key: str | None = None
    ) -> list[AuditRecord]:
        """Every record of one message (by envelope or raw id) or of one order, oldest first."""
        if message_id is not None:
            rows = self._query(
                f"SELECT {self._AUDIT_COLUMNS} FROM audit_log WHERE tenant = ? AND "  # noqa: S608 - constant columns
                "(message_id = ? OR details LIKE ?) ORDER BY id",
                [tenant, message_id, f'%"raw_id":"{message_id}"%'],
            )
        elif order_key is not None:
            rows = self._query(
                f"SELECT {self._AUDIT_COLUMNS} FROM audit_log WHERE tenant = ? AND order_key = ? "  # noqa: S608 - constant columns
                "ORDER BY id",
                [tenant, order_key],
            )
        else:
            raise ValueError("name a message_id or an order_key")
        return [self._audit_row(row) for row in rows]

    def tenants_with_audit(self) -> list[str]:
        return [
            row[0] for row in self._query("SELECT DISTINCT tenant FROM audit_log ORDER BY tenant")
        ]

    def seal(self, tenant: str) -> int:
        """Number and hash-link the tenant's unsealed records; returns how many were sealed."""
        with self._lock:
            self._db.begin_write()
            try:
                # Make sure the head row exists, so two first sealers lock the same row.
                self._db.execute(
                    "INSERT INTO audit_chain_heads (tenant, sequence, hash) VALUES (?, 0, ?) "
                    "ON CONFLICT DO NOTHING",
                    (tenant, GENESIS_HASH),
                )
                head = self._db.query(
                    "SELECT sequence, hash FROM audit_chain_heads WHERE tenant = ?"  # noqa: S608 - FOR UPDATE or nothing
                    + self._db.for_update,
                    (tenant,),
                )
                sequence, previous = int(head[0][0]), str(head[0][1])
                rows = self._db.query(
                    f"SELECT id, {self._AUDIT_COLUMNS} FROM audit_log "  # noqa: S608 - constant columns
                    "WHERE tenant = ? AND sequence IS NULL ORDER BY id",
                    (tenant,),
                )
                updates = []
                for row in rows:
                    sequence += 1
                    record = chain_record(self._audit_row(row[1:]), sequence, previous)
                    previous = record.hash
                    updates.append((sequence, record.previous_hash, record.hash, row[0]))
                self._executemany_in_transaction(
                    "UPDATE audit_log SET sequence = ?, previous_hash = ?, hash = ? WHERE id = ?",
                    updates,
                )
                if updates:
                    self._db.execute(
                        "UPDATE audit_chain_heads SET sequence = ?, hash = ? WHERE tenant = ?",
                        (sequence, previous, tenant),
                    )
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
        return len(updates)

    def verify(self, tenant: str) -> list[str]:
        """Seal what is new, then check the tenant's whole chain; empty means intact."""
        self.seal(tenant)
        rows = self._query(
            f"SELECT {self._AUDIT_COLUMNS} FROM audit_log WHERE tenant = ? ORDER BY sequence",  # noqa: S608 - constant columns
            [tenant],
        )
        return verify_chain(self._audit_row(row) for row in rows)
