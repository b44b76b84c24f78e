"""From the ledger's outbox to the vendors: the relay and the outbound dispatcher.

The ledger writes its domain events (available-to-promise changed, order allocated, released...)
into an outbox table in the same transaction as the change. The relay (:func:`run_lanes`) reads them
from the outbox, hands each to one delivery lane per destination, and only marks it published once
every destination has finished with it, so an event is never lost and never emitted for a
rolled-back change; a crash before the mark sends it again, which destinations absorb (pushes set
a level; requests carry their id).

The dispatcher calls the destinations the deployment routes an event to (an inventory push to each
sales channel, a fulfilment request to a 3PL), with retries and dead letters. Inventory pushes are
coalesced: when several changes of one SKU wait for one destination, only the newest is sent,
which is both correct (a push sets the level) and kind to the vendors' rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from router.ports import DeadLetter, DeadLetterStore, RawMessage, describe
from router.retry import RetryPolicy, backoff_delay, is_transient, run_with_retries
from router.tracing import outbound_span

__all__ = [
    "Dispatcher",
    "LaneSource",
    "Lanes",
    "OutboundAction",
    "OutboxEvent",
    "coalesce",
    "run_lanes",
]


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A domain event as the ledger wrote it."""

    id: int
    tenant: str
    event_type: str
    key: str
    payload: Mapping[str, Any]
    created_at: datetime
    traceparent: str | None = None


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def coalesce(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
    """Keep only the newest event per (tenant, type, key) when the type sets a level.

    ``availability.changed`` events set a channel's level for a SKU, so the last one wins. Other
    events (fulfilment requests) are all kept, in order.
    """
    latest: dict[tuple[str, str, str], OutboxEvent] = {}
    kept: list[OutboxEvent] = []
    for event in events:
        if event.event_type == "availability.changed":
            latest[(event.tenant, event.event_type, event.key)] = event
        else:
            kept.append(event)
    return sorted([*kept, *latest.values()], key=lambda e: e.id)


#: Performs one event at one destination (for example, push a level to a channel).
OutboundAction = Callable[[OutboxEvent], Awaitable[None]]


@dataclass
class Dispatcher:
    """Routes domain events to their destinations' actions, with retries and dead letters."""

    routes: Callable[[OutboxEvent], Sequence[tuple[str, OutboundAction]]]
    dead_letters: DeadLetterStore
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    on_result: Callable[[OutboxEvent, str, str, str], None] | None = None
    #: The retry policy for one event at one destination (its route's), None for :attr:`policy`.
    policy_for: Callable[[OutboxEvent, str], RetryPolicy | None] | None = None

    async def dispatch(self, events: Sequence[OutboxEvent]) -> None:
        """Perform every event at every destination; per-destination calls run concurrently."""
        calls: list[Awaitable[None]] = []
        for event in coalesce(events):
            for destination, action in self.routes(event):
                calls.append(self._call(event, destination, action))
        await asyncio.gather(*calls)

    async def _call(self, event: OutboxEvent, destination: str, action: OutboundAction) -> None:
        attributes = {
            "hub.tenant": event.tenant,
            "hub.event_type": event.event_type,
            "hub.destination": destination,
            "hub.outbox_id": event.id,
        }
        try:
            with outbound_span(
                event.traceparent, f"hub.outbound {event.event_type} {destination}", attributes
            ):
                policy = self.policy_for(event, destination) if self.policy_for else None
                await run_with_retries(lambda: action(event), policy or self.policy)
        except Exception as exc:  # noqa: BLE001 - every failure ends as a dead letter, never lost
            reason = describe(exc)
            outcome = "retry_exhausted" if is_transient(exc) else "rejected"
            raw = RawMessage(
                id=f"outbox:{event.id}:{destination}",
                tenant=event.tenant,
                instance=destination,
                event=event.event_type,
                body=_encode(event),
                received_at=event.created_at,
            )
            self.dead_letters.put(
                [DeadLetter(raw, "outbound", reason, failed_at=datetime.now(UTC))]
            )
            if self.on_result:
                self.on_result(event, destination, outcome, reason)
            return
        if self.on_result:
            self.on_result(event, destination, "delivered", "")


def _encode(event: OutboxEvent) -> bytes:
    import orjson

    return orjson.dumps(dict(event.payload))


class LaneSource(Protocol):
    """An outbox read by position: the events after ``after_id`` not published yet."""

    def pending(self, limit: int, after_id: int = 0) -> list[OutboxEvent]: ...

    def mark_published(self, ids: Sequence[int]) -> None: ...


_Item = tuple[OutboxEvent, OutboundAction, "asyncio.Future[None]"]


class Lanes:
    """One delivery lane per destination, so a slow or throttled destination (Amazon's quota, a
    3PL timing out) delays only its own events, never another destination's.

    Each lane performs its events in outbox order; whatever queued up while it was busy is taken
    at once and coalesced (the newest level per SKU; every other event kept), performed
    concurrently, and only then is the lane's next batch taken, so a newer level of a SKU never
    overtakes an older one at a destination. Each submitted event gets a future that completes when
    every destination it is routed to has finished with it (delivered or dead-lettered).
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._queues: dict[str, asyncio.Queue[_Item]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def submit(self, event: OutboxEvent) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for destination, action in self._dispatcher.routes(event):
            future: asyncio.Future[None] = loop.create_future()
            self._lane(destination).put_nowait((event, action, future))
            futures.append(future)
        if not futures:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        return asyncio.gather(*futures)

    def _lane(self, destination: str) -> asyncio.Queue[_Item]:
        queue = self._queues.get(destination)
        if queue is None:
            queue = self._queues[destination] = asyncio.Queue()
            self._workers[destination] = asyncio.create_task(self._work(destination, queue))
        return queue

    async def _work(self, destination: str, queue: asyncio.Queue[_Item]) -> None:
        while True:
            items = [await queue.get()]
            while not queue.empty():
                items.append(queue.get_nowait())
            newest: dict[tuple[str, str, str], _Item] = {}
            kept: list[_Item] = []
            for item in items:
                event = item[0]
                if event.event_type == "availability.changed":
                    key = (event.tenant, event.event_type, event.key)
                    older = newest.get(key)
                    if older is not None:
                        older[2].set_result(None)  # superseded: the newer level is what is sent
                    newest[key] = item
                else:
                    kept.append(item)
            batch = sorted([*kept, *newest.values()], key=lambda item: item[0].id)
            await asyncio.gather(
                *(self._dispatcher._call(event, destination, action) for event, action, _ in batch)
            )
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def close(self, grace: float = 5.0) -> None:
        """Let the lanes finish what they hold for up to ``grace`` seconds, then stop them; what
        was not finished stays unpublished and is relayed again (at least once, never lost)."""
        deadline = asyncio.get_running_loop().time() + grace
        for queue in self._queues.values():
            while not queue.empty() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run_lanes(
    source: LaneSource,
    dispatcher: Dispatcher,
    *,
    stop: asyncio.Event,
    batch_size: int = 500,
    idle_wait: float = 0.02,
    max_in_flight: int = 5000,
    policy: RetryPolicy | None = None,
    grace: float = 5.0,
) -> None:
    """Relay the outbox through per-destination :class:`Lanes` until ``stop``.

    Events are read in id order past the last one read and handed to the lanes without waiting
    for their delivery; each is marked published once every destination has finished with it, so
    a crash republishes what was in flight (at least once, never lost) and a slow destination no
    longer holds back the others. At most ``max_in_flight`` events are in the lanes at once. On
    ``stop`` the lanes get ``grace`` seconds to finish what they hold.
    """
    policy = policy or RetryPolicy(base_delay=0.1, max_delay=5.0)
    lanes = Lanes(dispatcher)
    last_id = 0
    in_flight: set[asyncio.Future[Any]] = set()
    finished: list[int] = []
    failures = 0

    def track(event_id: int, future: asyncio.Future[Any]) -> None:
        in_flight.add(future)

        def done(_: asyncio.Future[Any]) -> None:
            in_flight.discard(future)
            finished.append(event_id)

        future.add_done_callback(done)

    try:
        while not stop.is_set():
            try:
                if finished:
                    ids = list(finished)
                    await asyncio.to_thread(source.mark_published, ids)
                    del finished[: len(ids)]
                room = max_in_flight - len(in_flight)
                events = (
                    await asyncio.to_thread(source.pending, min(batch_size, room), last_id)
                    if room > 0
                    else []
                )
                failures = 0
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                await _pause(stop, backoff_delay(policy, failures))
                continue
            for event in events:
                track(event.id, lanes.submit(event))
                last_id = max(last_id, event.id)
            if len(events) < batch_size:
                await _pause(stop, idle_wait)
    finally:
        await lanes.close(grace)
        if finished:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(source.mark_published, list(finished))
