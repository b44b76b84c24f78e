"""Running the hub at scale: ``hub ingress`` and ``hub worker`` over Redis Streams and PostgreSQL.

The ingress only verifies, stores and answers: it publishes raw messages to the partitioned
streams and needs no ledger. Each worker is a FastStream application consuming every partition in
one consumer group (a reader and a claimer per stream), running the same router as the embedded
hub, against the shared PostgreSQL ledger; start as many as the cores allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from hub.config.model import Deployment
from hub.errors import ConfigurationError
from hub.ingress import IngressLimits, create_ingress_app
from hub.runtime import ConnectorReceiver, HubRuntime, connector_instances, open_runtime
from hub.serve import metrics_route
from router.idempotency import RedisFastPath
from router.ports import RawMessage
from router.transport.redis_streams import (
    RedisStreamsConfig,
    RedisStreamsPublisher,
    attach_consumers,
    ensure_groups,
)

__all__ = ["RedisSink", "run_worker", "serve_ingress", "streams_config", "worker_runtime"]


def streams_config(deployment: Deployment) -> RedisStreamsConfig:
    broker = deployment.broker
    return RedisStreamsConfig(
        prefix=f"{broker.prefix}:raw",
        partitions=broker.partitions,
        batch_size=broker.batch_size,
        claim_idle_ms=broker.claim_idle_ms,
        max_deliveries=broker.max_deliveries,
    )


def _broker_url(deployment: Deployment) -> str:
    if deployment.broker.kind != "redis" or not deployment.broker.url:
        raise ConfigurationError(
            "hub ingress and hub worker need broker: {kind: redis, url: redis://...} in the "
            "deployment file (the embedded default runs as `hub run`)"
        )
    return deployment.broker.url


class RedisSink:
    """The ingress's durable store at scale: XADD to the partition, with retries."""

    def __init__(self, client: Redis, config: RedisStreamsConfig) -> None:
        self._client = client
        self._config = config
        self._publisher = RedisStreamsPublisher(client, config)

    async def put(self, raws: list[RawMessage]) -> None:  # type: ignore[override]
        await self._publisher.publish(raws)

    async def backlog(self) -> int:
        total = 0
        for stream in self._config.streams:
            with contextlib.suppress(Exception):
                for group in await self._client.xinfo_groups(stream):
                    if group.get("name") in (self._config.group, self._config.group.encode()):
                        total += int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return total


async def serve_ingress(
    deployment: Deployment,
    *,
    host: str,
    port: int,
    environ: Any = None,
    on_started: Callable[[], Any] | None = None,
) -> None:
    """Verify, publish, answer; nothing else."""
    from connectors.registry import discover

    url = _broker_url(deployment)
    instances = connector_instances(deployment, discover(), environ=environ)
    config = streams_config(deployment)
    client = Redis.from_url(url, max_connections=64)
    await ensure_groups(client, config)

    def receiver(tenant: str, instance: str) -> ConnectorReceiver | None:
        connector = instances.get((tenant, instance))
        if connector is None or type(connector).webhook_verifier is None:
            return None
        return ConnectorReceiver(connector)

    limits = IngressLimits(
        max_body_bytes=deployment.ingress.max_body_bytes,
        max_json_depth=deployment.ingress.max_json_depth,
    )
    app = create_ingress_app(
        receiver, RedisSink(client, config), limits=limits, extra_routes=[metrics_route()]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        if on_started is not None:
            on_started()

    watcher = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        await client.aclose()


def worker_runtime(deployment: Deployment, **options: Any) -> tuple[HubRuntime, Redis]:
    """A runtime for a worker: the shared Redis fast path instead of the in-memory one."""
    client = Redis.from_url(_broker_url(deployment), max_connections=64)
    # A dead worker's in-flight marks must expire before the claimer hands its entries to another
    # worker, or every redelivery would find them "busy" until the delivery cap dead-letters them.
    claim_ttl = max(1, deployment.broker.claim_idle_ms // 2000)
    fast_path = RedisFastPath(
        client, prefix=f"{deployment.broker.prefix}:idem", claim_ttl=claim_ttl
    )
    runtime = open_runtime(deployment, fast_path=fast_path, **options)
    return runtime, client


async def run_worker(
    runtime: HubRuntime,
    *,
    consumer: str | None = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[], Any] | None = None,
) -> None:
    """Consume every partition until ``stop`` is set, with the runtime's router."""
    deployment = runtime.deployment
    url = _broker_url(deployment)
    config = streams_config(deployment)
    client = Redis.from_url(url, max_connections=16)
    await ensure_groups(client, config)
    broker = RedisBroker(url, logger=None)
    name = consumer or f"{socket.gethostname()}-{os.getpid()}"
    attach_consumers(
        broker,
        config,
        consumer=name,
        handler=runtime.router.process,
        dead_letters=runtime.operations,
    )
    await broker.start()
    if on_started is not None:
        on_started()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await broker.stop()
        await client.aclose()
