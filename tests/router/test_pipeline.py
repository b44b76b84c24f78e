"""The routing pipeline with in-memory ports: stage outcomes, isolation, retries, holds and resume.

The ledger here is a small in-memory double with the real ledger's contract (unique idempotency
keys, ``rejected`` deliveries for bad messages); the end-to-end tests run the same pipeline on the
real ledger over SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from canonical import Envelope, Order, SourceRef
from canonical.examples import example_order
from router.audit import AuditRecord
from router.errors import MalformedMessageError, TransientError
from router.governance import GovernanceConfig
from router.idempotency import LocalFastPath
from router.pipeline import Disposition, Router, RouterConfig
from router.ports import DeadLetter, Delivery, HeldMessage, RawMessage
from router.retry import RetryPolicy
from tests.router.test_governance import DictCatalog

T0 = datetime(2026, 3, 2, tzinfo=UTC)


class JsonTranslator:
    """Body: {"order": <canonical order JSON>} or anything else (malformed)."""

    def translate(self, raw: RawMessage) -> list[Envelope]:
        try:
            data = json.loads(raw.body)["order"]
        except (ValueError, KeyError) as exc:
            raise MalformedMessageError(f"cannot translate {raw.event}: {exc}") from exc
        order = Order.model_validate(data)  # a ValidationError is described without its inputs
        return [
            Envelope.wrap(
                order,
                event_type="order.created",
                source=SourceRef(connector="test", instance=raw.instance),
                source_ids=(order.external_id, order.updated_at.isoformat()),
                occurred_at=order.updated_at,
                received_at=raw.received_at,
            )
        ]


@dataclass
class MemoryLedger:
    applied: dict[str, Envelope] = field(default_factory=dict)
    fail_times: int = 0
    poison: set[str] = field(default_factory=set)
    rejects: set[str] = field(default_factory=set)
    calls: int = 0

    def apply(self, envelopes: Sequence[Envelope]) -> list[Delivery]:
        self.calls += 1
        if self.fail_times:
            self.fail_times -= 1
            raise TransientError("database unavailable")
        if any(e.payload.external_id in self.poison for e in envelopes):  # type: ignore[union-attr]
            raise RuntimeError("bug triggered by this message")
        results = []
        for envelope in envelopes:
            external_id = envelope.payload.external_id  # type: ignore[union-attr]
            if external_id in self.rejects:
                results.append(Delivery("rejected", "unknown location", "unknown_location"))
            elif envelope.idempotency_key in self.applied:
                results.append(Delivery("duplicate"))
            else:
                self.applied[envelope.idempotency_key] = envelope
                results.append(Delivery("applied"))
        return results


@dataclass
class Stores:
    letters: list[DeadLetter] = field(default_factory=list)
    held: list[HeldMessage] = field(default_factory=list)
    records: list[AuditRecord] = field(default_factory=list)

    def put(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)

    def hold(self, items: Sequence[HeldMessage]) -> None:
        self.held.extend(items)

    def append(self, records: Sequence[AuditRecord]) -> None:
        self.records.extend(records)


def _raw(
    raw_id: str, external_id: str = "1001", body: bytes | None = None, **order: Any
) -> RawMessage:
    data = example_order().model_dump(mode="json")
    data.update(external_id=external_id, **order)
    return RawMessage(
        id=raw_id,
        tenant="acme",
        instance="shopify_us",
        event="orders/create",
        body=body if body is not None else json.dumps({"order": data}).encode(),
        received_at=T0,
    )


def _router(ledger: MemoryLedger, stores: Stores, **config: Any) -> Router:
    governance = GovernanceConfig.model_validate(config) if config else GovernanceConfig()
    return Router(
        translator=JsonTranslator(),
        ledger=ledger,
        catalog=DictCatalog(),
        fast_path=LocalFastPath(),
        dead_letters=stores,
        holds=stores,
        audit=stores,
        config=RouterConfig(
            governance=lambda _e: governance,
            retry=RetryPolicy(in_process_attempts=3, base_delay=0.001, max_delay=0.01),
        ),
    )


async def test_clean_messages_flow_straight_through_and_duplicates_are_counted() -> None:
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    first = await router.process([_raw("r1", "1"), _raw("r2", "2")])
    assert [r.dispositions for r in first] == [[Disposition.APPLIED], [Disposition.APPLIED]]
    again = await router.process([_raw("r3", "1"), _raw("r1", "1")])
    assert [r.dispositions for r in again] == [[Disposition.DUPLICATE], [Disposition.DUPLICATE]]
    assert all(r.terminal for r in first + again)
    assert len(ledger.applied) == 2
    assert ledger.calls == 1  # duplicates never reached the ledger
    stages = [(r.stage, r.outcome) for r in stores.records if r.details["raw_id"] == "r2"]
    assert stages == [("translate", "ok"), ("govern", "pass"), ("deliver", "applied")]


async def test_malformed_messages_are_dead_lettered_while_the_rest_flows() -> None:
    ledger, stores = MemoryLedger(), Stores()
    results = await _router(ledger, stores).process(
        [_raw("bad1", body=b"{not json"), _raw("ok", "7"), _raw("bad2", body=b'{"order": {}}')]
    )
    assert [r.dispositions for r in results] == [
        [Disposition.DEAD_LETTERED],
        [Disposition.APPLIED],
        [Disposition.DEAD_LETTERED],
    ]
    assert [letter.raw.id for letter in stores.letters] == ["bad1", "bad2"]
    assert stores.letters[0].stage == "translate"
    assert "MalformedMessageError: cannot translate orders/create" in stores.letters[0].reason
    assert stores.letters[1].raw.body == b'{"order": {}}'  # the original payload, for replay


async def test_high_value_order_waits_in_review_until_approved() -> None:
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores, high_value={"thresholds": {"USD": "50"}})
    [result] = await router.process([_raw("r1", "9")])
    assert result.dispositions == [Disposition.REVIEW]
    assert result.terminal  # held durably: the transport may acknowledge it
    assert ledger.applied == {}
    [held] = stores.held
    assert (held.queue, held.rule) == ("review", "high_value")

    resumed = await router.resume(held, actor="ops@acme")
    assert resumed.dispositions == [Disposition.APPLIED]
    assert len(ledger.applied) == 1
    approvals = [r for r in stores.records if r.outcome == "approved"]
    assert approvals[0].actor == "ops@acme"


async def test_price_exception_fixed_and_resubmitted_is_applied_once() -> None:
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    router._catalog.prices["TSHIRT-RED-M"] = example_order().lines[0].unit_price * 2  # type: ignore[attr-defined]
    [result] = await router.process([_raw("r1", "5")])
    assert result.dispositions == [Disposition.EXCEPTION]
    [held] = stores.held
    router._catalog.prices.clear()  # type: ignore[attr-defined]
    fixed = held.envelope
    assert (await router.resume(held, actor="ops", envelope=fixed)).dispositions == [
        Disposition.APPLIED
    ]
    assert (await router.resume(held, actor="ops", envelope=fixed)).dispositions == [
        Disposition.DUPLICATE
    ]
    assert len(ledger.applied) == 1


async def test_transient_ledger_failures_are_retried_and_audited() -> None:
    ledger, stores = MemoryLedger(fail_times=2), Stores()
    [result] = await _router(ledger, stores).process([_raw("r1", "3")])
    assert result.dispositions == [Disposition.APPLIED]
    retries = [r for r in stores.records if r.outcome == "retrying"]
    assert [r.details["attempt"] for r in retries] == [1, 2]
    assert "database unavailable" in retries[0].reason


async def test_a_ledger_outage_leaves_messages_for_redelivery_and_releases_claims() -> None:
    ledger, stores = MemoryLedger(fail_times=100), Stores()
    router = _router(ledger, stores)
    [result] = await router.process([_raw("r1", "3")])
    assert result.dispositions == [Disposition.RETRY]
    assert not result.terminal
    ledger.fail_times = 0
    [again] = await router.process([_raw("r1", "3")])
    assert again.dispositions == [Disposition.APPLIED]  # not mistaken for a duplicate


async def test_a_poison_message_is_isolated_and_the_rest_commit_once() -> None:
    ledger, stores = MemoryLedger(poison={"66"}), Stores()
    results = await _router(ledger, stores).process(
        [_raw("a", "65"), _raw("p", "66"), _raw("b", "67")]
    )
    assert [r.dispositions for r in results] == [
        [Disposition.APPLIED],
        [Disposition.DEAD_LETTERED],
        [Disposition.APPLIED],
    ]
    assert len(ledger.applied) == 2
    assert "bug triggered by this message" in stores.letters[0].reason


async def test_a_rejected_delivery_is_dead_lettered_and_replayable() -> None:
    ledger, stores = MemoryLedger(rejects={"70"}), Stores()
    router = _router(ledger, stores)
    [result] = await router.process([_raw("r", "70")])
    assert result.dispositions == [Disposition.DEAD_LETTERED]
    assert stores.letters[0].reason == "unknown_location: unknown location"
    ledger.rejects.clear()
    [replayed] = await router.process([stores.letters[0].raw])
    assert replayed.dispositions == [Disposition.APPLIED]


@pytest.mark.parametrize("size", [1, 50])
async def test_every_message_gets_one_outcome_and_an_audit_trail(size: int) -> None:
    ledger, stores = MemoryLedger(), Stores()
    batch = [_raw(f"r{i}", str(i)) for i in range(size)]
    redelivered = [_raw(f"again{i}", str(i)) for i in range(min(3, size))]
    results = await _router(ledger, stores).process(batch + redelivered + batch[:1])
    assert len(results) == size + len(redelivered) + 1
    assert all(len(r.dispositions) == 1 and r.terminal for r in results)
    delivered = {
        r.details["raw_id"] for r in stores.records if r.stage in {"deliver", "deduplicate"}
    }
    assert delivered == {raw.id for raw in batch + redelivered}
    assert len(ledger.applied) == size


async def test_reasons_never_quote_personal_data_from_validation_errors() -> None:
    ledger, stores = MemoryLedger(), Stores()
    data = example_order().model_dump(mode="json")
    data["customer"]["email"] = "not-an-email jane.private@example.com"
    raw = _raw("r1", body=json.dumps({"order": data}).encode())
    [result] = await _router(ledger, stores).process([raw])
    assert result.dispositions == [Disposition.DEAD_LETTERED]
    assert "customer.email" in stores.letters[0].reason
    assert "jane.private" not in stores.letters[0].reason
    assert all("jane.private" not in r.reason for r in stores.records)


@dataclass
class FlakyStores(Stores):
    """Stores whose writes fail transiently while ``down`` (a database outage)."""

    down: bool = False

    def put(self, letters: Sequence[DeadLetter]) -> None:
        if self.down:
            raise TransientError("operations store unavailable")
        super().put(letters)

    def append(self, records: Sequence[AuditRecord]) -> None:
        if self.down:
            raise TransientError("operations store unavailable")
        super().append(records)


async def test_audit_records_survive_an_audit_store_outage_after_the_ledger_committed() -> None:
    """The ledger committed, the audit store is down: the outcome stays terminal (acknowledged)
    and its audit records are written with the next batch, not lost."""
    ledger, stores = MemoryLedger(), FlakyStores(down=True)
    router = _router(ledger, stores)
    [first] = await router.process([_raw("r1", "1")])
    assert first.dispositions == [Disposition.APPLIED]
    assert first.terminal
    assert stores.records == []
    stores.down = False
    await router.process([_raw("r2", "2")])
    applied = [r.details["raw_id"] for r in stores.records if r.outcome == "applied"]
    assert applied == ["r1", "r2"]


async def test_a_dead_letter_that_cannot_be_stored_is_not_acknowledged() -> None:
    """A dead letter lost to a store outage would lose the message: it is redelivered instead."""
    ledger, stores = MemoryLedger(), FlakyStores(down=True)
    router = _router(ledger, stores)
    [result] = await router.process([_raw("bad", body=b"{not json")])
    assert Disposition.RETRY in result.dispositions
    assert not result.terminal
    stores.down = False
    [again] = await router.process([_raw("bad", body=b"{not json")])
    assert again.dispositions == [Disposition.DEAD_LETTERED]
    assert [letter.raw.id for letter in stores.letters] == ["bad"]
