"""Gauges computed at scrape time: queue depths and ages, dead letters, inbox backlog.

Counters and histograms are kept by the router as messages pass (:mod:`router.metrics`); these
figures are states, read from the stores when Prometheus scrapes ``/metrics``, so they are always
current and cost nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.operations import OperationsStore

__all__ = ["STREAM_LAG", "STREAM_PENDING", "HubCollector"]

#: Set by the ingress at scale every few seconds (``hub.scale.record_consumer_lag``).
STREAM_LAG = Gauge(
    "hub_stream_lag",
    "Entries in a stream the workers have not read yet (NATS: pending for the durable consumer).",
    ["stream"],
)
STREAM_PENDING = Gauge(
    "hub_stream_pending",
    "Entries the workers read but did not acknowledge yet (Redis Streams).",
    ["stream"],
)


class HubCollector(Collector):
    """Review and exception queues (depth, oldest age, SLA breaches), dead letters, backlog."""

    def __init__(
        self, operations: OperationsStore, backlog: Callable[[], int] | None = None
    ) -> None:
        self._operations = operations
        self._backlog = backlog

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily(
            "hub_held_messages",
            "Messages waiting for a person, by queue.",
            labels=["tenant", "queue"],
        )
        age = GaugeMetricFamily(
            "hub_held_oldest_age_seconds",
            "Age of the oldest message waiting in a queue.",
            labels=["tenant", "queue"],
        )
        breaches = GaugeMetricFamily(
            "hub_held_sla_breaches", "Held messages past their SLA.", labels=["tenant", "queue"]
        )
        for queue in self._operations.queue_depths():
            depth.add_metric([queue.tenant, queue.queue], queue.open)
            age.add_metric([queue.tenant, queue.queue], queue.oldest_age_s)
            breaches.add_metric([queue.tenant, queue.queue], queue.breaching_sla)
        yield depth
        yield age
        yield breaches
        letters = GaugeMetricFamily(
            "hub_dead_letters_open", "Open dead letters.", labels=["tenant"]
        )
        for tenant, count in self._operations.open_dead_letters_by_tenant().items():
            letters.add_metric([tenant], count)
        yield letters
        if self._backlog is not None:
            yield GaugeMetricFamily(
                "hub_inbox_backlog", "Accepted messages not yet processed.", value=self._backlog()
            )
