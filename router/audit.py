"""The audit log's records and their hash chain.

Every stage outcome of every message writes one record: which message, which flow (correlation
id), which trace, which stage, what happened, why, who decided (for manual decisions) and when.
Records are append-only and tamper-evident: each carries the SHA-256 of its own content and of the
previous record of the same tenant, so changing, removing or reordering any record breaks every
hash after it, and :func:`verify_chain` finds where. Payloads are never stored in the audit log;
details are redacted with the canonical model's personal-data marks before they get here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

import orjson

__all__ = ["GENESIS_HASH", "AuditRecord", "chain_record", "record_hash", "verify_chain"]

#: The "previous hash" of a tenant's first record.
GENESIS_HASH: Final = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stage outcome of one message."""

    tenant: str
    message_id: str
    stage: str
    outcome: str
    at: datetime
    reason: str = ""
    correlation_id: str | None = None
    trace_id: str | None = None
    order_key: str | None = None
    actor: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    sequence: int = 0
    previous_hash: str = GENESIS_HASH
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """Everything the hash covers (all fields but the hash itself)."""
        return {
            "tenant": self.tenant,
            "sequence": self.sequence,
            "message_id": self.message_id,
            "stage": self.stage,
            "outcome": self.outcome,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "correlation_id": self.correlation_id,
            "trace_id": self.trace_id,
            "order_key": self.order_key,
            "actor": self.actor,
            "details": dict(self.details),
            "previous_hash": self.previous_hash,
        }


def record_hash(record: AuditRecord) -> str:
    """SHA-256 over the record's canonical JSON (sorted keys), which includes the previous hash."""
    encoded = orjson.dumps(record.content(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()


def chain_record(record: AuditRecord, sequence: int, previous_hash: str) -> AuditRecord:
    """``record`` placed after the tenant's last record: numbered, linked and hashed."""
    linked = replace(record, sequence=sequence, previous_hash=previous_hash, hash="")
    return replace(linked, hash=record_hash(linked))


def verify_chain(records: Iterable[AuditRecord]) -> list[str]:
    """Problems in a tenant-ordered run of records; an empty list means the chain is intact."""
    problems: list[str] = []
    last: dict[str, tuple[int, str]] = {}
    for record in records:
        expected_sequence, expected_previous = last.get(record.tenant, (1, GENESIS_HASH))
        if record.sequence != expected_sequence:
            problems.append(
                f"{record.tenant} #{record.sequence}: expected record #{expected_sequence} "
                "(a record was removed, inserted or reordered)"
            )
        if record.previous_hash != expected_previous:
            problems.append(
                f"{record.tenant} #{record.sequence}: link to the previous record is broken"
            )
        if record_hash(record) != record.hash:
            problems.append(f"{record.tenant} #{record.sequence}: content does not match its hash")
        last[record.tenant] = (record.sequence + 1, record.hash)
    return problems
