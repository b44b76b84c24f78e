"""Redis restarted in the middle of a run: nothing lost, nothing applied twice.

Pass criterion: every published message is applied exactly once after a restart of a durable Redis
(AOF, fsync always) during publishing and consuming, and the pending lists drain to zero.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from router.transport.redis_streams import (
    RedisStreamsConfig,
    RedisStreamsPublisher,
    attach_consumers,
    ensure_groups,
)
from tests.faults.harness import PrivateRedis
from tests.router.test_pipeline import MemoryLedger, Stores, _raw, _router


async def test_restart_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    config = RedisStreamsConfig(
        prefix="raw",
        partitions=2,
        group="g",
        batch_size=20,
        polling_interval_ms=20,
        claim_idle_ms=500,
    )
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    client = Redis.from_url(server.url)
    await ensure_groups(client, config)
    publisher = RedisStreamsPublisher(client, config)
    broker = RedisBroker(server.url, logger=None)
    attach_consumers(broker, config, consumer="w1", handler=router.process, dead_letters=stores)
    await broker.start()
    try:
        raws = [_raw(f"m{i}", str(i)) for i in range(400)]
        await publisher.publish(raws[:200], keys=[r.id for r in raws[:200]])
        restarter = threading.Thread(target=server.restart, kwargs={"downtime": 1.0})
        restarter.start()
        for start in range(200, 400, 20):  # keeps publishing through the outage
            chunk = raws[start : start + 20]
            await publisher.publish(chunk, keys=[r.id for r in chunk])
        restarter.join()
        assert publisher.retries > 0  # the outage really happened while publishing
        for _ in range(600):
            if len(ledger.applied) == 400:
                break
            await asyncio.sleep(0.05)
        assert len(ledger.applied) == 400
        for _ in range(100):
            pending = sum(
                [(await client.xpending(s, config.group))["pending"] for s in config.streams]
            )
            if pending == 0:
                break
            await asyncio.sleep(0.05)
        assert pending == 0
    finally:
        await broker.stop()
        await client.aclose()
        server.stop()
