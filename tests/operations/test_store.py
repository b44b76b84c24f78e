"""The operations store on SQLite and PostgreSQL: dead letters, held messages, the audit chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from canonical.examples import example_envelope
from hub.ledger.dialect import PostgresDialect, SqliteDialect
from hub.ledger.migrations import migrate
from hub.metrics import HubCollector
from hub.operations import OperationsStore
from hub.operations.store import DeadLetterNotOpenError
from router.audit import AuditRecord
from router.ports import DeadLetter, HeldMessage, RawMessage

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        database: Any = SqliteDialect(str(tmp_path / "ops.sqlite3"))
    else:
        database = PostgresDialect(request.getfixturevalue("postgres_url"))
    migrate(database)  # the operations tables are one of the ledger's migrations
    yield database
    database.close()


def _raw(raw_id: str = "r1", tenant: str = "acme") -> RawMessage:
    return RawMessage(
        id=raw_id,
        tenant=tenant,
        instance="shopify_us",
        event="orders/create",
        body=b'{"id": 820982911946154508}',
        received_at=T0,
    )


def _record(message_id: str, outcome: str = "applied", tenant: str = "acme") -> AuditRecord:
    return AuditRecord(
        tenant=tenant,
        message_id=message_id,
        stage="deliver",
        outcome=outcome,
        at=T0,
        order_key="shopify_us:1",
        details={"raw_id": f"raw-{message_id}", "attempt": 1},
    )


def test_dead_letters_are_stored_once_and_keep_the_original_payload(db: Any) -> None:
    store = OperationsStore(db, clock=lambda: T0)
    letter = DeadLetter(_raw(), "translate", "MalformedMessageError: bad", ("a1: bad", "a2: bad"))
    store.put([letter])
    store.put([letter])  # a redelivery that fails the same way
    store.put(
        [DeadLetter(_raw("r2", "globex"), "deliver", "unknown_sku: X", envelope=example_envelope())]
    )
    [row] = store.dead_letters(tenant="acme")
    assert (row.stage, row.reason, row.errors) == (
        "translate",
        "MalformedMessageError: bad",
        ["a1: bad", "a2: bad"],
    )
    assert row.raw.body == b'{"id": 820982911946154508}'
    assert row.raw.received_at == T0
    [other] = store.dead_letters(reason_contains="unknown_sku")
    assert other.envelope == example_envelope()
    store.mark_replayed([row.id, other.id])
    assert store.dead_letters() == []
    assert store.dead_letter(row.id).status == "replayed"  # type: ignore[union-attr]
    assert store.dead_letter(other.id).replay_count == 1  # type: ignore[union-attr]
    store.put([DeadLetter(_raw(), "translate", "MalformedMessageError: still bad")])
    [reopened] = store.dead_letters()
    assert (reopened.id, reopened.reason, reopened.replay_count) == (
        row.id,
        "MalformedMessageError: still bad",
        1,
    )


def test_a_replay_that_fails_again_leaves_the_letter_open(db: Any) -> None:
    """The replay puts the new failure (reopening the letter) before it marks the letters it
    sent: a letter that failed again after the replay began stays open, one that did not is
    replayed; both count the replay."""
    store = OperationsStore(db, clock=lambda: T0)
    store.put([DeadLetter(_raw(), "translate", "MalformedMessageError: bad", failed_at=T0)])
    store.put([DeadLetter(_raw("r2"), "translate", "MalformedMessageError: bad", failed_at=T0)])
    first, second = sorted(store.dead_letters(), key=lambda row: row.id)
    started = T0 + timedelta(seconds=1)
    again = T0 + timedelta(seconds=2)  # the first fails again during the replay
    store.put(
        [DeadLetter(_raw(), "translate", "MalformedMessageError: still bad", failed_at=again)]
    )
    store.mark_replayed([first.id, second.id], since=started)
    after_first, after_second = store.dead_letter(first.id), store.dead_letter(second.id)
    assert after_first is not None
    assert after_second is not None
    assert (after_first.status, after_first.replay_count, after_first.reason) == (
        "open",
        1,
        "MalformedMessageError: still bad",
    )
    assert (after_second.status, after_second.replay_count) == ("replayed", 1)
    assert [row.id for row in store.dead_letters()] == [first.id]


def _open_gauge(store: OperationsStore) -> dict[str, float]:
    [family] = [m for m in HubCollector(store).collect() if m.name == "hub_dead_letters_open"]
    return {sample.labels["tenant"]: sample.value for sample in family.samples}


def test_a_dead_letter_resolved_by_hand_is_closed_kept_and_audited(db: Any) -> None:
    store = OperationsStore(db, clock=lambda: T0)
    store.put(
        [
            DeadLetter(_raw("r1"), "deliver", "too late to cancel", envelope=example_envelope()),
            DeadLetter(_raw("r2"), "translate", "unknown topic"),
        ]
    )
    first, second = store.dead_letters(tenant="acme")
    assert store.open_dead_letters_by_tenant() == {"acme": 2}
    assert _open_gauge(store) == {"acme": 2.0}

    resolved = store.resolve(first.id, actor="ops@acme", note="  parcel intercepted at UPS  ")
    assert resolved is not None
    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        "resolved",
        "ops@acme",
        "parcel intercepted at UPS",
    )
    assert resolved.resolved_at == T0
    assert resolved.as_json()["resolution_note"] == "parcel intercepted at UPS"
    assert "resolved_by" not in second.as_json()  # open letters carry no resolution
    # out of the open listing, the open count and the gauge; kept for the history
    assert [r.id for r in store.dead_letters(tenant="acme")] == [second.id]
    assert store.open_dead_letters_by_tenant() == {"acme": 1}
    assert _open_gauge(store) == {"acme": 1.0}
    assert [r.id for r in store.dead_letters(status="resolved")] == [first.id]
    assert resolved.raw.body == first.raw.body

    # one audit record, in the letter's message trail, with who and why
    [record] = [
        r
        for r in store.audit_trail("acme", message_id=str(example_envelope().message_id))
        if r.outcome == "resolved"
    ]
    assert (record.actor, record.reason, record.stage) == (
        "ops@acme",
        "parcel intercepted at UPS",
        "deliver",
    )
    assert record.details == {"raw_id": "r1", "dead_letter": first.id}
    assert record.order_key == "shopify_us:820982911946154508"
    assert store.verify("acme") == []  # it joins the hash chain like any record

    # closing twice is an error that names the first resolution, and changes nothing
    with pytest.raises(DeadLetterNotOpenError, match="already resolved by ops@acme"):
        store.resolve(first.id, actor="someone@else", note="again")
    assert store.dead_letter(first.id).resolved_by == "ops@acme"  # type: ignore[union-attr]
    # a replayed letter is not open either
    store.mark_replayed([second.id])
    with pytest.raises(DeadLetterNotOpenError, match="it is replayed"):
        store.resolve(second.id, actor="ops@acme", note="test shop")
    assert [r.outcome for r in store.audit_trail("acme", message_id="r2")] == []
    assert store.resolve(999_999, actor="ops@acme", note="x") is None
    with pytest.raises(ValueError, match="needs a note"):
        store.resolve(first.id, actor="ops@acme", note="   ")
    assert store.open_dead_letters_by_tenant() == {}

    # the same message failing again at the same stage reopens the letter: a new failure is news
    store.put([DeadLetter(_raw("r1"), "deliver", "too late to cancel, again")])
    [reopened] = store.dead_letters(tenant="acme")
    assert (reopened.id, reopened.status, reopened.resolved_by) == (first.id, "open", "ops@acme")


def test_held_messages_queue_decide_and_measure_their_age(db: Any) -> None:
    now = {"t": T0}
    store = OperationsStore(db, clock=lambda: now["t"], sla={"review": timedelta(hours=2)})
    envelope = example_envelope()
    item = HeldMessage(
        _raw(), envelope, "review", "high_value", "total above 50", ("master_data",), T0
    )
    store.hold([item, item])
    [row] = store.held(queue="review")
    assert row.order_key == "shopify_us:820982911946154508"
    assert row.message.envelope == envelope
    assert row.message.passed_rules == ("master_data",)
    now["t"] = T0 + timedelta(hours=3)
    [depth] = store.queue_depths()
    assert (depth.queue, depth.open, depth.breaching_sla) == ("review", 1, 1)
    assert depth.oldest_age_s == 3 * 3600
    assert store.decide(row.id, status="approved", actor="ops@acme")
    assert not store.decide(row.id, status="rejected", actor="ops@acme")  # already decided
    assert store.held() == []
    store.hold([item])  # the same message held again after a resubmission: a new open entry
    assert len(store.held()) == 1


def test_audit_trail_by_message_and_order(db: Any) -> None:
    store = OperationsStore(db)
    store.append([_record("m1", "ok"), _record("m1"), _record("m2")])
    assert [r.outcome for r in store.audit_trail("acme", message_id="m1")] == ["ok", "applied"]
    assert [r.message_id for r in store.audit_trail("acme", message_id="raw-m2")] == ["m2"]
    assert len(store.audit_trail("acme", order_key="shopify_us:1")) == 3
    assert store.audit_trail("globex", order_key="shopify_us:1") == []


def test_sealing_chains_records_and_verification_finds_tampering(db: Any) -> None:
    store = OperationsStore(db)
    store.append([_record(f"m{i}") for i in range(5)] + [_record("g1", tenant="globex")])
    assert store.seal("acme") == 5
    store.append([_record("m5")])
    assert store.verify("acme") == []
    assert store.verify("globex") == []
    trail = store.audit_trail("acme", order_key="shopify_us:1")
    assert [r.sequence for r in trail] == [1, 2, 3, 4, 5, 6]
    db.execute("UPDATE audit_log SET outcome = 'duplicate' WHERE message_id = 'm2'")
    assert store.verify("acme") == ["acme #3: content does not match its hash"]
    db.execute("DELETE FROM audit_log WHERE message_id = 'm4'")
    assert any("expected record #5" in p for p in store.verify("acme"))


def test_concurrent_sealers_build_one_chain(db: Any, tmp_path: Path) -> None:
    if db.name == "sqlite":
        second: Any = SqliteDialect(str(tmp_path / "ops.sqlite3"))
    else:
        second = PostgresDialect(db.conn.info.dsn)
    writer, other = OperationsStore(db), OperationsStore(second)
    for batch in range(10):
        writer.append([_record(f"m{batch}-{i}") for i in range(20)])
    threads = [
        threading.Thread(target=s.seal, args=("acme",)) for s in (writer, other, writer, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.verify("acme") == []
    assert len(writer.audit_trail("acme", order_key="shopify_us:1")) == 200
    second.close()
