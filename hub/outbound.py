"""Outbound wiring: the ledger's outbox, relayed in process, dispatched to connectors.

When the ledger changes what a channel may sell, it writes an ``availability.changed`` event to its
outbox in the same transaction. The relay (:func:`router.outbound.run_relay`) hands those events to
the dispatcher, which pushes the new level to every connector instance selling on that channel, with
retries and dead letters. Connector errors are translated to the router's transient and permanent
errors here, at the boundary, so the router need not know any connector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.errors import RateLimited, RetriableError
from hub.ledger.store import Ledger
from hub.runtime import HubRuntime
from router.errors import RateLimitedError, TransientError
from router.outbound import Dispatcher, OutboundAction, OutboxEvent

__all__ = ["InProcessBus", "LedgerOutbox", "dispatcher_for"]


class LedgerOutbox:
    """The ledger's outbox as the relay's :class:`~router.outbound.OutboxSource`."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def pending(self, limit: int) -> list[OutboxEvent]:
        return [
            OutboxEvent(
                id=event.id,
                tenant=event.tenant,
                event_type=event.event_type,
                key=event.key,
                payload=event.payload,
                created_at=datetime.fromisoformat(event.created_at),
            )
            for event in self._ledger.unpublished(limit)
        ]

    def mark_published(self, ids: Sequence[int]) -> None:
        self._ledger.mark_published(ids)


class InProcessBus:
    """The embedded event bus: published events go straight to the dispatcher."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def publish(self, events: Sequence[OutboxEvent]) -> None:
        await self._dispatcher.dispatch(events)


def _push_action(runtime: HubRuntime, connector: Any, channel: str) -> OutboundAction:
    async def push(event: OutboxEvent) -> None:
        sku = str(event.payload["sku"])
        available = int(event.payload["available"])
        ids = runtime.catalog.external_ids(event.tenant, channel, sku)
        try:
            await asyncio.to_thread(connector.push_availability, sku, available, external_ids=ids)
        except RateLimited as exc:
            raise RateLimitedError(str(exc), retry_after=exc.retry_after) from exc
        except RetriableError as exc:
            raise TransientError(str(exc)) from exc

    return push


def dispatcher_for(runtime: HubRuntime) -> Dispatcher:
    """Route domain events to the connector instances that act on them."""

    def routes(event: OutboxEvent) -> list[tuple[str, OutboundAction]]:
        if event.event_type != "availability.changed":
            return []
        tenant = runtime.deployment.tenants.get(event.tenant)
        if tenant is None:
            return []
        channel = str(event.payload.get("channel"))
        destinations = []
        for name, instance in tenant.connectors.items():
            connector = runtime.instances.get((event.tenant, name))
            if instance.channel != channel or connector is None:
                continue
            if "availability.changed" not in type(connector).accepts:
                continue
            destinations.append((name, _push_action(runtime, connector, channel)))
        return destinations

    return Dispatcher(routes=routes, dead_letters=runtime.operations)
