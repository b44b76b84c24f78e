"""The scaled transport: raw messages on Redis Streams, consumed by FastStream consumer groups.

Measured pitfalls of FastStream 0.7 on Redis Streams shape this module (see the reliability notes):

* ``nack()`` and ``reject()`` do nothing on streams and a subscriber only reads *new* entries, so a
  message that failed or whose worker died stays in the pending list forever unless something
  claims it. Every stream therefore has two subscribers in each worker: a *reader* (``XREADGROUP
  >`` with a bounded ``max_records``, so no consumer hoards the backlog) and a *claimer*
  (``XAUTOCLAIM`` with ``min_idle_time``) that takes over entries idle for longer than any healthy
  batch takes.
* Acknowledgement is explicit (``AckPolicy.MANUAL``): an entry is acknowledged with ``XACK`` only
  after its outcome is durable (ledger commit, dead letter or hold); an entry left for retry stays
  pending and comes back through the claimer after the idle time, which is the backoff.
* A delivery-count cap moves an entry that keeps coming back to the dead-letter store, so a poison
  entry cannot circulate forever.
* Publishing retries a brief Redis outage (tenacity), because FastStream's publish does not.

Streams are partitioned (``<prefix>:<n>``) by a hash of the message's partition key, so load spreads
and messages of one key stay in one stream.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.message import RedisBatchStreamMessage
from redis.asyncio import Redis
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay

from router.errors import MalformedMessageError
from router.pipeline import RawResult
from router.ports import DeadLetter, DeadLetterStore, RawMessage, describe
from router.retry import RetryPolicy, backoff_delay, is_transient
from router.transport.codec import decode_raw, encode_raw

__all__ = [
    "RedisStreamsConfig",
    "RedisStreamsPublisher",
    "attach_consumers",
    "ensure_groups",
    "partition_of",
]

DATA_FIELD = b"__data__"  # FastStream's field for the message body
_PUBLISH_BACKOFF = RetryPolicy(base_delay=0.05, max_delay=2.0)


@dataclass(frozen=True)
class RedisStreamsConfig:
    """Where and how raw messages flow on Redis."""

    prefix: str = "hub:raw"
    partitions: int = 4
    group: str = "hub-router"
    batch_size: int = 100
    polling_interval_ms: int = 50
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    maxlen: int | None = None
    publish_retry_seconds: float = 30.0

    def stream(self, partition: int) -> str:
        return f"{self.prefix}:{partition}"

    @property
    def streams(self) -> list[str]:
        return [self.stream(p) for p in range(self.partitions)]


def partition_of(key: str, partitions: int) -> int:
    """A stable partition for ``key`` (not Python's salted ``hash``)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


async def ensure_groups(client: Redis, config: RedisStreamsConfig) -> None:
    """Create every partition stream and its consumer group, reading from the very start.

    FastStream creates a missing group at ``$`` (only entries added later), which would skip
    whatever the ingress accepted before the first worker started. Creating it at ``0`` first keeps
    those entries; an existing group is left as it is.
    """
    import redis.exceptions

    for stream in config.streams:
        try:
            await client.xgroup_create(stream, config.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


class RedisStreamsPublisher:
    """Appends raw messages to their partitions in one pipeline, retrying brief outages."""

    def __init__(self, client: Redis, config: RedisStreamsConfig) -> None:
        self._client = client
        self._config = config
        #: How many publish attempts failed transiently and were retried (for metrics and tests).
        self.retries = 0

    async def publish(
        self, raws: Sequence[RawMessage], keys: Sequence[str] | None = None
    ) -> list[bytes]:
        """XADD every message; returns the stream entry ids. Raises only after the retry window."""
        if not raws:
            return []
        keys = keys or [f"{raw.tenant}:{raw.instance}" for raw in raws]

        async def attempt() -> list[bytes]:
            async with self._client.pipeline(transaction=False) as pipe:
                for raw, key in zip(raws, keys, strict=True):
                    stream = self._config.stream(partition_of(key, self._config.partitions))
                    pipe.xadd(
                        stream,
                        {DATA_FIELD: encode_raw(raw)},
                        maxlen=self._config.maxlen,
                        approximate=True,
                    )
                return list(await pipe.execute())

        async for retry in AsyncRetrying(
            stop=stop_after_delay(self._config.publish_retry_seconds),
            wait=lambda state: backoff_delay(_PUBLISH_BACKOFF, state.attempt_number),
            retry=retry_if_exception(is_transient),
            reraise=True,
        ):
            with retry:
                if retry.retry_state.attempt_number > 1:
                    self.retries += 1
                return await attempt()
        raise AssertionError("unreachable")  # pragma: no cover


Handler = Callable[[list[RawMessage]], Awaitable[list[RawResult]]]


async def _delivery_counts(
    client: Any, stream: str, group: str, ids: Sequence[bytes]
) -> dict[bytes, int]:
    if not ids:
        return {}
    entries = await client.xpending_range(
        name=stream, groupname=group, min=min(ids), max=max(ids), count=max(len(ids), 1) * 4
    )
    wanted = set(ids)
    return {
        e["message_id"]: int(e["times_delivered"]) for e in entries if e["message_id"] in wanted
    }


async def _handle(
    msg: RedisBatchStreamMessage,
    *,
    handler: Handler,
    dead_letters: DeadLetterStore,
    config: RedisStreamsConfig,
    claimed: bool,
) -> None:
    client = msg.consumer
    stream = msg.raw_message["channel"]
    entry_ids: list[bytes] = list(msg.raw_message["message_ids"])
    datas: list[dict[bytes, bytes]] = list(msg.raw_message["data"])
    counts = await _delivery_counts(client, stream, config.group, entry_ids) if claimed else {}

    ack: list[bytes] = []
    letters: list[DeadLetter] = []
    batch: list[RawMessage] = []
    entry_of: dict[str, bytes] = {}
    now = datetime.now(UTC)
    for entry_id, data in zip(entry_ids, datas, strict=True):
        delivered = counts.get(entry_id, 1)
        try:
            raw = decode_raw(data.get(DATA_FIELD, b""), attempt=delivered)
        except MalformedMessageError as exc:
            placeholder = RawMessage(
                id=entry_id.decode(), tenant="", instance="", event="", body=b"", received_at=now
            )
            letters.append(DeadLetter(placeholder, "transport", describe(exc), failed_at=now))
            ack.append(entry_id)
            continue
        if delivered > config.max_deliveries:
            letters.append(
                DeadLetter(
                    raw,
                    "transport",
                    f"delivered {delivered} times without a terminal outcome "
                    f"(cap {config.max_deliveries})",
                    failed_at=now,
                )
            )
            ack.append(entry_id)
            continue
        entry_of[raw.id] = entry_id
        batch.append(raw)

    if batch:
        for result in await handler(batch):
            if result.terminal:
                ack.append(entry_of[result.raw_id])
    if letters:
        await asyncio.to_thread(dead_letters.put, letters)
    if ack:
        await client.xack(stream, config.group, *ack)


def _consumer(
    *, handler: Handler, dead_letters: DeadLetterStore, config: RedisStreamsConfig, claimed: bool
) -> Callable[..., Awaitable[None]]:
    async def consume(
        body: list[Any], msg: Annotated[RedisBatchStreamMessage, Context("message")]
    ) -> None:
        await _handle(
            msg, handler=handler, dead_letters=dead_letters, config=config, claimed=claimed
        )

    return consume


def attach_consumers(
    broker: RedisBroker,
    config: RedisStreamsConfig,
    *,
    consumer: str,
    handler: Handler,
    dead_letters: DeadLetterStore,
) -> None:
    """Register a reader and a claimer for every partition on ``broker``."""
    for stream in config.streams:
        for claimed in (False, True):
            sub = StreamSub(
                stream,
                group=config.group,
                consumer=f"{consumer}-claimer" if claimed else consumer,
                batch=True,
                max_records=config.batch_size,
                polling_interval=config.polling_interval_ms,
                min_idle_time=config.claim_idle_ms if claimed else None,
            )

            consume = _consumer(
                handler=handler, dead_letters=dead_letters, config=config, claimed=claimed
            )
            broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL)(consume)
