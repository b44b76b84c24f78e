"""The idempotency fast path against a real Redis server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from router.idempotency import Claim, LocalFastPath, RedisFastPath


@pytest.fixture
def prefix() -> str:
    return f"hub-test:{uuid.uuid4().hex[:8]}"


async def test_claim_complete_release_cycle(redis_url: str, prefix: str) -> None:
    client = Redis.from_url(redis_url)
    worker_a = RedisFastPath(client, prefix=prefix)
    worker_b = RedisFastPath(client, prefix=prefix)
    keys = ["k1", "k2", "k3"]

    assert await worker_a.claim("acme", keys) == [Claim.NEW] * 3
    assert await worker_b.claim("acme", keys) == [Claim.BUSY] * 3  # in flight elsewhere
    assert await worker_b.claim("globex", keys) == [Claim.NEW] * 3  # tenants never collide

    await worker_a.complete("acme", ["k1"])
    await worker_a.release("acme", ["k2"])
    await worker_b.release("acme", ["k3"])  # not b's claim: must stay
    assert await worker_b.claim("acme", keys) == [Claim.DONE, Claim.NEW, Claim.BUSY]
    await client.aclose()


async def test_claims_expire_so_a_dead_worker_cannot_block_a_message(
    redis_url: str, prefix: str
) -> None:
    client = Redis.from_url(redis_url)
    dead = RedisFastPath(client, prefix=prefix, claim_ttl=1)
    alive = RedisFastPath(client, prefix=prefix)
    assert await dead.claim("acme", ["k"]) == [Claim.NEW]
    assert await alive.claim("acme", ["k"]) == [Claim.BUSY]
    await asyncio.sleep(1.2)
    assert await alive.claim("acme", ["k"]) == [Claim.NEW]
    await client.aclose()


async def test_concurrent_claims_have_exactly_one_winner_per_key(
    redis_url: str, prefix: str
) -> None:
    client = Redis.from_url(redis_url, max_connections=20)
    workers = [RedisFastPath(client, prefix=prefix) for _ in range(5)]
    keys = [f"key-{i}" for i in range(1000)]
    results = await asyncio.gather(*(w.claim("acme", keys) for w in workers))
    winners = [sum(r[i] is Claim.NEW for r in results) for i in range(len(keys))]
    assert winners == [1] * len(keys)
    await client.aclose()


async def test_local_fast_path_is_bounded() -> None:
    local = LocalFastPath(capacity=2)
    await local.complete("acme", ["a", "b", "c"])
    assert await local.claim("acme", ["a", "b", "c", "d"]) == [
        Claim.NEW,
        Claim.DONE,
        Claim.DONE,
        Claim.NEW,
    ]
