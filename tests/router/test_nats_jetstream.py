"""The NATS JetStream transport on the real NATS server (127.0.0.1:4222)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker

from router.pipeline import Disposition, RawResult
from router.ports import RawMessage
from router.retry import RetryPolicy
from router.transport.nats_jetstream import NatsConfig, attach_nats_consumer, publish_nats
from tests.conftest import server_missing
from tests.router.test_pipeline import MemoryLedger, Stores, _raw, _router

NATS_URL = os.environ.get("HUB_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
async def nats_config() -> AsyncIterator[NatsConfig]:
    import nats

    try:
        connection = await nats.connect(NATS_URL, connect_timeout=3, max_reconnect_attempts=0)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means no server
        server_missing("NATS", exc)
    tag = uuid.uuid4().hex[:8]
    config = NatsConfig(
        stream=f"HUBTEST_{tag}",
        subject_prefix=f"hubtest.{tag}",
        partitions=2,
        durable=f"router-{tag}",
        batch_size=20,
        fetch_timeout=0.1,
        ack_wait_seconds=10,
        max_deliveries=3,
        retry=RetryPolicy(base_delay=0.05, max_delay=0.1),
    )
    yield config
    jetstream = connection.jetstream()
    try:
        await jetstream.delete_stream(config.stream)
    finally:
        await connection.close()


async def _wait_for(condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_messages_flow_once_and_publish_dedupes_by_message_id(
    nats_config: NatsConfig,
) -> None:
    ledger, stores = MemoryLedger(), Stores()
    router = _router(ledger, stores)
    broker = NatsBroker(NATS_URL, logger=None)
    attach_nats_consumer(broker, nats_config, handler=router.process, dead_letters=stores)
    await broker.start()
    try:
        raws = [_raw(f"n{i}", str(i)) for i in range(100)]
        await publish_nats(broker, nats_config, raws)
        await publish_nats(broker, nats_config, raws[:10])  # republished: dropped by Nats-Msg-Id
        await _wait_for(lambda: len(ledger.applied) == 100)
        await asyncio.sleep(0.3)
        processed = [r for r in stores.records if r.stage == "translate"]
        assert len(processed) == 100
    finally:
        await broker.stop()


async def test_retries_back_off_and_the_cap_dead_letters(nats_config: NatsConfig) -> None:
    stores = Stores()
    attempts: list[int] = []

    async def always_retry(batch: list[RawMessage]) -> list[RawResult]:
        attempts.extend(raw.attempt for raw in batch)
        return [RawResult(raw.id, [Disposition.RETRY], ["down"]) for raw in batch]

    broker = NatsBroker(NATS_URL, logger=None)
    attach_nats_consumer(broker, nats_config, handler=always_retry, dead_letters=stores)
    await broker.start()
    try:
        await publish_nats(broker, nats_config, [_raw("stuck", "1")])
        await _wait_for(lambda: bool(stores.letters))
        # Each attempt is numbered by the server's delivery count. Under load a delivery can go
        # to a pull request that expired on the way (the server counts it; the handler never sees
        # it), so the attempts the handler saw are 1, 2, 3 with at most such a gap, never more.
        assert attempts[0] == 1
        assert attempts == sorted(set(attempts))
        assert 2 <= len(attempts) <= 3
        assert attempts[-1] <= 3
        assert "delivered 4 times without a terminal outcome (cap 3)" in stores.letters[0].reason
    finally:
        await broker.stop()
