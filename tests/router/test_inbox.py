"""The embedded SQLite inbox: durable, leased, retried with backoff, dead-lettered when exhausted."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from router.pipeline import Disposition, RawResult
from router.ports import RawMessage
from router.retry import RetryPolicy
from router.transport.inbox import SqliteInbox, run_inbox_worker
from tests.router.test_pipeline import MemoryLedger, Stores, _raw, _router

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


def _raws(count: int) -> list[RawMessage]:
    return [_raw(f"m{i}", str(i)) for i in range(count)]


def test_messages_survive_a_restart_and_leases_expire(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    inbox = SqliteInbox(path, lease_seconds=0.2)
    assert inbox.put(_raws(5)) == 5
    assert inbox.put(_raws(2)) == 0  # same ids: stored once
    taken = inbox.take(3)
    assert [r.id for r in taken] == ["m0", "m1", "m2"]
    inbox.close()  # the process dies holding a lease

    reopened = SqliteInbox(path, lease_seconds=0.2)
    assert [r.id for r in reopened.take(10)] == ["m3", "m4"]  # leased ones are not handed out
    time.sleep(0.25)
    retaken = reopened.take(10)
    assert {r.id for r in retaken} == {"m0", "m1", "m2", "m3", "m4"}
    assert {r.attempt for r in retaken if r.id in {"m0", "m1", "m2"}} == {2}
    assert retaken[0].body == _raws(1)[0].body
    assert retaken[0].received_at == datetime(2026, 3, 2, tzinfo=UTC)


def test_settle_removes_terminal_reschedules_retries_and_reports_exhausted(tmp_path: Path) -> None:
    inbox = SqliteInbox(tmp_path / "inbox.sqlite3")
    inbox.put(_raws(3))
    batch = inbox.take(3)
    results = [
        RawResult("m0", [Disposition.APPLIED]),
        RawResult("m1", [Disposition.RETRY], ["db down"]),
    ]
    results.append(RawResult("m2", [Disposition.RETRY], ["db down"]))
    assert inbox.settle(results, batch, FAST) == []
    assert inbox.stats().pending == 2
    for attempt in (2, 3):
        time.sleep(0.01)
        batch = inbox.take(3)
        assert {r.attempt for r in batch} == {attempt}
        exhausted = inbox.settle(
            [RawResult(r.id, [Disposition.RETRY], [f"db down {attempt}"]) for r in batch],
            batch,
            FAST,
        )
    assert sorted(raw.id for raw, _ in exhausted) == ["m1", "m2"]
    errors = {raw.id: errs for raw, errs in exhausted}["m1"]
    assert errors == ["attempt 1: db down", "attempt 2: db down 2", "attempt 3: db down 3"]


async def test_worker_drains_the_inbox_and_dead_letters_what_keeps_failing(tmp_path: Path) -> None:
    inbox = SqliteInbox(tmp_path / "inbox.sqlite3")
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    inbox.put(_raws(20))
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_inbox_worker(inbox, router.process, stores, policy=FAST, batch_size=7, stop=stop)
    )
    for _ in range(200):
        if inbox.stats().pending == 0:
            break
        await asyncio.sleep(0.01)
    assert len(ledger.applied) == 20

    ledger.fail_times = 10_000  # the ledger goes down for good
    inbox.put([_raw("late", "99")])
    for _ in range(300):
        if stores.letters:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await worker
    [letter] = stores.letters
    assert letter.raw.id == "late"
    assert letter.reason == "gave up after 3 attempts"
    assert len(letter.errors) == 3
    assert inbox.stats().pending == 0
