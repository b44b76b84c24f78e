"""From the ledger's outbox to the vendors: the relay and the outbound dispatcher.

The ledger writes its domain events (available-to-promise changed, order allocated, released...)
into an outbox table in the same transaction as the change. The relay moves them from the outbox to
the event bus and only then marks them published, so an event is never lost and never emitted for a
rolled-back change; a crash between publishing and marking publishes it again, which consumers
absorb (events carry their outbox id).

The dispatcher consumes events and calls the destinations the deployment routes them to (an
inventory push to each sales channel, a fulfilment request to a 3PL). Inventory pushes are
coalesced: when a batch holds several changes of one SKU on one channel, only the newest is sent,
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
    "EventBus",
    "OutboundAction",
    "OutboxEvent",
    "OutboxSource",
    "coalesce",
    "relay_once",
    "run_relay",
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


class OutboxSource(Protocol):
    def pending(self, limit: int) -> list[OutboxEvent]: ...

    def mark_published(self, ids: Sequence[int]) -> None: ...


class EventBus(Protocol):
    async def publish(self, events: Sequence[OutboxEvent]) -> None: ...


async def relay_once(source: OutboxSource, bus: EventBus, *, batch_size: int = 500) -> int:
    """Move one batch from the outbox to the bus; returns how many events were relayed."""
    events = await asyncio.to_thread(source.pending, batch_size)
    if not events:
        return 0
    await bus.publish(events)  # publish first ...
    await asyncio.to_thread(source.mark_published, [e.id for e in events])  # ... then mark
    return len(events)


async def run_relay(
    source: OutboxSource,
    bus: EventBus,
    *,
    stop: asyncio.Event,
    batch_size: int = 500,
    idle_wait: float = 0.02,
    policy: RetryPolicy | None = None,
) -> None:
    """Relay until ``stop``; transient failures (bus or database down) are waited out."""
    policy = policy or RetryPolicy(base_delay=0.1, max_delay=5.0)
    failures = 0
    while not stop.is_set():
        try:
            moved = await relay_once(source, bus, batch_size=batch_size)
            failures = 0
        except Exception as exc:
            if not is_transient(exc):
                raise
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff_delay(policy, failures))
            continue
        if moved < batch_size:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_wait)


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
