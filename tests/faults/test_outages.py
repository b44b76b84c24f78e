"""Redis restarted and PostgreSQL unavailable in the middle of a run, on the real runtime.

Both scenarios run ``hub worker``'s consumer loop in-process (:mod:`tests.faults.streaming`) with
the runtime ``hub worker`` opens: the PostgreSQL ledger and operations store, the Redis fast path,
Shopify translation and governance.

``test_redis_restart_mid_run_with_the_postgres_ledger``: a durable private Redis (AOF, fsync
always) carrying the streams and the fast path is restarted while orders are published and
consumed. Pass criteria: every published order is applied exactly once to the PostgreSQL ledger,
the publisher retried through the outage, no entry stays pending, and the invariant checker passes.

``test_postgres_unavailable_for_10_seconds``: a TCP proxy in front of PostgreSQL drops every
connection and refuses new ones for 10 seconds while the worker applies orders. Pass criteria: the
run completes with every order applied exactly once and nothing dead-lettered; the audit log
records the in-process retries (``retrying``, with attempt and delay) and the waits for
redelivery (``retry``); no entry stays pending; the invariant checker passes.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from hub.ledger.store import Ledger
from hub.runtime import HubRuntime
from router.idempotency import RedisFastPath
from router.ports import RawMessage
from tests.faults.harness import PrivateRedis, ProxyThread
from tests.faults.hubkit import open_hub, order_body, raw
from tests.faults.invariants import check_invariants
from tests.faults.streaming import feed, pending, publish, running_worker, wait_until

STOCK = {"TSHIRT-RED-M": 10_000, "MUG-WHITE": 5_000}


def _orders(base: int, count: int) -> list[RawMessage]:
    return [raw(f"order-{base + n}", "orders/create", order_body(base + n)) for n in range(count)]


def _runtime(
    ledger_url: str, redis_url: str, prefix: str, **broker: Any
) -> tuple[HubRuntime, Redis]:
    """The runtime ``hub worker`` builds (``hub.scale.worker_runtime``), on these servers, and
    its fast path's Redis client (the caller closes it)."""
    client = Redis.from_url(redis_url)
    runtime = open_hub(
        ledger_url,
        stock=STOCK,
        broker={"kind": "redis", "url": redis_url, "partitions": 2, "prefix": prefix, **broker},
        fast_path=RedisFastPath(client, prefix=f"{prefix}:idem", claim_ttl=1),
    )
    return runtime, client


async def _drained(runtime: HubRuntime, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    left = await pending(runtime)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = await pending(runtime)
    return left


async def test_redis_restart_mid_run_with_the_postgres_ledger(
    tmp_path: Path, postgres_url: str
) -> None:
    """Pass criteria: see the module docstring (first scenario)."""
    server = PrivateRedis(tmp_path)
    server.start()
    runtime, client = _runtime(
        postgres_url, server.url, "hub-test:restart", batch_size=50, claim_idle_ms=1000
    )
    count = 600
    raws = _orders(5_400_000_000_000, count)
    keys = [m.id for m in raws]
    try:
        await publish(runtime, raws[:200], keys[:200])
        async with running_worker(runtime), feed(runtime) as publisher:
            restarter = threading.Thread(target=server.restart, kwargs={"downtime": 1.0})
            restarter.start()
            sent = 200
            while sent < count:  # keeps publishing, a little at a time, through the outage
                chunk = 10 if restarter.is_alive() else count - sent
                await publisher.publish(raws[sent : sent + chunk], keys=keys[sent : sent + chunk])
                sent += chunk
                await asyncio.sleep(0.02)
            await asyncio.to_thread(restarter.join)
            assert publisher.retries > 0  # the outage really happened while publishing
            await wait_until(
                lambda: runtime.ledger.processed_count() >= count + len(STOCK), 90, "every order"
            )
            assert await _drained(runtime, 30) == 0
        assert runtime.ledger.processed_count() == count + len(STOCK)
        report = check_invariants(runtime.ledger, accepted=keys, direct=len(STOCK))
        assert report.final["applied"] == count - report.final["duplicate"]
        assert report.dead_letters == 0
    finally:
        runtime.close()
        await client.aclose()
        server.stop()


async def test_postgres_unavailable_for_10_seconds(postgres_url: str, redis_url: str) -> None:
    """Pass criteria: see the module docstring (second scenario)."""
    Ledger.migrate(postgres_url)
    proxy, through_proxy = ProxyThread.before_postgres(postgres_url)
    # not under hub-test:*, which any other test session's redis fixture sweeps when it ends
    prefix = f"hub-outage:{uuid.uuid4().hex[:8]}"
    # The delivery cap must outlast the outage: claim_idle_ms x max_deliveries >> 10 s.
    runtime, client = _runtime(
        through_proxy, redis_url, prefix, batch_size=50, claim_idle_ms=1000, max_deliveries=30
    )
    count = 1_500
    raws = _orders(5_500_000_000_000, count)
    direct = Ledger(postgres_url)
    try:
        await publish(runtime, raws, [m.id for m in raws])
        async with running_worker(runtime):
            await wait_until(lambda: direct.processed_count() >= 300, 60, "the run to be under way")
            proxy.outage()
            at_outage = direct.processed_count()
            await asyncio.sleep(10)
            assert direct.processed_count() == at_outage  # nothing reached the ledger meanwhile
            proxy.restore()
            await wait_until(
                lambda: direct.processed_count() >= count + len(STOCK), 120, "every order"
            )
            assert await _drained(runtime, 30) == 0
        assert at_outage < count + len(STOCK)  # the outage hit the middle of the run
        assert direct.processed_count() == count + len(STOCK)
        report = check_invariants(direct, accepted=[m.id for m in raws], direct=len(STOCK))
        assert report.dead_letters == 0
        retrying = direct.db.query(
            "SELECT COUNT(*) FROM audit_log WHERE stage = 'deliver' AND outcome = 'retrying'"
        )[0][0]
        waits = direct.db.query(
            "SELECT COUNT(*) FROM audit_log WHERE stage = 'deliver' AND outcome = 'retry'"
        )[0][0]
        assert retrying > 0, retrying  # in-process retries, with attempt and delay
        assert waits > 0, waits  # left for redelivery once the in-process retries ran out
    finally:
        runtime.close()
        async for key in client.scan_iter(f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()
        direct.close()
        proxy.__exit__()
