"""The same transport on NATS JetStream: a durable pull consumer, per-message ack, nak and term.

JetStream does natively what Redis Streams needs a claimer for: an unacknowledged message comes back
after ``ack_wait``, and ``nak(delay)`` schedules a retry with backoff. The hub still caps deliveries
itself (``num_delivered`` from the message metadata) so that the last failure lands in the
dead-letter store with its reason instead of being dropped by ``max_deliver``. Publishing sets
``Nats-Msg-Id`` to the message id, so JetStream drops a republished duplicate inside its duplicate
window (the ledger still deduplicates anything older).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.js.api import ConsumerConfig

from router.errors import MalformedMessageError
from router.pipeline import RawResult
from router.ports import DeadLetter, DeadLetterStore, RawMessage, describe
from router.retry import RetryPolicy, backoff_delay
from router.transport.codec import decode_raw, encode_raw
from router.transport.redis_streams import partition_of

__all__ = [
    "NatsConfig",
    "attach_nats_consumer",
    "ensure_stream",
    "pending_count",
    "publish_nats",
]


@dataclass(frozen=True)
class NatsConfig:
    stream: str = "HUB_RAW"
    subject_prefix: str = "hub.raw"
    partitions: int = 4
    durable: str = "hub-router"
    batch_size: int = 100
    fetch_timeout: float = 0.2
    ack_wait_seconds: float = 30.0
    max_deliveries: int = 5
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_delay=0.5, max_delay=30.0))

    def subject(self, partition: int) -> str:
        return f"{self.subject_prefix}.{partition}"

    @property
    def jstream(self) -> JStream:
        return JStream(self.stream, subjects=[f"{self.subject_prefix}.>"])


async def ensure_stream(connection: Any, config: NatsConfig) -> None:
    """Declare the stream (idempotently) so the ingress can publish before any worker started."""
    from nats.js.errors import BadRequestError

    jetstream = connection.jetstream()
    try:
        await jetstream.add_stream(name=config.stream, subjects=[f"{config.subject_prefix}.>"])
    except BadRequestError as exc:
        if "already in use" not in str(exc):
            raise


async def pending_count(connection: Any, config: NatsConfig) -> int:
    """Messages of the stream the consumer group has not acknowledged yet (the backlog)."""
    jetstream = connection.jetstream()
    try:
        info = await jetstream.consumer_info(config.stream, config.durable)
    except Exception:  # noqa: BLE001 - no consumer yet: everything in the stream is backlog
        stream = await jetstream.stream_info(config.stream)
        return int(stream.state.messages)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def publish_nats(
    broker: NatsBroker,
    config: NatsConfig,
    raws: Sequence[RawMessage],
    keys: Sequence[str] | None = None,
) -> None:
    """Publish to JetStream and wait for the server's acknowledgement of each message."""
    keys = keys or [f"{raw.tenant}:{raw.instance}" for raw in raws]
    for raw, key in zip(raws, keys, strict=True):
        await broker.publish(
            encode_raw(raw),
            subject=config.subject(partition_of(key, config.partitions)),
            stream=config.stream,
            headers={"Nats-Msg-Id": raw.id},
        )


Handler = Callable[[list[RawMessage]], Awaitable[list[RawResult]]]


def attach_nats_consumer(
    broker: NatsBroker, config: NatsConfig, *, handler: Handler, dead_letters: DeadLetterStore
) -> None:
    """Register the durable pull consumer of every partition subject on ``broker``."""

    async def consume(
        body: list[Any], msg: Annotated[NatsBatchMessage, Context("message")]
    ) -> None:
        await _handle(msg, handler=handler, dead_letters=dead_letters, config=config)

    broker.subscriber(
        f"{config.subject_prefix}.*",
        stream=config.jstream,
        durable=config.durable,
        pull_sub=PullSub(batch_size=config.batch_size, timeout=config.fetch_timeout, batch=True),
        config=ConsumerConfig(
            ack_wait=config.ack_wait_seconds, max_deliver=config.max_deliveries + 1
        ),
        ack_policy=AckPolicy.MANUAL,
    )(consume)


async def _handle(
    msg: NatsBatchMessage, *, handler: Handler, dead_letters: DeadLetterStore, config: NatsConfig
) -> None:
    now = datetime.now(UTC)
    letters: list[tuple[Any, DeadLetter]] = []
    batch: list[RawMessage] = []
    native: dict[str, Any] = {}
    for item in msg.raw_message:
        delivered = int(item.metadata.num_delivered)
        try:
            raw = decode_raw(item.data, attempt=delivered)
        except MalformedMessageError as exc:
            placeholder = RawMessage(
                id=f"nats:{item.metadata.sequence.stream}",
                tenant="",
                instance="",
                event="",
                body=b"",
                received_at=now,
            )
            letters.append(
                (item, DeadLetter(placeholder, "transport", describe(exc), failed_at=now))
            )
            continue
        if delivered > config.max_deliveries:
            reason = f"delivered {delivered} times without a terminal outcome (cap {config.max_deliveries})"
            letters.append((item, DeadLetter(raw, "transport", reason, failed_at=now)))
            continue
        native[raw.id] = item
        batch.append(raw)

    if letters:
        await asyncio.to_thread(dead_letters.put, [letter for _, letter in letters])
        for item, _ in letters:
            await item.term()
    if not batch:
        return
    for result in await handler(batch):
        item = native[result.raw_id]
        if result.terminal:
            await item.ack()
        else:
            attempt = int(item.metadata.num_delivered)
            await item.nak(delay=backoff_delay(config.retry, attempt))
