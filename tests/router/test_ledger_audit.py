"""Audit records written by the ledger in the transaction of the effects they describe.

A ledger with ``apply_audited`` (the hub's) takes the batch's records (each applied message's
translate and govern records and its ``deliver`` record) into its own transaction, so a crash
between the ledger's commit and the router's audit write cannot leave an effect unaudited. The
double here commits the records only when its attempt succeeds, as a transaction would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from canonical import Envelope
from router.audit import AuditRecord
from router.errors import TransientError
from router.pipeline import Disposition
from router.ports import Delivery
from tests.router.test_pipeline import FlakyStores, MemoryLedger, Stores, _raw, _router


@dataclass
class AuditingLedger(MemoryLedger):
    """``MemoryLedger`` whose records commit with its effects; ``lose_commits`` attempts fail
    after the records were built (the connection lost before COMMIT): nothing of them stays."""

    committed: list[AuditRecord] = field(default_factory=list)
    lose_commits: int = 0

    def apply_audited(
        self,
        envelopes: Sequence[Envelope],
        audit: Callable[[Sequence[Delivery]], Sequence[AuditRecord]],
    ) -> list[Delivery]:
        before = dict(self.applied)
        results = self.apply(envelopes)
        records = list(audit(results))
        if self.lose_commits:
            self.lose_commits -= 1
            self.applied = before
            raise TransientError("connection lost before COMMIT")
        self.committed.extend(records)
        return results


def _trail(records: list[AuditRecord], raw_id: str) -> list[tuple[str, str]]:
    return [(r.stage, r.outcome) for r in records if r.details["raw_id"] == raw_id]


async def test_applied_messages_are_audited_in_the_ledgers_transaction() -> None:
    ledger, stores = AuditingLedger(), Stores()
    results = await _router(ledger, stores).process([_raw("r1", "1"), _raw("r2", "2")])
    assert [r.dispositions for r in results] == [[Disposition.APPLIED], [Disposition.APPLIED]]
    for raw_id in ("r1", "r2"):
        assert _trail(ledger.committed, raw_id) == [
            ("translate", "ok"),
            ("govern", "pass"),
            ("deliver", "applied"),
        ]
    assert stores.records == []  # nothing left for the audit store: nothing written twice


async def test_effects_stay_audited_when_the_audit_store_is_down_after_the_commit() -> None:
    """What a crash after the ledger's commit looks like to the audit store: it never gets the
    batch. The effects' records committed with them all the same."""
    ledger, stores = AuditingLedger(), FlakyStores(down=True)
    [result] = await _router(ledger, stores).process([_raw("r1", "1")])
    assert result.terminal
    assert stores.records == []
    assert ("deliver", "applied") in _trail(ledger.committed, "r1")


async def test_refused_and_duplicate_messages_go_to_the_audit_store() -> None:
    ledger, stores = AuditingLedger(rejects={"70"}), Stores()
    router = _router(ledger, stores)
    await router.process([_raw("seen", "3")])
    results = await router.process([_raw("bad", "70"), _raw("again", "3"), _raw("ok", "4")])
    assert [r.dispositions for r in results] == [
        [Disposition.DEAD_LETTERED],
        [Disposition.DUPLICATE],
        [Disposition.APPLIED],
    ]
    # a refused message is dead-lettered after the commit: its records go with the letter
    assert _trail(stores.records, "bad") == [
        ("translate", "ok"),
        ("govern", "pass"),
        ("deliver", "dead_lettered"),
    ]
    assert _trail(ledger.committed, "bad") == []
    assert _trail(stores.records, "again")[-1] == ("deduplicate", "duplicate")
    assert _trail(ledger.committed, "ok")[-1] == ("deliver", "applied")


async def test_a_held_message_is_audited_by_the_audit_store_and_its_approval_with_the_effect() -> (
    None
):
    ledger, stores = AuditingLedger(), Stores()
    router = _router(ledger, stores, high_value={"thresholds": {"USD": "50"}})
    [result] = await router.process([_raw("big", "9")])
    assert result.dispositions == [Disposition.REVIEW]
    assert _trail(stores.records, "big")[-1] == ("govern", "review")
    assert ledger.committed == []
    [held] = stores.held
    assert (await router.resume(held, actor="ops@acme")).dispositions == [Disposition.APPLIED]
    assert _trail(ledger.committed, "big") == [
        ("review", "approved"),
        ("govern", "pass"),
        ("deliver", "applied"),
    ]


async def test_a_lost_commit_leaves_no_records_and_the_retry_writes_them_once() -> None:
    ledger, stores = AuditingLedger(lose_commits=1), Stores()
    [result] = await _router(ledger, stores).process([_raw("r1", "1")])
    assert result.dispositions == [Disposition.APPLIED]
    assert _trail(ledger.committed, "r1") == [
        ("translate", "ok"),
        ("govern", "pass"),
        ("deliver", "retrying"),
        ("deliver", "applied"),
    ]
    assert stores.records == []


async def test_a_poison_batch_split_to_single_messages_audits_each_with_its_effect() -> None:
    ledger, stores = AuditingLedger(poison={"66"}), Stores()
    results = await _router(ledger, stores).process(
        [_raw("a", "65"), _raw("p", "66"), _raw("b", "67")]
    )
    assert [r.dispositions for r in results] == [
        [Disposition.APPLIED],
        [Disposition.DEAD_LETTERED],
        [Disposition.APPLIED],
    ]
    assert [r.details["raw_id"] for r in ledger.committed if r.stage == "deliver"] == ["a", "b"]
    assert _trail(stores.records, "p")[-1] == ("deliver", "dead_lettered")
