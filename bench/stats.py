"""Percentiles as every benchmark here reports them, so figures are comparable across scripts."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import quantiles

__all__ = ["summary_ms"]


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """``count``, ``p50_ms``, ``p99_ms`` and ``max_ms`` of durations given in seconds.

    Inclusive quantiles (the sample's own range, no extrapolation past its maximum); None for an
    empty sample rather than a made-up zero.
    """
    if not seconds:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ms = sorted(s * 1000 for s in seconds)
    if len(ms) == 1:
        p50 = p99 = ms[0]
    else:
        cuts = quantiles(ms, n=100, method="inclusive")
        p50, p99 = cuts[49], cuts[98]
    return {"count": len(ms), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
            "max_ms": round(ms[-1], 1)}  # fmt: skip
