"""Prometheus metrics of the routing core.

Counters and histograms are process-wide (``prometheus_client``'s default registry); the hub serves
them at ``/metrics`` next to the gauges it computes at scrape time (queue depths and ages, consumer
lag). Label values are bounded sets (stages, outcomes, event types, connector instances), never ids.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from router.audit import AuditRecord

__all__ = [
    "MESSAGES",
    "RECEIVED_TO_DELIVERED",
    "RETRIES",
    "STAGE_SECONDS",
    "count_outcomes",
]

MESSAGES = Counter(
    "hub_messages_total",
    "Stage outcomes of messages, by stage and outcome.",
    ["stage", "outcome"],
)
RETRIES = Counter(
    "hub_retries_total",
    "In-process retries of a stage after a transient failure.",
    ["stage"],
)
STAGE_SECONDS = Histogram(
    "hub_stage_duration_seconds",
    "Time a batch spent in a stage, per message of the batch.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECEIVED_TO_DELIVERED = Histogram(
    "hub_received_to_ledger_seconds",
    "Time from the hub receiving a message to the ledger committing its effect.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def count_outcomes(records: Iterable[AuditRecord]) -> None:
    """Every audit record is one stage outcome: count them in one pass per batch."""
    tally = Tally((record.stage, record.outcome) for record in records)
    for (stage, outcome), count in tally.items():
        if outcome == "retrying":
            RETRIES.labels(stage).inc(count)
        MESSAGES.labels(stage, outcome).inc(count)
