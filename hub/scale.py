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
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from faststream.nats import NatsBroker
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from hub.config.model import Deployment
from hub.errors import ConfigurationError
from hub.ingress import IngressLimits, create_ingress_app
from hub.outbound import run_outbound
from hub.runtime import ConnectorReceiver, HubRuntime, connector_instances, open_runtime
from hub.serve import metrics_route
from router.idempotency import RedisFastPath
from router.ports import RawMessage
from router.transport.nats_jetstream import (
    NatsConfig,
    attach_nats_consumer,
    ensure_stream,
    pending_count,
    publish_nats,
)
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
    if deployment.broker.kind not in ("redis", "nats") or not deployment.broker.url:
        raise ConfigurationError(
            "hub ingress and hub worker need broker: {kind: redis, url: redis://...} or "
            "{kind: nats, url: nats://...} in the deployment file (the embedded default runs as "
            "`hub run`)"
        )
    return deployment.broker.url


def nats_config(deployment: Deployment) -> NatsConfig:
    broker = deployment.broker
    name = "".join(c if c.isalnum() else "_" for c in broker.prefix).upper()
    subject = "".join(c if c.isalnum() or c == "-" else "." for c in broker.prefix)
    return NatsConfig(
        stream=f"{name}_RAW",
        subject_prefix=f"{subject}.raw",
        partitions=broker.partitions,
        durable=f"{name.lower()}-router",
        batch_size=broker.batch_size,
        ack_wait_seconds=broker.claim_idle_ms / 1000,
        max_deliveries=broker.max_deliveries,
    )


class NatsSink:
    """The ingress's durable store on NATS JetStream: publish and wait for the server's ack."""

    def __init__(self, broker: NatsBroker, config: NatsConfig) -> None:
        self._broker = broker
        self._config = config

    async def put(self, raws: list[RawMessage]) -> None:
        await publish_nats(self._broker, self._config, raws)

    async def backlog(self) -> int:
        return await pending_count(self._broker._connection, self._config)

    @property
    def stream_name(self) -> str:
        return str(self._config.stream)


#: How long the ingress trusts its last reading of the backlog (seconds).
BACKLOG_TTL = 0.5


class RedisSink:
    """The ingress's durable store at scale: XADD to the partition, with retries."""

    def __init__(self, client: Redis, config: RedisStreamsConfig) -> None:
        self._client = client
        self._config = config
        self._publisher = RedisStreamsPublisher(client, config)
        self._backlog, self._backlog_at = 0, float("-inf")

    async def put(self, raws: list[RawMessage]) -> None:
        await self._publisher.publish(raws)

    async def backlog(self) -> int:
        """The workers' backlog for load shedding, read at most every ``BACKLOG_TTL`` seconds:
        one ``XINFO GROUPS`` per partition on every request took most of the ingress's time."""
        now = time.monotonic()
        if now - self._backlog_at > BACKLOG_TTL:
            self._backlog_at = now
            found = await self.lag_by_stream()
            self._backlog = sum(lag + pending for lag, pending in found.values())
        return self._backlog

    async def lag_by_stream(self) -> dict[str, tuple[int, int]]:
        """Per partition stream: entries the workers' group has not read yet (lag) and entries
        read but not acknowledged (pending), from ``XINFO GROUPS``."""
        found: dict[str, tuple[int, int]] = {}
        for stream in self._config.streams:
            with contextlib.suppress(Exception):
                for group in await self._client.xinfo_groups(stream):
                    if group.get("name") in (self._config.group, self._config.group.encode()):
                        found[stream] = (int(group.get("lag") or 0), int(group.get("pending") or 0))
        return found


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
    closers: list[Callable[[], Any]] = []
    sink: Any
    if deployment.broker.kind == "nats":
        nats_broker = NatsBroker(url, logger=None)
        await nats_broker.connect()
        await ensure_stream(nats_broker._connection, nats_config(deployment))
        sink = NatsSink(nats_broker, nats_config(deployment))
        closers.append(nats_broker.stop)
    else:
        config = streams_config(deployment)
        client = Redis.from_url(url, max_connections=64)
        await ensure_groups(client, config)
        sink = RedisSink(client, config)
        closers.append(client.aclose)

    def receiver(tenant: str, instance: str) -> ConnectorReceiver | None:
        connector = instances.get((tenant, instance))
        if connector is None or type(connector).webhook_verifier is None:
            return None
        return ConnectorReceiver(connector)

    limits = IngressLimits(
        max_body_bytes=deployment.ingress.max_body_bytes,
        max_json_depth=deployment.ingress.max_json_depth,
    )
    app = create_ingress_app(receiver, sink, limits=limits, extra_routes=[metrics_route()])
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        if on_started is not None:
            on_started()

    async def measure_lag() -> None:
        while True:
            await record_consumer_lag(sink)
            await asyncio.sleep(LAG_INTERVAL_SECONDS)

    watcher = asyncio.create_task(announce())
    lag = asyncio.create_task(measure_lag())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        lag.cancel()
        for close in closers:
            await close()


#: How often the ingress reads the workers' consumer lag for ``/metrics``.
LAG_INTERVAL_SECONDS = 5.0


async def record_consumer_lag(sink: Any) -> None:
    """Set ``hub_stream_lag`` / ``hub_stream_pending`` from the broker (what the workers have
    not read, and what they read but did not acknowledge), per stream."""
    from hub.metrics import STREAM_LAG, STREAM_PENDING

    try:
        if isinstance(sink, RedisSink):
            for stream, (lag, pending) in (await sink.lag_by_stream()).items():
                STREAM_LAG.labels(stream).set(lag)
                STREAM_PENDING.labels(stream).set(pending)
        else:
            STREAM_LAG.labels(sink.stream_name).set(await sink.backlog())
    except Exception:  # noqa: BLE001 - a metric must never take the ingress down
        return


def worker_runtime(deployment: Deployment, **options: Any) -> tuple[HubRuntime, Any]:
    """A runtime for a worker: on Redis, the shared Redis fast path instead of the in-memory one.

    On NATS there is no shared fast path; the ledger's unique key is the guarantee either way.
    """
    if deployment.broker.kind == "nats":
        return open_runtime(deployment, **options), None
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
    if deployment.broker.kind == "nats":
        await _run_nats_worker(runtime, url, stop=stop, on_started=on_started)
        return
    config = streams_config(deployment)
    client = Redis.from_url(url, max_connections=16)
    await ensure_groups(client, config)
    broker = RedisBroker(url, logger=None)  # type: ignore[arg-type]  # None: no logging
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
        await _serve_until(runtime, stop, inbound=RedisSink(client, config).put)
    finally:
        await broker.stop()
        await client.aclose()


async def _run_nats_worker(
    runtime: HubRuntime,
    url: str,
    *,
    stop: asyncio.Event | None,
    on_started: Callable[[], Any] | None,
) -> None:
    """The same router on a NATS JetStream durable pull consumer."""
    config = nats_config(runtime.deployment)
    broker = NatsBroker(url, logger=None)
    attach_nats_consumer(
        broker, config, handler=runtime.router.process, dead_letters=runtime.operations
    )
    await broker.start()
    if on_started is not None:
        on_started()
    try:
        await _serve_until(runtime, stop, inbound=NatsSink(broker, config).put)
    finally:
        await broker.stop()


async def _serve_until(
    runtime: HubRuntime,
    stop: asyncio.Event | None,
    *,
    inbound: Callable[[list[RawMessage]], Awaitable[None]] | None = None,
) -> None:
    """Wait for ``stop`` while taking part in the election of the outbox relay (whose leader
    also runs the scheduled polls, publishing what they read through ``inbound``)."""
    stop = stop or asyncio.Event()
    await run_outbound(runtime, stop=stop, inbound=inbound)
    await stop.wait()
