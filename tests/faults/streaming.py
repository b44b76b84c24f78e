"""Run the real worker in-process on Redis Streams, for the fault scenarios.

In-process (the test's event loop, the runtime's router and stores, ``hub.scale.run_worker``)
rather than a ``hub worker`` subprocess, so a scenario can also run an asyncio TCP proxy in front
of PostgreSQL in the same loop and read the worker's stores directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

from redis.asyncio import Redis

from hub.runtime import HubRuntime
from hub.scale import run_worker, streams_config
from router.ports import RawMessage
from router.transport.redis_streams import RedisStreamsPublisher, ensure_groups

__all__ = ["feed", "pending", "publish", "running_worker", "wait_until"]


@contextlib.asynccontextmanager
async def feed(runtime: HubRuntime) -> AsyncIterator[RedisStreamsPublisher]:
    """The ingress's publisher on the deployment's partitions (one client for the whole run, so
    its retries ride through a Redis restart; ``publisher.retries`` counts them)."""
    client = Redis.from_url(str(runtime.deployment.broker.url))
    config = streams_config(runtime.deployment)
    try:
        await ensure_groups(client, config)
        yield RedisStreamsPublisher(client, config)
    finally:
        await client.aclose()


async def publish(runtime: HubRuntime, raws: Sequence[RawMessage], keys: Sequence[str]) -> None:
    """Publish to the deployment's partitions by key, in chunks."""
    async with feed(runtime) as publisher:
        for start in range(0, len(raws), 500):
            await publisher.publish(raws[start : start + 500], keys=keys[start : start + 500])


async def pending(runtime: HubRuntime) -> int:
    """Entries read but not acknowledged, over every partition."""
    config = streams_config(runtime.deployment)
    client = Redis.from_url(str(runtime.deployment.broker.url))
    try:
        return sum([(await client.xpending(s, config.group))["pending"] for s in config.streams])
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def running_worker(runtime: HubRuntime, consumer: str = "w1") -> AsyncIterator[None]:
    """``hub worker``'s consumer loop on this runtime, stopped (and awaited) on exit."""
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        run_worker(runtime, consumer=consumer, stop=stop, on_started=started.set)
    )
    await asyncio.wait_for(started.wait(), 20)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` (a cheap, synchronous check) until it holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
