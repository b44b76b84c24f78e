"""The embedded transport: a durable SQLite inbox and an in-process worker loop.

The embedded hub (``hub run``, ``hub demo``) has no broker. The ingress writes each accepted raw
message into this inbox (one transaction, before the 2xx answer), and the worker takes batches from
it. A message leaves the inbox only when its outcome is durable, so a crash or restart loses
nothing: rows in flight at the crash are taken again after their lease expires. A message that keeps
failing transiently is retried with backoff up to ``max_attempts``, then dead-lettered with every
attempt's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from router.pipeline import RawResult
from router.ports import DeadLetter, DeadLetterStore, RawMessage
from router.retry import RetryPolicy, backoff_delay
from router.transport.codec import decode_raw, encode_raw

__all__ = ["InboxStats", "SqliteInbox", "run_inbox_worker"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    entry BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL,
    errors TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS inbox_available ON inbox (available_at, seq);
"""


@dataclass(frozen=True)
class InboxStats:
    pending: int
    oldest_age_s: float


class SqliteInbox:
    """A durable FIFO of raw messages in one SQLite file (WAL), safe across threads."""

    def __init__(self, path: str | Path, *, lease_seconds: float = 60.0) -> None:
        self._path = str(path)
        self._lease = lease_seconds
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def put(self, raws: Sequence[RawMessage]) -> int:
        """Store messages durably (fsync'd on commit); a message id already stored is ignored."""
        now = datetime.now(UTC).timestamp()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._conn.executemany(
                    "INSERT OR IGNORE INTO inbox (id, entry, available_at) VALUES (?, ?, ?)",
                    [(raw.id, encode_raw(raw), now) for raw in raws],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return cursor.rowcount

    def take(self, limit: int) -> list[RawMessage]:
        """Lease up to ``limit`` available messages, oldest first."""
        now = datetime.now(UTC).timestamp()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    "SELECT seq, entry, attempts FROM inbox WHERE available_at <= ? "
                    "ORDER BY seq LIMIT ?",
                    (now, limit),
                ).fetchall()
                self._conn.executemany(
                    "UPDATE inbox SET attempts = attempts + 1, available_at = ? WHERE seq = ?",
                    [(now + self._lease, seq) for seq, _, _ in rows],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return [decode_raw(entry, attempt=attempts + 1) for _, entry, attempts in rows]

    def settle(
        self,
        results: Sequence[RawResult],
        raws: Sequence[RawMessage],
        policy: RetryPolicy,
    ) -> list[tuple[RawMessage, list[str]]]:
        """Remove terminal messages and reschedule the rest with backoff.

        Returns the messages that used up their attempts, with every attempt's error, for the
        caller to dead-letter.
        """
        by_id = {raw.id: raw for raw in raws}
        done = [(r.raw_id,) for r in results if r.terminal]
        exhausted: list[tuple[RawMessage, list[str]]] = []
        now = datetime.now(UTC)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("DELETE FROM inbox WHERE id = ?", done)
                for result in results:
                    if result.terminal:
                        continue
                    raw = by_id[result.raw_id]
                    errors_row = self._conn.execute(
                        "SELECT errors FROM inbox WHERE id = ?", (raw.id,)
                    ).fetchone()
                    errors = orjson.loads(errors_row[0]) if errors_row else []
                    errors.append(f"attempt {raw.attempt}: " + "; ".join(result.reasons))
                    if raw.attempt >= policy.max_attempts:
                        # Kept (still leased) until the caller has dead-lettered it: see remove().
                        exhausted.append((raw, errors))
                        continue
                    delay = backoff_delay(policy, raw.attempt)
                    self._conn.execute(
                        "UPDATE inbox SET available_at = ?, errors = ? WHERE id = ?",
                        (
                            (now + timedelta(seconds=delay)).timestamp(),
                            orjson.dumps(errors),
                            raw.id,
                        ),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return exhausted

    def remove(self, ids: Sequence[str]) -> None:
        """Drop messages whose outcome is durable elsewhere (dead-lettered)."""
        with self._lock:
            self._conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    def stats(self) -> InboxStats:
        with self._lock:
            count, oldest = self._conn.execute(
                "SELECT COUNT(*), MIN(json_extract(entry, '$.received_at')) FROM inbox"
            ).fetchone()
        age = 0.0
        if oldest:
            age = max(0.0, (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds())
        return InboxStats(pending=int(count), oldest_age_s=age)


async def run_inbox_worker(
    inbox: SqliteInbox,
    process: Callable[[list[RawMessage]], Awaitable[list[RawResult]]],
    dead_letters: DeadLetterStore,
    *,
    policy: RetryPolicy,
    batch_size: int = 200,
    idle_wait: float = 0.02,
    stop: asyncio.Event | None = None,
) -> None:
    """Drain the inbox forever (or until ``stop`` is set): take a batch, process, settle."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        batch = await asyncio.to_thread(inbox.take, batch_size)
        if not batch:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_wait)
            continue
        results = await process(batch)
        exhausted = await asyncio.to_thread(inbox.settle, results, batch, policy)
        if exhausted:
            now = datetime.now(UTC)
            dead_letters.put(
                [
                    DeadLetter(
                        raw=raw,
                        stage="deliver",
                        reason=f"gave up after {raw.attempt} attempts",
                        errors=tuple(errors),
                        failed_at=now,
                    )
                    for raw, errors in exhausted
                ]
            )
            await asyncio.to_thread(inbox.remove, [raw.id for raw, _ in exhausted])
