"""Outbound wiring: the ledger's outbox, relayed in process, dispatched to connectors.

When the ledger changes what a channel may sell, it writes an ``availability.changed`` event to its
outbox in the same transaction. The relay (:func:`router.outbound.run_lanes`) hands those events to
one lane per destination, which pushes the new level to every connector instance selling on that
channel, with retries and dead letters; a slow or throttled destination delays only its own lane. Connector errors are translated to the router's transient and permanent
errors here, at the boundary, so the router need not know any connector.

:func:`run_outbound` is what ``hub run`` and every ``hub worker`` start. Exactly one relay runs per
ledger at a time: on PostgreSQL the workers elect it with a session advisory lock
(:class:`RelayLeadership`), so pushes of one SKU leave in the order the ledger wrote them (a later
level can never be overwritten by an earlier one sent by another process), and a crashed leader's
lock dies with its connection, letting another worker take over. The embedded default has one
process and needs no election.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Counter, Histogram

from canonical.fulfillment import FulfillmentCancellation
from canonical.order import OrderRef
from hub.ledger.store import Ledger
from hub.ledger.url import parse_ledger_url
from hub.ledger.work import parse_ts
from hub.operations.store import DeadLetterRow
from hub.runtime import HubRuntime, call_connector
from router.errors import PermanentError
from router.outbound import Dispatcher, OutboundAction, OutboxEvent, run_lanes
from router.ports import RawMessage

__all__ = [
    "IMPLIED_EVENTS",
    "OUTBOUND_EVENTS",
    "LedgerOutbox",
    "RelayLeadership",
    "RequestLocks",
    "cancellation_for",
    "dispatcher_for",
    "redispatch",
    "replay_dead_letters",
    "route_sends",
    "run_outbound",
]

log = logging.getLogger(__name__)

AVAILABILITY_PUSHES = Counter(
    "hub_availability_pushes_total",
    "Available-to-promise pushes to sales channels, by channel and outcome "
    "(delivered, retry_exhausted, rejected).",
    ["channel", "outcome"],
)
AVAILABILITY_PUSH_DELAY = Histogram(
    "hub_availability_push_delay_seconds",
    "From the ledger change (outbox row written) to the channel accepting the new level.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def _count_push(event: OutboxEvent, _destination: str, outcome: str, _reason: str) -> None:
    if event.event_type != "availability.changed":
        return
    AVAILABILITY_PUSHES.labels(str(event.payload.get("channel")), outcome).inc()
    if outcome == "delivered":
        created = event.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        AVAILABILITY_PUSH_DELAY.observe(max(0.0, (datetime.now(UTC) - created).total_seconds()))


SETTLING_PUSHES = Counter(
    "hub_settling_pushes",
    "Current levels re-sent after a push whose answer was lost (LevelSettler), by channel.",
    ["channel"],
)

#: The advisory lock key the relay's leader holds ("hubrelay" as a big-endian int64).
RELAY_LOCK_KEY = int.from_bytes(b"hubrelay", "big")


class LedgerOutbox:
    """The ledger's outbox as the relay's :class:`~router.outbound.LaneSource`."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def pending(self, limit: int, after_id: int = 0) -> list[OutboxEvent]:
        return [
            OutboxEvent(
                id=event.id,
                tenant=event.tenant,
                event_type=event.event_type,
                key=event.key,
                payload=event.payload,
                created_at=datetime.fromisoformat(event.created_at),
                traceparent=event.traceparent,
            )
            for event in self._ledger.unpublished(limit, after_id)
        ]

    def mark_published(self, ids: Sequence[int]) -> None:
        self._ledger.mark_published(ids)


class LevelSettler:
    """Re-sends a channel's current level after a push whose outcome was lost.

    A push that timed out after it was sent may still be applied by the vendor, later, after a
    newer level: the channel would then offer the older, often higher, figure until the SKU next
    changes. Levels are absolute, so the cure is to send the ledger's current level again once the
    late write must have landed: ``settle_seconds`` (the connector's setting) after the next push
    of that SKU that succeeds. A settling push that is itself uncertain settles again, a few times.
    """

    ROUNDS = 5

    def __init__(self, runtime: HubRuntime) -> None:
        self._runtime = runtime
        self._uncertain: set[tuple[int, str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def push(self, connector: Any, channel: str, tenant: str, sku: str, level: int) -> None:
        """One push; notes an uncertain outcome, and settles after a success that follows one."""
        key = (id(connector), tenant, sku)
        before = connector.http.uncertain
        try:
            await self._send(connector, channel, tenant, sku, level)
        finally:
            if connector.http.uncertain != before:
                self._uncertain.add(key)
        if key in self._uncertain and connector.config.settle_seconds > 0:
            self._uncertain.discard(key)
            task = asyncio.create_task(self._settle(connector, channel, tenant, sku))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, connector: Any, channel: str, tenant: str, sku: str, level: int) -> None:
        ids = self._runtime.catalog.external_ids(tenant, channel, sku)
        await call_connector(connector.push_availability, sku, level, external_ids=ids)

    async def _settle(self, connector: Any, channel: str, tenant: str, sku: str) -> None:
        for _ in range(self.ROUNDS):
            await asyncio.sleep(connector.config.settle_seconds)
            current = await asyncio.to_thread(
                self._runtime.ledger.availability, tenant, sku=sku, channel=channel
            )
            if not current:
                return
            before = connector.http.uncertain
            try:
                await self._send(connector, channel, tenant, sku, current[0].available)
            except Exception:  # noqa: BLE001 - logged; the next round (or the next push) repairs
                log.warning("settling %s's level on %s failed; trying again", sku, channel)
                continue
            SETTLING_PUSHES.labels(channel).inc()
            if connector.http.uncertain == before:
                return

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _push_action(settler: LevelSettler, connector: Any, channel: str) -> OutboundAction:
    async def push(event: OutboxEvent) -> None:
        sku = str(event.payload["sku"])
        await settler.push(connector, channel, event.tenant, sku, int(event.payload["available"]))

    return push


class RequestLocks:
    """One lock per (tenant, request id): a request's release and its cancellation never reach
    the node at the same time.

    A lane performs the events it has queued concurrently, so without it a cancellation could
    look for the node's order while the release is still creating it, find nothing, and leave
    the order to ship. Holding the request's lock for the whole call makes the cancellation wait
    for the release (which, once the order is cancelled in the ledger, sends nothing at all).
    """

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, tenant: str, request_id: str) -> Any:
        key = (tenant, request_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


def _fulfilment_action(
    runtime: HubRuntime, connector: Any, reader: Any, locks: RequestLocks
) -> OutboundAction:
    """Hand a released order to its node: the request is rebuilt from the ledger (the outbox
    event names only the order, node and request id) and sent through the node's connector.

    The node's own id for it (a ShipBob order, an EasyPost shipment whose label was bought) is
    logged with the request id and stored with the request (``Ledger.note_node_reference``), so
    ``hub fulfilment order`` shows it. The release has happened by then: a failure to store the
    reference is a warning (the reference is in the log line), never a failed or repeated
    release."""
    from hub.release.run import request_for

    async def send(event: OutboxEvent) -> None:
        tenant = runtime.deployment.tenants[event.tenant]
        async with locks.hold(event.tenant, str(event.payload.get("request_id"))):
            request = await asyncio.to_thread(
                request_for, reader, event.tenant, event.payload, tenant.release, event.created_at
            )
            if request is None:  # nothing is left to ship there (cancelled since the release)
                return
            reference = await call_connector(connector.request_fulfillment, request)
        log.info(
            "released %s to %s through %s; its reference there: %s",
            request.request_id,
            request.location,
            type(connector).name,
            reference,
        )
        if reference is None or not str(reference).strip():
            return
        try:
            await asyncio.to_thread(
                runtime.ledger.note_node_reference,
                event.tenant,
                request.request_id,
                str(reference),
                source=f"outbox/{event.id}",
            )
        except Exception:  # the node has the order: never fail (and so repeat) the release
            log.warning(
                "could not store %s's reference at %s (%s) in the ledger; it is in the line above",
                request.request_id,
                request.location,
                reference,
                exc_info=True,
            )

    return send


def cancellation_for(tenant: str, payload: Mapping[str, Any]) -> FulfillmentCancellation:
    """The canonical cancellation behind a ledger ``order.release_cancelled`` event (its payload:
    ``order``, ``request_id``, ``location``, ``requested_at``, ``reason``)."""
    channel, _, external_id = str(payload["order"]).partition(":")
    requested_at = payload.get("requested_at")
    return FulfillmentCancellation(
        tenant=tenant,
        request_id=str(payload["request_id"]),
        order=OrderRef(channel=channel, external_id=external_id),
        location=str(payload["location"]),
        reason=str(payload["reason"]) if payload.get("reason") else None,
        requested_at=parse_ts(str(requested_at)) if requested_at else None,
        cancelled_at=datetime.now(UTC),
    )


def _cancel_action(connector: Any, locks: RequestLocks) -> OutboundAction:
    """Tell the node an order it was released is cancelled (``Connector.cancel_fulfillment``).

    The node's answer is logged with the request id. A node that can no longer cancel (already
    shipped, label scanned) raises a permanent error naming what to do; the dispatcher turns it
    into an outbound dead letter, as a refused release is."""

    async def cancel(event: OutboxEvent) -> None:
        cancellation = cancellation_for(event.tenant, event.payload)
        async with locks.hold(event.tenant, cancellation.request_id):
            answer = await call_connector(connector.cancel_fulfillment, cancellation)
        log.info(
            "cancelled %s at %s through %s: %s",
            cancellation.request_id,
            cancellation.location,
            type(connector).name,
            answer,
        )

    return cancel


def _cannot_cancel_action(connector: Any) -> OutboundAction:
    """The node received the request but its connector cannot cancel there: a dead letter that
    tells the operator to cancel at the node by hand."""

    async def refuse(event: OutboxEvent) -> None:
        raise PermanentError(
            f"request {event.payload.get('request_id')} (order {event.payload.get('order')}) was "
            f"cancelled after its release to {event.payload.get('location')}, but "
            f"{type(connector).name} cannot cancel at the node: cancel it there by hand"
        )

    return refuse


#: The ledger's outbox event types, and the canonical event a route names to receive them.
OUTBOUND_EVENTS = {
    "availability.changed": "availability.changed",
    "order.released": "fulfillment.requested",
    "order.release_cancelled": "fulfillment.cancelled",
}

#: Canonical events a route implies: a node that is sent releases is told of their cancellation.
IMPLIED_EVENTS = {"fulfillment.cancelled": "fulfillment.requested"}


def route_sends(events: Sequence[str], canonical: str) -> bool:
    """Whether a route ``from: ledger`` listing ``events`` sends ``canonical``: named, ``*``, or
    implied (``fulfillment.cancelled`` goes wherever ``fulfillment.requested`` goes)."""
    wanted = {"*", canonical}
    if canonical in IMPLIED_EVENTS:
        wanted.add(IMPLIED_EVENTS[canonical])
    return bool(wanted & set(events))


def dispatcher_for(
    runtime: HubRuntime, *, reader: Any = None, settler: LevelSettler | None = None
) -> Dispatcher:
    """Route the ledger's events to the connector instances the deployment sends them to.

    Only routes ``from: ledger`` send anything out: an operator opts a live store in to pushes,
    never by default. An ``availability.changed`` event is the level of one channel, so it goes
    only to destinations selling on that channel; a released order (``order.released``, routed as
    ``fulfillment.requested``) goes only to the connector serving the node it was released to.
    ``reader`` (a :class:`hub.release.candidates.LedgerReader`) rebuilds fulfilment requests;
    ``settler`` re-sends levels whose push had a lost answer (:class:`LevelSettler`).

    A released order cancelled since (``order.release_cancelled``, routed as
    ``fulfillment.cancelled``) goes to the connector serving the node it was released to, by every
    route that sends it ``fulfillment.requested`` (:data:`IMPLIED_EVENTS`): a node is never left to
    ship a cancelled order because its route forgot to name the cancellation. When that
    connector cannot cancel (``fulfillment.cancelled`` not in its ``accepts``) the cancellation is
    a dead letter telling the operator to cancel at the node by hand.
    """
    settler = settler or LevelSettler(runtime)
    locks = RequestLocks()

    def routes(event: OutboxEvent) -> list[tuple[str, OutboundAction]]:
        tenant = runtime.deployment.tenants.get(event.tenant)
        canonical = OUTBOUND_EVENTS.get(event.event_type)
        if tenant is None or canonical is None:
            return []
        destinations: dict[str, OutboundAction] = {}
        for route in tenant.routes:
            if route.source != "ledger" or not route_sends(route.events, canonical):
                continue
            for name in route.to:
                instance = tenant.connectors.get(name)
                connector = runtime.instances.get((event.tenant, name))
                if instance is None or connector is None or name in destinations:
                    continue
                accepts = type(connector).accepts
                if canonical == "fulfillment.cancelled":
                    if instance.location != str(event.payload.get("location")):
                        continue
                    if canonical in accepts:
                        destinations[name] = _cancel_action(connector, locks)
                    elif "fulfillment.requested" in accepts:
                        destinations[name] = _cannot_cancel_action(connector)
                    continue
                if canonical not in accepts:
                    continue
                if canonical == "availability.changed":
                    channel = str(event.payload.get("channel"))
                    if instance.channel == channel:
                        destinations[name] = _push_action(settler, connector, channel)
                elif instance.location == str(event.payload.get("location")) and reader:
                    destinations[name] = _fulfilment_action(runtime, connector, reader, locks)
        return list(destinations.items())

    def policy_for(event: OutboxEvent, destination: str) -> Any:
        """The retry policy of the route that sends this event there (else the tenant's)."""
        tenant = runtime.deployment.tenants.get(event.tenant)
        if tenant is None:
            return None
        canonical = OUTBOUND_EVENTS.get(event.event_type, event.event_type)
        for route in tenant.routes:
            if (
                route.source == "ledger"
                and destination in route.to
                and route_sends(route.events, canonical)
            ):
                return route.retry or tenant.retry
        return tenant.retry

    return Dispatcher(
        routes=routes,
        dead_letters=runtime.operations,
        on_result=_count_push,
        policy_for=policy_for,
    )


class RelayLeadership:
    """Who runs the outbox relay: at most one process per ledger.

    On PostgreSQL, a dedicated connection holds a session advisory lock for as long as its process
    relays. The lock is released when the connection ends, so a worker killed mid-push hands the
    relay over without any lease to expire. On SQLite the hub runs in one process: always leader.
    """

    def __init__(self, ledger_url: str) -> None:
        target = parse_ledger_url(ledger_url)
        self._url = target.location if target.kind == "postgres" else None
        self._conn: Any = None

    def acquire(self) -> bool:
        """Try to become the relay; False if another process relays (or the database is down)."""
        if self._url is None:
            return True
        import psycopg

        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_KEY,)
            ).fetchone()
        except psycopg.Error:
            self.release()
            return False
        return bool(row and row[0])

    def still_held(self) -> bool:
        """False once the lock's connection is gone (the lock went with it)."""
        if self._url is None:
            return True
        import psycopg

        try:
            self._conn.execute("SELECT 1")
        except (psycopg.Error, AttributeError):
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_outbound(
    runtime: HubRuntime,
    *,
    stop: asyncio.Event,
    batch_size: int = 200,
    idle_wait: float = 0.05,
    check_every: float = 2.0,
    expiry_every: float = 300.0,
    inbound: Callable[[list[RawMessage]], Awaitable[None]] | None = None,
) -> None:
    """Relay the ledger's outbox to the connectors until ``stop``, as the elected relay.

    A process that is not the leader checks again every ``check_every`` seconds; the leader checks
    that it still holds the lock as often, and stops relaying at once if it lost it. The leader
    also sweeps expired lots every ``expiry_every`` seconds, so their units leave the channels'
    available-to-promise when they expire (:func:`hub.ledger.lots.refresh_expired`), and, given
    ``inbound`` (where raw messages go: the inbox, the broker), runs the deployment's scheduled
    polls (:mod:`hub.polling`), so one process reads each vendor however many workers run.
    """
    from hub.polling import run_polls, scheduled_polls
    from hub.release.candidates import LedgerReader

    reader = LedgerReader(runtime.ledger_url)
    source = LedgerOutbox(runtime.ledger)
    settler = LevelSettler(runtime)
    dispatcher = dispatcher_for(runtime, reader=reader, settler=settler)
    leadership = RelayLeadership(runtime.ledger_url)
    try:
        while not stop.is_set():
            if not await asyncio.to_thread(leadership.acquire):
                await _wait(stop, check_every)
                continue
            log.info("this process relays the outbox")
            resign = asyncio.Event()
            relay = asyncio.create_task(
                run_lanes(
                    source, dispatcher, stop=resign, batch_size=batch_size, idle_wait=idle_wait
                )
            )
            polls = scheduled_polls(runtime) if inbound is not None else []
            poller = (
                asyncio.create_task(run_polls(runtime, inbound, stop=resign, polls=polls))
                if inbound is not None and polls
                else None
            )
            swept = await _sweep_expired_lots(runtime, None)
            while not stop.is_set() and not relay.done():
                await _wait(stop, check_every)
                if not await asyncio.to_thread(leadership.still_held):
                    log.warning("lost the outbox relay lock; another worker takes over")
                    break
                if time.monotonic() - swept[1] >= expiry_every:
                    swept = await _sweep_expired_lots(runtime, swept[0])
            resign.set()
            if poller is not None:
                try:
                    await poller
                except Exception:
                    log.exception("the scheduled polls stopped with an error")
            try:
                await relay
            except Exception:  # the events stay in the outbox; try again shortly
                log.exception("the outbox relay failed; it restarts in %.0f s", check_every)
                await _wait(stop, check_every)
    finally:
        await settler.close()
        await asyncio.to_thread(leadership.release)
        reader.close()


async def _sweep_expired_lots(runtime: HubRuntime, since: str | None) -> tuple[str | None, float]:
    """One expiry sweep (lots expired after ``since``); returns where the next one starts."""
    from hub.ledger.lots import refresh_expired
    from hub.ledger.work import now_text

    started = now_text()
    try:
        await asyncio.to_thread(refresh_expired, runtime.ledger, since)
    except Exception:  # the ledger may be down; the next sweep covers this one's lots
        log.exception("the expired-lot sweep failed; it runs again shortly")
        return since, time.monotonic()
    return started, time.monotonic()


async def redispatch(runtime: HubRuntime, letter: DeadLetterRow, *, reader: Any = None) -> str:
    """Send an outbound dead letter to the destination that refused it; returns the outcome.

    A channel's level is replayed as it stands in the ledger now, not as the dead letter recorded
    it: pushes set a level, and a replay of an old one would overwrite every newer push since.
    ``reader`` (a :class:`hub.release.candidates.LedgerReader`) may be shared by many replays.
    """
    raw = letter.raw
    payload = dict(orjson.loads(raw.body))
    if raw.event == "availability.changed":
        current = runtime.ledger.availability(
            raw.tenant, sku=str(payload["sku"]), channel=str(payload["channel"])
        )
        if current:
            payload["available"] = current[0].available
    _, event_id, destination = raw.id.split(":", 2)
    event = OutboxEvent(
        id=int(event_id),
        tenant=raw.tenant,
        event_type=raw.event,
        key=f"{payload.get('sku')}@{payload.get('channel')}"
        if raw.event == "availability.changed"
        else str(payload.get("order")),
        payload=payload,
        created_at=raw.received_at,
    )
    outcomes: list[str] = []
    from hub.release.candidates import LedgerReader

    own_reader = reader is None
    reader = reader if reader is not None else LedgerReader(runtime.ledger_url)
    dispatcher = dispatcher_for(runtime, reader=reader)
    routes = dispatcher.routes
    dispatcher.routes = lambda e: [(d, a) for d, a in routes(e) if d == destination]

    def record(event: OutboxEvent, destination: str, outcome: str, reason: str) -> None:
        outcomes.append(outcome)
        _count_push(event, destination, outcome, reason)

    dispatcher.on_result = record
    try:
        await dispatcher.dispatch([event])
    finally:
        if own_reader:
            reader.close()
    return outcomes[0] if outcomes else "no_destination"


async def replay_dead_letters(
    runtime: HubRuntime, letters: Sequence[DeadLetterRow]
) -> list[list[str]]:
    """Replay each dead letter where it failed; returns each one's outcomes, in order.

    Inbound letters go through the whole pipeline again (idempotent); outbound ones (a push a
    vendor refused) go back to their destination. One path for the CLI and the admin API.
    """
    outcomes: dict[int, list[str]] = {}
    inbound = [letter for letter in letters if letter.stage != "outbound"]
    if inbound:
        results = await runtime.router.process([letter.raw for letter in inbound])
        for letter, result in zip(inbound, results, strict=True):
            outcomes[letter.id] = [d.value for d in result.dispositions]
    outbound = [letter for letter in letters if letter.stage == "outbound"]
    if outbound:
        from hub.release.candidates import LedgerReader

        reader = LedgerReader(runtime.ledger_url)  # one connection for the whole replay
        try:
            for letter in outbound:
                outcomes[letter.id] = [await redispatch(runtime, letter, reader=reader)]
        finally:
            reader.close()
    return [outcomes[letter.id] for letter in letters]
