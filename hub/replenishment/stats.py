"""The replenishment formulas, as pure functions of numbers (no database), so each one can be
checked against a hand computation. ``docs/replenishment.md`` states them in prose.

Demand is a daily series ``x_t`` (units per day, net of released reservations). With ``m`` the
series' mean and ``S_w`` the weekly seasonal index of weekday ``w``:

* ``S_w = mean(x_t on weekday w) / m``, normalised so the seven indices average 1; all 1 when the
  series is shorter than ``season_min_days`` or ``m <= 0`` (no season can be told from it);
* deseasonalised ``y_t = x_t / S_w(t)`` (a day whose index is 0 carries no information: skipped);
* level ``L = m``, then ``L = alpha * y_t + (1 - alpha) * L`` for each day, oldest first;
* daily demand rate ``d = max(0, L)``; ``sigma_d`` = sample standard deviation of ``y_t``.

Then, with lead time mean ``LT`` and standard deviation ``sigma_LT`` in days and ``z`` the
service level's normal quantile: ``SS = z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2)``,
``ROP = d * LT + SS``, order-up-to ``max = ROP + d * review_days``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

__all__ = [
    "DemandRate",
    "days_of_cover",
    "demand_rate",
    "economic_order_quantity",
    "mean_and_deviation",
    "order_quantity",
    "reorder_point",
    "safety_stock",
    "seasonal_indices",
]


@dataclass(frozen=True, slots=True)
class DemandRate:
    """What the demand history says about one SKU at one location."""

    days: int
    mean: float
    seasonal: tuple[float, ...]
    rate: float
    deviation: float


def mean_and_deviation(samples: Sequence[float]) -> tuple[float, float]:
    """Mean and *sample* standard deviation (n - 1); the deviation of one sample is 0, since one
    observation says nothing about spread."""
    if not samples:
        raise ValueError("no samples")
    mean = sum(samples) / len(samples)
    if len(samples) == 1:
        return mean, 0.0
    variance = sum((s - mean) ** 2 for s in samples) / (len(samples) - 1)
    return mean, math.sqrt(variance)


def seasonal_indices(series: Sequence[tuple[date, float]], min_days: int) -> tuple[float, ...]:
    """Seven indices, Monday first: how much a weekday sells relative to the average day."""
    flat = (1.0,) * 7
    if len(series) < min_days:
        return flat
    mean = sum(x for _, x in series) / len(series)
    if mean <= 0:
        return flat
    totals, counts = [0.0] * 7, [0] * 7
    for day, x in series:
        totals[day.weekday()] += x
        counts[day.weekday()] += 1
    if 0 in counts:
        return flat
    raw = [max(0.0, totals[w] / counts[w] / mean) for w in range(7)]
    scale = 7 / sum(raw)
    return tuple(r * scale for r in raw)


def demand_rate(
    series: Sequence[tuple[date, float]], *, alpha: float, season_min_days: int
) -> DemandRate:
    """The seasonally adjusted EWMA of a daily demand series (see the module docstring)."""
    if not series:
        raise ValueError("an empty demand series has no rate")
    seasonal = seasonal_indices(series, season_min_days)
    mean = sum(x for _, x in series) / len(series)
    level = mean
    adjusted: list[float] = []
    for day, x in series:
        index = seasonal[day.weekday()]
        if index <= 0:
            continue
        y = x / index
        adjusted.append(y)
        level = alpha * y + (1 - alpha) * level
    deviation = mean_and_deviation(adjusted)[1] if adjusted else 0.0
    return DemandRate(len(series), mean, seasonal, max(0.0, level), deviation)


def safety_stock(
    z: float, rate: float, deviation: float, lead_time: float, lead_deviation: float
) -> float:
    """Units that cover demand and lead-time variability at the service level:
    ``z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2)``."""
    return z * math.sqrt(lead_time * deviation**2 + rate**2 * lead_deviation**2)


def reorder_point(rate: float, lead_time: float, safety: float) -> float:
    """Demand expected during the lead time plus safety stock."""
    return rate * lead_time + safety


def economic_order_quantity(rate: float, order_cost: float, holding_cost: float) -> float:
    """Wilson's EOQ ``sqrt(2 * D * K / h)`` with annual demand ``D = 365 * d``."""
    return math.sqrt(2 * 365 * rate * order_cost / holding_cost)


def order_quantity(
    position: float, rop: float, rate: float, review_days: float, eoq: float | None = None
) -> int:
    """Units to order: up to ``ROP + d * review_days`` (what lasts until the next review's order
    can arrive), and at least the EOQ when ordering costs are configured. Whole units, rounded up,
    so the order never leaves the position short of the target."""
    target = rop + rate * review_days
    quantity = max(0, math.ceil(target - position - 1e-9))
    if eoq is not None:
        quantity = max(quantity, math.ceil(eoq - 1e-9))
    return quantity


def days_of_cover(free_stock: float, rate: float) -> float | None:
    """Days the free stock (on hand less allocated) lasts at the demand rate; None with no
    demand (it lasts indefinitely, which a number would hide)."""
    if rate <= 0:
        return None
    return max(0.0, free_stock) / rate
