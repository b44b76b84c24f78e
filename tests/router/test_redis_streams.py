"""The Redis Streams transport on a real Redis server: delivery, reclaiming, caps, corrupt entries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from router.pipeline import Disposition, RawResult
from router.ports import RawMessage
from router.transport.redis_streams import (
    RedisStreamsConfig,
    RedisStreamsPublisher,
    attach_consumers,
    ensure_groups,
    partition_of,
)
from tests.router.test_pipeline import MemoryLedger, Stores, _raw, _router


@pytest.fixture
def config() -> RedisStreamsConfig:
    tag = uuid.uuid4().hex[:8]
    return RedisStreamsConfig(
        prefix=f"hub-test:{tag}:raw",
        partitions=3,
        group=f"g-{tag}",
        batch_size=20,
        polling_interval_ms=20,
        claim_idle_ms=400,
        max_deliveries=3,
    )


async def _wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def _pending(client: Redis, config: RedisStreamsConfig) -> int:
    total = 0
    for stream in config.streams:
        if await client.exists(stream):
            total += (await client.xpending(stream, config.group))["pending"]
    return total


async def _drained(client: Redis, config: RedisStreamsConfig, seconds: float = 5.0) -> None:
    """Wait until no entry is pending in any partition, or fail."""
    for _ in range(int(seconds / 0.05)):
        if await _pending(client, config) == 0:
            return
        await asyncio.sleep(0.05)
    assert await _pending(client, config) == 0


def test_partitions_are_stable_and_spread() -> None:
    assert partition_of("acme:shopify_us", 8) == partition_of("acme:shopify_us", 8)
    assert len({partition_of(f"k{i}", 4) for i in range(100)}) == 4


async def _start(
    redis_url: str,
    config: RedisStreamsConfig,
    consumer: str,
    handler: Callable[[list[RawMessage]], Awaitable[list[RawResult]]],
    stores: Stores,
) -> RedisBroker:
    client = Redis.from_url(redis_url)
    await ensure_groups(client, config)
    await client.aclose()
    broker = RedisBroker(redis_url, logger=None)
    attach_consumers(broker, config, consumer=consumer, handler=handler, dead_letters=stores)
    await broker.start()
    return broker


async def test_two_workers_share_the_streams_and_everything_is_acknowledged(
    redis_url: str, config: RedisStreamsConfig
) -> None:
    client = Redis.from_url(redis_url)
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    raws = [_raw(f"m{i}", str(i)) for i in range(300)]
    await RedisStreamsPublisher(client, config).publish(raws, keys=[r.id for r in raws])
    workers = [await _start(redis_url, config, f"w{n}", router.process, stores) for n in (1, 2)]
    try:
        await _wait_for(lambda: len(ledger.applied) == 300)
        await _drained(client, config)
    finally:
        for worker in workers:
            await worker.stop()
        await client.aclose()


async def test_a_crashed_batch_is_reclaimed_and_applied_once(
    redis_url: str, config: RedisStreamsConfig
) -> None:
    client = Redis.from_url(redis_url)
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    crashes = {"left": 2}

    async def crashing(batch: list[RawMessage]) -> list[RawResult]:
        results = await router.process(batch)  # the ledger commits...
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("worker died before acknowledging")  # ...but nothing is acked
        return results

    raws = [_raw(f"c{i}", str(i)) for i in range(60)]
    await RedisStreamsPublisher(client, config).publish(raws, keys=[r.id for r in raws])
    worker = await _start(redis_url, config, "w1", crashing, stores)
    try:
        await _wait_for(lambda: len(ledger.applied) == 60)
        await _drained(client, config)
        assert len(ledger.applied) == 60  # redeliveries were duplicates, not second effects
        assert any(r.outcome == "duplicate" for r in stores.records)
    finally:
        await worker.stop()
        await client.aclose()


async def test_an_entry_that_never_settles_is_dead_lettered_at_the_delivery_cap(
    redis_url: str, config: RedisStreamsConfig
) -> None:
    client = Redis.from_url(redis_url)
    stores = Stores()
    seen: list[int] = []

    async def always_retry(batch: list[RawMessage]) -> list[RawResult]:
        seen.extend(raw.attempt for raw in batch)
        return [RawResult(raw.id, [Disposition.RETRY], ["still failing"]) for raw in batch]

    stuck = replace(_raw("stuck", "1"), tenant="acme")
    await RedisStreamsPublisher(client, config).publish([stuck])
    worker = await _start(redis_url, config, "w1", always_retry, stores)
    try:
        await _wait_for(lambda: bool(stores.letters), seconds=20)
        [letter] = stores.letters
        assert letter.raw.id == "stuck"
        assert "delivered 4 times without a terminal outcome (cap 3)" in letter.reason
        assert seen == [1, 2, 3]
        await _drained(client, config)
    finally:
        await worker.stop()
        await client.aclose()


async def test_a_corrupt_entry_is_dead_lettered_and_does_not_block_the_stream(
    redis_url: str, config: RedisStreamsConfig
) -> None:
    client = Redis.from_url(redis_url)
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    worker = await _start(redis_url, config, "w1", router.process, stores)
    try:
        await client.xadd(config.stream(0), {b"__data__": b"{not json"})
        await RedisStreamsPublisher(client, config).publish([_raw("ok", "5")])
        await _wait_for(lambda: len(ledger.applied) == 1 and bool(stores.letters))
        assert stores.letters[0].stage == "transport"
        assert "corrupt transport entry" in stores.letters[0].reason
    finally:
        await worker.stop()
        await client.aclose()
