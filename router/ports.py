"""What the router needs from the rest of the hub, as small protocols.

The router never imports the ledger, the connectors or the stores: the hub passes in objects that
satisfy these protocols. That keeps the pipeline testable on its own and lets one code path run on
the embedded default (SQLite, in-process transport) and at scale (PostgreSQL, Redis Streams).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from canonical import Envelope
from router.audit import AuditRecord

__all__ = [
    "AuditSink",
    "AuditingLedger",
    "DeadLetter",
    "DeadLetterStore",
    "Delivery",
    "DeliveryLike",
    "HeldMessage",
    "HoldQueue",
    "Ledger",
    "RawMessage",
    "Translator",
]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A vendor payload as the ingress or a poller accepted it, before translation."""

    #: The transport's id (a stream entry or inbox row id): stable across redeliveries.
    id: str
    tenant: str
    instance: str
    event: str
    #: The vendor payload, kept out of ``repr`` because it holds personal data.
    body: bytes = field(repr=False)
    received_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    traceparent: str | None = None
    attempt: int = 1


class Translator(Protocol):
    """Turns a raw vendor payload into canonical envelopes (the connector's pure translation).

    Raises :class:`router.errors.PermanentError` (or any error :func:`router.retry.is_transient`
    calls permanent) when the payload cannot be translated.
    """

    def translate(self, raw: RawMessage) -> list[Envelope]: ...


class DeliveryLike(Protocol):
    """What the router reads of the ledger's answer for one envelope (any object with these
    fields: :class:`Delivery`, or a ledger's own result type)."""

    @property
    def outcome(self) -> str: ...  # "applied" | "duplicate" | "stale" | "parked" | "rejected"

    @property
    def reason(self) -> str: ...

    @property
    def code(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """The ledger's answer for one envelope."""

    outcome: str  # "applied" | "duplicate" | "stale" | "parked" | "rejected"
    reason: str = ""
    code: str = ""


class Ledger(Protocol):
    """The system of record: applies a batch in one transaction, idempotently.

    Returns one :class:`Delivery` per envelope, in order. A transient failure (database down)
    raises; a message the ledger refuses is a ``rejected`` delivery, not an exception, so the rest
    of the batch still commits.
    """

    def apply(self, envelopes: Sequence[Envelope]) -> Sequence[DeliveryLike]: ...


class AuditingLedger(Ledger, Protocol):
    """A ledger that also writes audit records in the transaction of the effects they describe.

    ``audit`` is called inside the transaction, before its commit, with the batch's deliveries
    (again on each attempt, so it must only build records); the records it returns commit or roll
    back with the effects. The router uses it when the ledger has it (the hub's ledger keeps the
    audit log in its own database), so a crash between the ledger's commit and the router's own
    audit write cannot leave an effect without its ``deliver`` record.
    """

    def apply_audited(
        self,
        envelopes: Sequence[Envelope],
        audit: Callable[[Sequence[DeliveryLike]], Sequence[AuditRecord]],
    ) -> Sequence[DeliveryLike]: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that cannot be processed without a fix, with everything needed to replay it."""

    raw: RawMessage
    stage: str
    reason: str
    errors: tuple[str, ...] = ()
    envelope: Envelope | None = None
    failed_at: datetime | None = None


class DeadLetterStore(Protocol):
    def put(self, letters: Sequence[DeadLetter]) -> None: ...


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """An envelope waiting for a person: an exception to fix or a review to decide."""

    raw: RawMessage
    envelope: Envelope
    queue: str  # "exception" | "review"
    rule: str
    reason: str
    passed_rules: tuple[str, ...] = ()
    held_at: datetime | None = None


class HoldQueue(Protocol):
    def hold(self, items: Sequence[HeldMessage]) -> None: ...


class AuditSink(Protocol):
    def append(self, records: Sequence[AuditRecord]) -> None: ...


def describe(error: BaseException) -> str:
    """A one-line description of an error for audit and dead-letter records.

    Validation errors are described by field and reason only: pydantic's own text quotes the
    offending input, which may be personal data or a secret.
    """
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in item['loc']) or '(value)'}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False, include_context=False)
        ]
        text: Any = f"{error.error_count()} validation error(s) for {error.title}: " + "; ".join(
            parts
        )
    else:
        text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:1000]
