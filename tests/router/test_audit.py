"""The audit chain detects changed, removed, inserted and reordered records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from router.audit import GENESIS_HASH, AuditRecord, chain_record, verify_chain


def _chain(count: int, tenant: str = "acme") -> list[AuditRecord]:
    records: list[AuditRecord] = []
    previous = GENESIS_HASH
    for index in range(count):
        record = chain_record(
            AuditRecord(
                tenant=tenant,
                message_id=f"m{index}",
                stage="deliver",
                outcome="applied",
                at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
            sequence=index + 1,
            previous_hash=previous,
        )
        records.append(record)
        previous = record.hash
    return records


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(_chain(5) + _chain(3, tenant="globex")) == []


def test_a_changed_record_is_found() -> None:
    records = _chain(5)
    records[2] = replace(records[2], outcome="duplicate")
    assert verify_chain(records) == ["acme #3: content does not match its hash"]


def test_a_changed_and_rehashed_record_breaks_the_next_link() -> None:
    records = _chain(5)
    records[2] = chain_record(replace(records[2], reason="edited"), 3, records[1].hash)
    assert verify_chain(records) == ["acme #4: link to the previous record is broken"]


def test_removed_and_reordered_records_are_found() -> None:
    records = _chain(5)
    assert "expected record #3" in verify_chain(records[:2] + records[3:])[0]
    swapped = [records[0], records[2], records[1], records[3], records[4]]
    assert verify_chain(swapped)
