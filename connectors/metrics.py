"""Prometheus metrics of the connectors' outbound calls, counted where every call passes.

Operators ask "is a vendor slow, failing or throttling us?" before anything else when pushes lag;
these answer it per connector without reading logs. Labels are the connector and the operation
name the connector gave (never a URL, an id or a body), so their number stays small.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["OUTBOUND_CALLS", "OUTBOUND_SECONDS", "RATE_LIMITED", "outcome_of"]

OUTBOUND_CALLS = Counter(
    "hub_outbound_calls_total",
    "Outbound vendor calls by connector, operation and outcome (2xx, 4xx, 5xx, timeout, error).",
    ["connector", "operation", "outcome"],
)
RATE_LIMITED = Counter(
    "hub_vendor_rate_limited_total",
    "Vendor answers of HTTP 429 (rate limited), by connector.",
    ["connector"],
)
OUTBOUND_SECONDS = Histogram(
    "hub_outbound_call_seconds",
    "Duration of outbound vendor calls, by connector.",
    ["connector"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def outcome_of(status_code: int) -> str:
    return f"{status_code // 100}xx"
