"""Scheduled polls: read each connector's polls on their schedule and feed what they read in.

A deployment names, per connector instance, which of the connector's polls to run and how often
(``poll:``, see docs/deployment.md). Each item a poll reads is handed to the hub as a raw
message, exactly like a webhook body, under the vendor event the poll names, so it goes through
the whole pipeline (validation, governance, idempotency, the ledger) and a polled order that a
webhook already delivered is a duplicate, not a second effect (:mod:`connectors.polling`).

Where the raw messages go is the caller's: the embedded hub puts them in its SQLite inbox, a
worker at scale publishes them to the broker. Only the process that holds the outbox relay's
lock polls (:func:`hub.outbound.run_outbound`), so many workers do not read the vendor many times.

A windowed poll keeps a durable high-water mark per (tenant, instance, poll) in the ledger's
database (``poll_cursors``): each run reads from the mark less ``overlap_seconds`` to now, and
moves the mark to now only once every item read was handed over. A run that fails (the vendor
down, a 401) leaves the mark where it was, records the error, and the next run reads the whole
gap. The first run of an instance reads ``backfill_seconds`` back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from canonical import new_message_id
from connectors.base import dump_payload
from connectors.errors import ConnectorError
from connectors.pagination import TimeWindow
from connectors.polling import PollSpec
from hub.config.model import PollSchedule
from hub.ledger.url import open_database
from hub.runtime import HubRuntime
from router.ports import RawMessage

__all__ = [
    "PollCursors",
    "PollRun",
    "PollState",
    "ScheduledPoll",
    "poll_once",
    "run_polls",
    "scheduled_polls",
]

log = logging.getLogger("hub.polling")

POLLS = Counter(
    "hub_polls",
    "Scheduled polls run, by connector instance, poll and outcome (ok, failed).",
    ["instance", "poll", "outcome"],
)
POLLED_ITEMS = Counter(
    "hub_polled_items",
    "Items scheduled polls read and handed to the pipeline, by connector instance and poll.",
    ["instance", "poll"],
)

#: Raw messages handed over at once (one inbox transaction, one pipelined broker write).
CHUNK = 500

Deliver = Callable[[list[RawMessage]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScheduledPoll:
    """One poll of one connector instance, with its schedule."""

    tenant: str
    instance: str
    spec: PollSpec
    schedule: PollSchedule

    @property
    def label(self) -> str:
        return f"{self.tenant}/{self.instance}/{self.spec.name}"


@dataclass(frozen=True, slots=True)
class PollState:
    """What ``poll_cursors`` holds for one poll."""

    high_water: datetime | None
    last_started: datetime
    last_outcome: str
    last_error: str | None
    last_items: int


@dataclass(frozen=True, slots=True)
class PollRun:
    """How one run went."""

    poll: ScheduledPoll
    outcome: str
    items: int
    window: TimeWindow | None
    error: str | None = None


def scheduled_polls(runtime: HubRuntime) -> list[ScheduledPoll]:
    """Every poll the deployment schedules (validated against the connectors' offers)."""
    found: list[ScheduledPoll] = []
    for tenant_name, tenant in sorted(runtime.deployment.tenants.items()):
        for instance_name, instance in sorted(tenant.connectors.items()):
            if not instance.poll:
                continue
            connector = runtime.instances[(tenant_name, instance_name)]
            offered = connector.poll_specs()
            for poll_name, schedule in sorted(instance.poll.items()):
                found.append(
                    ScheduledPoll(tenant_name, instance_name, offered[poll_name], schedule)
                )
    return found


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(text: Any) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


class PollCursors:
    """The ``poll_cursors`` table, on a connection of its own to the ledger's database."""

    def __init__(self, ledger_url: str) -> None:
        self._db: Any = open_database(ledger_url)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def get(self, tenant: str, instance: str, poll: str) -> PollState | None:
        with self._lock:
            rows = self._db.query(
                "SELECT high_water, last_started, last_outcome, last_error, last_items "
                "FROM poll_cursors WHERE tenant = ? AND instance = ? AND poll = ?",
                (tenant, instance, poll),
            )
        if not rows:
            return None
        high_water, started, outcome, error, items = rows[0]
        started_at = _moment(started)
        assert started_at is not None
        return PollState(_moment(high_water), started_at, str(outcome), error, int(items))

    def record(
        self,
        poll: ScheduledPoll,
        *,
        started: datetime,
        outcome: str,
        items: int,
        high_water: datetime | None,
        error: str | None = None,
    ) -> None:
        """Store a run; a failed one keeps the previous high-water mark (``high_water`` None)."""
        with self._lock:
            self._db.begin_write()
            try:
                self._db.execute(
                    "INSERT INTO poll_cursors (tenant, instance, poll, high_water, last_started, "
                    "last_finished, last_outcome, last_error, last_items) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (tenant, instance, poll) DO UPDATE SET "
                    "high_water = COALESCE(excluded.high_water, poll_cursors.high_water), "
                    "last_started = excluded.last_started, last_finished = excluded.last_finished, "
                    "last_outcome = excluded.last_outcome, last_error = excluded.last_error, "
                    "last_items = excluded.last_items",
                    (
                        poll.tenant,
                        poll.instance,
                        poll.spec.name,
                        _text(high_water) if high_water is not None else None,
                        _text(started),
                        _text(datetime.now(UTC)),
                        outcome,
                        error,
                        items,
                    ),
                )
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise


def _window(poll: ScheduledPoll, state: PollState | None, now: datetime) -> TimeWindow | None:
    if not poll.spec.windowed:
        return None
    schedule = poll.schedule
    if state is None or state.high_water is None:
        start = now - timedelta(seconds=schedule.backfill_seconds)
    else:
        start = state.high_water - timedelta(seconds=schedule.overlap_seconds)
    return TimeWindow(min(start, now - timedelta(seconds=1)), now)


async def poll_once(
    runtime: HubRuntime,
    cursors: PollCursors,
    poll: ScheduledPoll,
    deliver: Deliver,
    *,
    now: datetime | None = None,
) -> PollRun:
    """Run ``poll`` once: read, hand every item over, then move the high-water mark."""
    started = now or datetime.now(UTC)
    state = await asyncio.to_thread(cursors.get, poll.tenant, poll.instance, poll.spec.name)
    window = _window(poll, state, started)
    connector = runtime.instances[(poll.tenant, poll.instance)]
    try:
        items: list[Any] = await asyncio.to_thread(
            lambda: list(connector.poll(poll.spec.name, window))
        )
    except ConnectorError as error:  # the vendor refused or is down: the next run reads the gap
        message = f"{type(error).__name__}: {error}"
        log.warning("poll %s failed: %s", poll.label, message)
        await asyncio.to_thread(
            cursors.record,
            poll,
            started=started,
            outcome="failed",
            items=0,
            high_water=None,
            error=message[:2000],
        )
        POLLS.labels(poll.instance, poll.spec.name, "failed").inc()
        return PollRun(poll, "failed", 0, window, message)
    received = datetime.now(UTC)
    raws = [
        RawMessage(
            id=str(new_message_id()),
            tenant=poll.tenant,
            instance=poll.instance,
            event=poll.spec.event,
            body=dump_payload(item),
            received_at=received,
            headers={"x-hub-polled": poll.spec.name},
        )
        for item in items
    ]
    for start in range(0, len(raws), CHUNK):
        await deliver(raws[start : start + CHUNK])
    await asyncio.to_thread(
        cursors.record,
        poll,
        started=started,
        outcome="ok",
        items=len(raws),
        high_water=window.end if window is not None else None,
    )
    POLLS.labels(poll.instance, poll.spec.name, "ok").inc()
    POLLED_ITEMS.labels(poll.instance, poll.spec.name).inc(len(raws))
    log.info("poll %s read %d item(s)", poll.label, len(raws))
    return PollRun(poll, "ok", len(raws), window)


def _first_due(poll: ScheduledPoll, state: PollState | None, now: datetime) -> float:
    """Seconds until ``poll`` is due: a restarted hub does not read again what it just read."""
    if state is None:
        return 0.0
    due = state.last_started + timedelta(seconds=poll.schedule.every_seconds)
    return max(0.0, (due - now).total_seconds())


async def run_polls(
    runtime: HubRuntime,
    deliver: Deliver,
    *,
    stop: asyncio.Event,
    polls: Sequence[ScheduledPoll] | None = None,
) -> None:
    """Run every scheduled poll on its schedule until ``stop`` (one at a time: polls are I/O
    bound and the vendors' rate limits are per account, not per poll)."""
    polls = list(polls if polls is not None else scheduled_polls(runtime))
    if not polls:
        return
    cursors = PollCursors(runtime.ledger_url)
    try:
        now = datetime.now(UTC)
        clock = time.monotonic()
        due: dict[int, float] = {}
        for index, poll in enumerate(polls):
            state = await asyncio.to_thread(cursors.get, poll.tenant, poll.instance, poll.spec.name)
            due[index] = clock + _first_due(poll, state, now)
        while not stop.is_set():
            index = min(due, key=lambda i: due[i])
            wait = due[index] - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                continue
            poll = polls[index]
            due[index] = time.monotonic() + poll.schedule.every_seconds
            try:
                await poll_once(runtime, cursors, poll, deliver)
            except Exception:  # the inbox or broker refused the items: the mark did not move
                log.exception("poll %s could not hand its items over; it runs again", poll.label)
                POLLS.labels(poll.instance, poll.spec.name, "failed").inc()
    finally:
        cursors.close()
