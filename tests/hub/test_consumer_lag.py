"""Consumer lag per stream on the ingress's /metrics at scale, read from the real Redis server.

Pass criteria: after N webhooks are stored and none is read, ``hub_stream_lag`` sums to N over the
partitions and ``hub_stream_pending`` is 0; after a worker reads some without acknowledging them,
they move from lag to pending; figures come out of the Prometheus text the hub serves.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from hub.scale import RedisSink, record_consumer_lag
from router.ports import RawMessage
from router.transport.redis_streams import RedisStreamsConfig, ensure_groups


def _gauges(config: RedisStreamsConfig) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {"hub_stream_lag": {}, "hub_stream_pending": {}}
    for family in text_string_to_metric_families(generate_latest().decode()):
        for sample in family.samples:
            stream = sample.labels.get("stream", "")
            if sample.name in found and stream.startswith(config.prefix):
                found[sample.name][stream] = sample.value
    return found


async def test_lag_and_pending_per_stream(redis_url: str) -> None:
    config = RedisStreamsConfig(prefix=f"hub-test:{uuid.uuid4().hex[:8]}:raw", partitions=3)
    client = Redis.from_url(redis_url)
    try:
        await ensure_groups(client, config)
        sink = RedisSink(client, config)
        now = datetime.now(UTC)
        raws = [
            RawMessage(
                id=f"m{n}", tenant="acme", instance="shop", event="orders/create",
                body=b"{}", received_at=now,
            )
            for n in range(30)
        ]  # fmt: skip
        await sink.put(raws)
        await record_consumer_lag(sink)
        gauges = _gauges(config)
        assert sum(gauges["hub_stream_lag"].values()) == 30
        assert set(gauges["hub_stream_lag"]) == set(config.streams)
        assert sum(gauges["hub_stream_pending"].values()) == 0

        first = config.streams[0]
        lag_before = gauges["hub_stream_lag"][first]
        read = await client.xreadgroup(config.group, "w1", {first: ">"}, count=2)
        taken = len(read[0][1]) if read else 0
        assert taken == min(2, lag_before)
        await record_consumer_lag(sink)
        gauges = _gauges(config)
        assert gauges["hub_stream_lag"][first] == lag_before - taken
        assert gauges["hub_stream_pending"][first] == taken
    finally:
        for stream in config.streams:
            await client.delete(stream)
        await client.aclose()
