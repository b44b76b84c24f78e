"""The floor: the least work any router must do per message, measured on this machine.

Read a batch from a Redis stream, parse and validate each message with pydantic, claim every
idempotency key with one pipelined ``SET NX``, insert one row per message into PostgreSQL in one
transaction, acknowledge the batch. No rules, no positions, no audit: whatever the hub reaches next
to this figure is the honest measure of its own overhead.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import redis

from bench.cpu import CpuMeter
from canonical import Envelope

__all__ = ["run_floor"]

FIELD = b"m"


def preload(client: redis.Redis, stream: str, messages: list[bytes], group: str) -> None:
    with client.pipeline(transaction=False) as pipe:
        for index, message in enumerate(messages):
            pipe.xadd(stream, {FIELD: message})
            if index % 1000 == 999:
                pipe.execute()
        pipe.execute()
    client.xgroup_create(stream, group, id="0")


def run_floor(
    messages: list[bytes],
    *,
    redis_url: str,
    postgres_url: str,
    batch: int = 200,
    meter: CpuMeter | None = None,
) -> float:
    """Messages per second of the floor over ``messages`` (encoded envelopes)."""
    tag = uuid.uuid4().hex[:8]
    stream, group = f"bench:floor:{tag}", "floor"
    client = redis.Redis.from_url(redis_url)
    preload(client, stream, messages, group)
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute(
            "CREATE TABLE IF NOT EXISTS floor_effects (tenant text, idempotency_key text, "
            "message_id uuid, event_type text, PRIMARY KEY (tenant, idempotency_key))"
        )
        setup.execute("TRUNCATE floor_effects")
    processed = 0
    meter = meter or CpuMeter()
    with psycopg.connect(postgres_url) as conn:
        meter.start()
        started = time.perf_counter()
        while processed < len(messages):
            response = client.xreadgroup(group, "c1", {stream: ">"}, count=batch, block=1000)
            if not response:
                continue
            [(_, entries)] = response
            envelopes = [Envelope.model_validate_json(fields[FIELD]) for _, fields in entries]
            with client.pipeline(transaction=False) as pipe:
                for envelope in envelopes:
                    pipe.set(f"floor:{tag}:{envelope.idempotency_key}", 1, nx=True, ex=3600)
                claimed = pipe.execute()
            rows = [
                (e.tenant, e.idempotency_key, e.message_id, e.event_type)
                for e, won in zip(envelopes, claimed, strict=True)
                if won
            ]
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO floor_effects VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", rows
                )
            client.xack(stream, group, *[entry_id for entry_id, _ in entries])
            processed += len(entries)
        elapsed = time.perf_counter() - started
        meter.stop()
    client.delete(stream)
    for key in client.scan_iter(f"floor:{tag}:*", count=1000):
        client.delete(key)
    client.close()
    return processed / elapsed
