"""The acknowledgement policy is pinned: every subscriber the hub attaches acknowledges manually.

FastStream's built-in default is REJECT_ON_ERROR for Redis and NATS (ACK_FIRST for Kafka, which is
at-most-once), and on Redis a reject leaves the entry pending while a success acks it before the
ledger's outcome is known to be terminal. The hub acknowledges only after a terminal outcome
(applied, duplicate, dead-lettered, held), so a FastStream upgrade or a refactor that changes the
policy must fail here, not in production. The behaviour behind the policy (an entry left pending
by a crashed batch is reclaimed and applied once; retries back off; the cap dead-letters) is tested
in test_redis_streams.py and test_nats_jetstream.py against the real servers.
"""

from __future__ import annotations

from collections.abc import Sequence

from faststream import AckPolicy
from faststream.nats import NatsBroker
from faststream.redis import RedisBroker

from router.pipeline import RawResult
from router.ports import DeadLetter, RawMessage
from router.transport.nats_jetstream import NatsConfig, attach_nats_consumer
from router.transport.redis_streams import RedisStreamsConfig, attach_consumers


async def _handler(batch: list[RawMessage]) -> list[RawResult]:
    return []


class _Letters:
    def put(self, letters: Sequence[DeadLetter]) -> None:
        raise AssertionError("not called: nothing is consumed here")


def test_every_redis_streams_subscriber_acknowledges_manually() -> None:
    broker = RedisBroker("redis://127.0.0.1:6379")
    config = RedisStreamsConfig(partitions=4)
    attach_consumers(broker, config, consumer="c1", handler=_handler, dead_letters=_Letters())
    subscribers = list(broker.subscribers)
    assert len(subscribers) == 2 * config.partitions  # a reader and a claimer per partition
    assert {s.ack_policy for s in subscribers} == {AckPolicy.MANUAL}


def test_the_nats_consumer_acknowledges_manually() -> None:
    broker = NatsBroker("nats://127.0.0.1:4222")
    attach_nats_consumer(broker, NatsConfig(), handler=_handler, dead_letters=_Letters())
    [subscriber] = list(broker.subscribers)
    assert subscriber.ack_policy == AckPolicy.MANUAL
