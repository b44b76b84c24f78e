"""The routing pipeline: translate, validate, govern, deduplicate, deliver, audit; in batches.

One call of :meth:`Router.process` takes a batch of raw messages from a transport and returns, for
each, whether it reached a terminal outcome (the transport may acknowledge it) or must be tried
again later (the transport leaves it for redelivery). Nothing is lost on the way: a payload that
cannot be translated goes to the dead-letter store with its reason, a message a rule stops goes to
the exception or review queue, and every stage outcome is written to the audit log.

Per message:

``translate``
    the connector's pure translation into canonical envelopes (pydantic validates them);
``govern``
    the route's rules in their fixed order (:mod:`router.governance`);
``deduplicate``
    the fast path (:mod:`router.idempotency`) skips work already done;
``deliver``
    the ledger applies the batch in one transaction, with short in-process retries for transient
    failures; the ledger's unique key is the exactly-once guarantee.

Work is batched at every stage: one fast-path pipeline per tenant, one ledger transaction, one write
each for dead letters, held messages and audit records.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from canonical import Envelope
from router.audit import AuditRecord
from router.governance import Catalog, GovernanceConfig, Outcome, TaxQuoter, evaluate
from router.idempotency import Claim, FastPath
from router.metrics import RECEIVED_TO_DELIVERED, STAGE_SECONDS, count_outcomes
from router.ports import (
    AuditSink,
    DeadLetter,
    DeadLetterStore,
    Delivery,
    DeliveryLike,
    HeldMessage,
    HoldQueue,
    Ledger,
    RawMessage,
    Translator,
    describe,
)
from router.retry import RetryPolicy, is_transient, run_with_retries
from router.tracing import message_span, stage_span, trace_id_of, traceparent_of

__all__ = ["Disposition", "RawResult", "Router", "RouterConfig"]


class Disposition(StrEnum):
    """What became of one envelope (or of a raw message that produced none)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    PARKED = "parked"
    IGNORED = "ignored"
    EXCEPTION = "exception"
    REVIEW = "review"
    DEAD_LETTERED = "dead_lettered"
    RETRY = "retry"


TERMINAL = frozenset(set(Disposition) - {Disposition.RETRY})
#: The rules when none are configured: one (frozen) instance, not a new one per message.
_DEFAULT_GOVERNANCE = GovernanceConfig()
#: How many audit records a worker keeps while the audit store is unreachable (bounded memory).
_AUDIT_BACKLOG = 100_000


@dataclass
class RawResult:
    """The outcome of one raw message: terminal (acknowledge it) or not (redeliver it later)."""

    raw_id: str
    dispositions: list[Disposition] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return bool(self.dispositions) and all(d in TERMINAL for d in self.dispositions)

    def add(self, disposition: Disposition, reason: str = "") -> None:
        self.dispositions.append(disposition)
        if reason:
            self.reasons.append(reason)


@dataclass(frozen=True)
class RouterConfig:
    """How the router treats messages: governance per route, retry policy, tenant-less defaults."""

    governance: Callable[[Envelope], GovernanceConfig] = lambda _envelope: _DEFAULT_GOVERNANCE
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def _trace_id(traceparent: str | None) -> str | None:
    return traceparent.split("-")[1] if traceparent and traceparent.count("-") == 3 else None


@dataclass
class _Work:
    raw: RawMessage
    envelope: Envelope
    passed_rules: tuple[str, ...] = ()


class Router:
    """The pipeline, wired to its ports by the hub."""

    def __init__(
        self,
        *,
        translator: Translator,
        ledger: Ledger,
        catalog: Catalog,
        fast_path: FastPath,
        dead_letters: DeadLetterStore,
        holds: HoldQueue,
        audit: AuditSink,
        config: RouterConfig | None = None,
        tax_quoter: TaxQuoter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._translator = translator
        self._ledger = ledger
        self._catalog = catalog
        self._fast_path = fast_path
        self._dead_letters = dead_letters
        self._holds = holds
        self._audit_sink = audit
        self._config = config or RouterConfig()
        self._tax_quoter = tax_quoter
        self._clock = clock
        #: audit records a store outage kept from being written; written with the next batch
        self._audit_backlog: list[AuditRecord] = []

    def reconfigure(
        self, *, translator: Translator | None = None, config: RouterConfig | None = None
    ) -> None:
        """Switch translation or rules (a redeploy); batches already running finish on the old ones.

        Nothing is dropped or applied twice by a switch: messages wait durably in the transport,
        and a batch takes its configuration once, when it starts.
        """
        if translator is not None:
            self._translator = translator
        if config is not None:
            self._config = config

    # -- entry points ---------------------------------------------------------------------------

    async def process(self, batch: Sequence[RawMessage]) -> list[RawResult]:
        """Run a batch of raw messages through every stage; one result per message, in order."""
        unique = list({raw.id: raw for raw in batch}.values())  # a transport may repeat an entry
        run = _Run(self, unique)
        work = run.translate()
        work = await run.govern(work)
        await run.deliver(work)
        run.flush()
        run.end_spans()
        return [run.results[raw.id] for raw in batch]

    async def resume(
        self, held: HeldMessage, *, actor: str, envelope: Envelope | None = None
    ) -> RawResult:
        """Continue a held message after a person's decision.

        An approved review resumes after the rule that stopped it (and those it had passed); a fixed
        exception (``envelope`` replaced by the operator) is governed again from the first rule.
        """
        run = _Run(self, [held.raw])
        skip = (*held.passed_rules, held.rule) if envelope is None else ()
        item = _Work(held.raw, envelope or held.envelope, skip)
        run.audit(
            item.raw, item.envelope, "review", "approved", f"{held.rule}: {held.reason}", actor
        )
        work = await run.govern([item])
        await run.deliver(work)
        run.flush()
        run.end_spans()
        return run.results[held.raw.id]


class _Run:
    """The state of one batch as it moves through the stages."""

    def __init__(self, router: Router, batch: Sequence[RawMessage]) -> None:
        self.router = router
        # One configuration per batch: a redeploy between batches never mixes two in one.
        self.translator = router._translator
        self.config = router._config
        self.batch = batch
        self.now = router._clock()
        self.results = {raw.id: RawResult(raw.id) for raw in batch}
        self.spans = {raw.id: message_span(raw) for raw in batch}
        self.letters: list[DeadLetter] = []
        self.held: list[HeldMessage] = []
        self.records: list[AuditRecord] = []
        #: records the ledger wrote in the transaction of the effects they describe (see
        #: ``AuditingLedger``), and the items whose ``deliver`` record is among them
        self.committed: list[AuditRecord] = []
        self.audited_in_ledger: set[int] = set()

    # -- bookkeeping ----------------------------------------------------------------------------

    def audit(
        self,
        raw: RawMessage,
        envelope: Envelope | None,
        stage: str,
        outcome: str,
        reason: str = "",
        actor: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        self.records.append(self.record(raw, envelope, stage, outcome, reason, actor, details))

    def record(
        self,
        raw: RawMessage,
        envelope: Envelope | None,
        stage: str,
        outcome: str,
        reason: str = "",
        actor: str | None = None,
        details: dict[str, object] | None = None,
    ) -> AuditRecord:
        return AuditRecord(
            tenant=raw.tenant,
            message_id=str(envelope.message_id) if envelope else raw.id,
            stage=stage,
            outcome=outcome,
            at=self.router._clock(),
            reason=reason,
            correlation_id=envelope.correlation_id if envelope else None,
            trace_id=_trace_id(envelope.traceparent if envelope else raw.traceparent)
            or trace_id_of(self.spans[raw.id]),
            order_key=envelope.order_key if envelope else None,
            actor=actor,
            details={"raw_id": raw.id, **(details or {})},
        )

    def dead_letter(
        self,
        raw: RawMessage,
        stage: str,
        reason: str,
        envelope: Envelope | None = None,
        errors: tuple[str, ...] = (),
    ) -> None:
        self.letters.append(
            DeadLetter(
                raw=raw,
                stage=stage,
                reason=reason,
                errors=errors or (reason,),
                envelope=envelope,
                failed_at=self.now,
            )
        )
        self.results[raw.id].add(Disposition.DEAD_LETTERED, reason)
        self.audit(raw, envelope, stage, "dead_lettered", reason)

    def end_spans(self) -> None:
        for raw_id, span in self.spans.items():
            result = self.results[raw_id]
            span.set_attribute("hub.outcome", ",".join(d.value for d in result.dispositions))
            span.end()

    def flush(self) -> None:
        """Persist dead letters, held messages and audit records, one write each.

        The stores may be down (a database outage) after the ledger committed. A dead letter or a
        held message that cannot be written must not be acknowledged, so its message turns back to
        ``retry`` and the transport redelivers it. Audit records are kept by the router and written
        with the next batch that can write them, rather than lost with the batch: the ledger's
        effects they describe are already committed and acknowledged.
        """
        router = self.router
        try:
            if self.letters:
                router._dead_letters.put(self.letters)
            if self.held:
                router._holds.hold(self.held)
        except Exception as exc:
            if not is_transient(exc):
                raise
            for raw_id in {i.raw.id for i in self.letters} | {i.raw.id for i in self.held}:
                self.results[raw_id].add(Disposition.RETRY, describe(exc))
        if self.committed:
            count_outcomes(self.committed)
        records = [*router._audit_backlog, *self.records]
        if not records:
            return
        try:
            router._audit_sink.append(records)
        except Exception as exc:
            if not is_transient(exc):
                raise
            router._audit_backlog = records[-_AUDIT_BACKLOG:]
            return
        router._audit_backlog = []
        count_outcomes(self.records)

    # -- stages ---------------------------------------------------------------------------------

    def translate(self) -> list[_Work]:
        work: list[_Work] = []
        for raw in self.batch:
            span = self.spans[raw.id]
            try:
                with stage_span(span, "hub.translate"):
                    envelopes = self.translator.translate(raw)
            except Exception as exc:  # noqa: BLE001 - every failure is classified; none escapes
                if is_transient(exc):
                    self.results[raw.id].add(Disposition.RETRY, describe(exc))
                    self.audit(raw, None, "translate", "retry", describe(exc))
                else:
                    self.dead_letter(raw, "translate", describe(exc))
                continue
            if not envelopes:
                self.results[raw.id].add(Disposition.IGNORED, "no canonical event in this payload")
                self.audit(raw, None, "translate", "ignored", "no canonical event in this payload")
                continue
            parent = traceparent_of(span)
            for original in envelopes:
                envelope = (
                    original.model_copy(update={"traceparent": parent})
                    if parent and not original.traceparent
                    else original
                )
                self.audit(
                    raw, envelope, "translate", "ok", details={"event_type": envelope.event_type}
                )
                work.append(_Work(raw, envelope))
        return work

    async def govern(self, work: list[_Work]) -> list[_Work]:
        passing: list[_Work] = []
        for item in work:
            config = self.config.governance(item.envelope)
            span = self.spans[item.raw.id]
            try:
                with stage_span(span, "hub.govern", {"hub.event_type": item.envelope.event_type}):
                    verdict = await evaluate(
                        item.envelope,
                        config,
                        self.router._catalog,
                        self.router._tax_quoter,
                        skip=item.passed_rules,
                    )
            except Exception as exc:  # noqa: BLE001 - a rule that crashes must not lose the message
                if is_transient(exc):
                    self.results[item.raw.id].add(Disposition.RETRY, describe(exc))
                    self.audit(item.raw, item.envelope, "govern", "retry", describe(exc))
                else:
                    self.dead_letter(item.raw, "govern", describe(exc), item.envelope)
                continue
            stopped = verdict.stopped_by
            if stopped is None:
                self.audit(item.raw, item.envelope, "govern", "pass")
                passing.append(item)
                continue
            queue = "review" if verdict.outcome is Outcome.REVIEW else "exception"
            passed = item.passed_rules + tuple(
                r.rule for r in verdict.results if r.outcome is Outcome.PASS
            )
            self.held.append(
                HeldMessage(
                    raw=item.raw,
                    envelope=item.envelope,
                    queue=queue,
                    rule=stopped.rule,
                    reason=stopped.reason,
                    passed_rules=passed,
                    held_at=self.now,
                )
            )
            self.results[item.raw.id].add(Disposition(queue), f"{stopped.rule}: {stopped.reason}")
            self.audit(
                item.raw, item.envelope, "govern", queue, f"{stopped.rule}: {stopped.reason}"
            )
        return passing

    async def _claim(self, work: list[_Work]) -> list[_Work]:
        by_tenant: dict[str, list[_Work]] = defaultdict(list)
        for item in work:
            by_tenant[item.envelope.tenant].append(item)
        fresh: list[_Work] = []
        for tenant, items in by_tenant.items():
            try:
                claims = await self.router._fast_path.claim(
                    tenant, [i.envelope.idempotency_key for i in items]
                )
            except Exception as exc:  # noqa: BLE001 - the fast path is an optimisation only
                self.audit(items[0].raw, None, "deduplicate", "bypassed", describe(exc))
                fresh.extend(items)
                continue
            for item, claim in zip(items, claims, strict=True):
                if claim is Claim.DONE:
                    self.results[item.raw.id].add(Disposition.DUPLICATE)
                    self.audit(item.raw, item.envelope, "deduplicate", "duplicate")
                elif claim is Claim.BUSY:
                    self.results[item.raw.id].add(Disposition.RETRY, "in flight in another worker")
                    self.audit(item.raw, item.envelope, "deduplicate", "busy")
                else:
                    fresh.append(item)
        return fresh

    async def _settle_fast_path(self, done: list[_Work], released: list[_Work]) -> None:
        for items, settle in (
            (done, self.router._fast_path.complete),
            (released, self.router._fast_path.release),
        ):
            by_tenant: dict[str, list[str]] = defaultdict(list)
            for item in items:
                by_tenant[item.envelope.tenant].append(item.envelope.idempotency_key)
            for tenant, keys in by_tenant.items():
                try:
                    await settle(tenant, keys)
                except Exception as exc:  # noqa: BLE001 - losing a fast-path mark costs a lookup, nothing more
                    self.audit(items[0].raw, None, "deduplicate", "mark_failed", describe(exc))

    async def deliver(self, work: list[_Work]) -> None:
        work = await self._claim(work)
        if not work:
            return
        started = time.time_ns()
        deliveries = await self._apply(work)
        finished = time.time_ns()
        STAGE_SECONDS.labels("deliver").observe((finished - started) / 1e9)
        committed_at = self.router._clock()
        for item, delivery in zip(work, deliveries, strict=True):
            attributes = {
                "hub.event_type": item.envelope.event_type,
                "hub.outcome": delivery.outcome if delivery else "retry",
                "hub.batch_size": len(work),
            }
            order_key = item.envelope.order_key
            if order_key:
                attributes["hub.order_key"] = order_key
            with stage_span(
                self.spans[item.raw.id],
                "hub.ledger.apply",
                attributes,
                start_time=started,
                end_time=finished,
            ):
                pass
        done: list[_Work] = []
        released: list[_Work] = []
        for item, delivery in zip(work, deliveries, strict=True):
            if delivery is None:  # transient failure: leave it for redelivery
                released.append(item)
            elif delivery.outcome == "rejected":
                released.append(item)
                reason = f"{delivery.code}: {delivery.reason}" if delivery.code else delivery.reason
                self.dead_letter(item.raw, "deliver", reason, item.envelope)
            else:
                disposition = Disposition(delivery.outcome)
                done.append(item)
                if disposition is Disposition.APPLIED:
                    lag = (committed_at - item.raw.received_at).total_seconds()
                    RECEIVED_TO_DELIVERED.observe(max(0.0, lag))
                self.results[item.raw.id].add(disposition, delivery.reason)
                if id(item) not in self.audited_in_ledger:
                    self.audit(
                        item.raw, item.envelope, "deliver", disposition.value, delivery.reason
                    )
        await self._settle_fast_path(done, released)

    async def _apply(self, work: list[_Work]) -> list[DeliveryLike | None]:
        """Apply the batch: one delivery per item, ``None`` for an item to retry later.

        Transient failures are retried in process, then left for redelivery. A failure that is not
        transient should not happen (the ledger answers ``rejected`` for bad messages); if it does,
        the batch is split to one message at a time so the poison one cannot hold the others back.
        """
        envelopes = [item.envelope for item in work]
        ledger = self.router._ledger
        apply_audited = getattr(ledger, "apply_audited", None)
        #: the records the ledger's last attempt wrote (the committed one, if the apply returns)
        written: list[list[AuditRecord]] = []

        def in_transaction(deliveries: Sequence[DeliveryLike]) -> list[AuditRecord]:
            records = self._records_in_transaction(work, deliveries)
            written[:] = [records]
            return records

        def on_retry(attempt: int, error: BaseException, delay: float) -> None:
            for item in work:
                self.audit(
                    item.raw,
                    item.envelope,
                    "deliver",
                    "retrying",
                    describe(error),
                    details={"attempt": attempt, "delay_s": round(delay, 3)},
                )

        async def apply_batch() -> Sequence[DeliveryLike]:
            written.clear()
            if apply_audited is not None:
                deliveries: Sequence[DeliveryLike] = await asyncio.to_thread(
                    apply_audited, envelopes, in_transaction
                )
                return deliveries
            return await asyncio.to_thread(ledger.apply, envelopes)

        try:
            deliveries = await run_with_retries(apply_batch, self.config.retry, on_retry=on_retry)
        except Exception as exc:  # noqa: BLE001 - classified below
            if is_transient(exc):
                for item in work:
                    self.results[item.raw.id].add(Disposition.RETRY, describe(exc))
                    self.audit(item.raw, item.envelope, "deliver", "retry", describe(exc))
                return [None] * len(work)
            if len(work) == 1:
                return [Delivery("rejected", describe(exc), "ledger_error")]
            isolated: list[DeliveryLike | None] = []
            for item in work:
                isolated.extend(await self._apply([item]))
            return isolated
        if len(deliveries) != len(envelopes):
            raise RuntimeError("the ledger returned a different number of results than envelopes")
        if written:
            self._committed_with_ledger(work, deliveries, written[0])
        return list(deliveries)

    def _records_in_transaction(
        self, work: list[_Work], deliveries: Sequence[DeliveryLike]
    ) -> list[AuditRecord]:
        """What the ledger writes with its commit: the records so far of the messages it applies
        (translate, govern, deduplicate, in their order) and each effect's ``deliver`` record.

        A refused message is not among them: it is dead-lettered after the commit, and its
        records are written with the letter (a crash before that redelivers it whole)."""
        effects = [
            (item, delivery)
            for item, delivery in zip(work, deliveries, strict=True)
            if delivery.outcome != "rejected"
        ]
        raw_ids = {item.raw.id for item, _ in effects}
        earlier = [r for r in self.records if r.details.get("raw_id") in raw_ids]
        delivered = [
            self.record(item.raw, item.envelope, "deliver", delivery.outcome, delivery.reason)
            for item, delivery in effects
        ]
        return [*earlier, *delivered]

    def _committed_with_ledger(
        self, work: list[_Work], deliveries: Sequence[DeliveryLike], records: list[AuditRecord]
    ) -> None:
        """The ledger committed ``records`` with the batch: they are not written again."""
        done = {id(record) for record in records}
        self.records = [r for r in self.records if id(r) not in done]
        self.committed.extend(records)
        for item, delivery in zip(work, deliveries, strict=True):
            if delivery.outcome != "rejected":
                self.audited_in_ledger.add(id(item))
