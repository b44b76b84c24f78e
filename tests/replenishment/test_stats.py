"""The formulas on small hand-computed cases (no database)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from hub.replenishment.policy import ReplenishmentPolicy
from hub.replenishment.stats import (
    days_of_cover,
    demand_rate,
    economic_order_quantity,
    mean_and_deviation,
    order_quantity,
    reorder_point,
    safety_stock,
    seasonal_indices,
)

MONDAY = date(2026, 3, 2)


def _series(values: Sequence[float]) -> list[tuple[date, float]]:
    return [(MONDAY + timedelta(days=i), v) for i, v in enumerate(values)]


def test_mean_and_sample_deviation() -> None:
    """2, 4, 6: mean 4, sample variance (4 + 0 + 4) / 2 = 4, deviation 2; one sample: 0."""
    assert mean_and_deviation([2, 4, 6]) == (4.0, 2.0)
    assert mean_and_deviation([5]) == (5.0, 0.0)
    with pytest.raises(ValueError, match="no samples"):
        mean_and_deviation([])


def test_no_season_from_less_than_two_weeks() -> None:
    assert seasonal_indices(_series([1, 2, 3, 4, 5, 6, 7] * 2)[:13], 14) == (1.0,) * 7


def test_seasonal_indices_are_normalised_to_average_one() -> None:
    """15 days Mon..Mon of 7 7 7 7 7 0 0 7 7 7 7 7 0 0 14: m = 84/15 = 5.6; Monday's mean is
    (7 + 7 + 14)/3 = 28/3, others 7 or 0. Raw: Mon 28/3/5.6 = 1.6667, Tue..Fri 1.25, Sat/Sun 0:
    sum 6.6667, so each is scaled by 7/6.6667 = 1.05: Mon 1.75, Tue..Fri 1.3125."""
    values = [7, 7, 7, 7, 7, 0, 0] * 2 + [14]
    indices = seasonal_indices(_series(values), 14)
    assert indices == pytest.approx([1.75, 1.3125, 1.3125, 1.3125, 1.3125, 0, 0])
    assert sum(indices) == pytest.approx(7)


def test_ewma_without_season() -> None:
    """Seven days 2 2 2 2 2 2 9 (too short for a season, so S = 1 and y = x): m = 21/7 = 3.
    L starts at 3 and each 2 halves its distance to 2: L = 2 + 1 * 0.5^6 = 2.015625; then
    L = 0.5 * 9 + 0.5 * 2.015625 = 5.5078125. Deviation: squares 1 * 6 + 36 = 42, / 6 = 7,
    sqrt(7) = 2.645751."""
    rate = demand_rate(_series([2, 2, 2, 2, 2, 2, 9]), alpha=0.5, season_min_days=14)
    assert rate.seasonal == (1.0,) * 7
    assert rate.mean == 3
    assert rate.rate == pytest.approx(5.5078125)
    assert rate.deviation == pytest.approx(math.sqrt(7))


def test_net_returns_never_make_a_negative_rate() -> None:
    """A day of cancellations (-10) after zeros gives a negative level, reported as 0."""
    rate = demand_rate(_series([0, 0, 0, 0, 0, 0, -10]), alpha=0.5, season_min_days=14)
    assert rate.rate == 0


def test_safety_stock_reorder_point_quantity_and_cover() -> None:
    """d = 10/day, sigma_d = 3, LT = 4 +- 1 day, z = 2: SS = 2 * sqrt(4 * 9 + 100 * 1)
    = 2 * sqrt(136) = 23.3238; ROP = 40 + 23.3238 = 63.3238; order up to + 7 days = 133.3238:
    from a position of 50, order ceil(83.3238) = 84. Cover of 25 free units: 2.5 days."""
    ss = safety_stock(2, 10, 3, 4, 1)
    assert ss == pytest.approx(2 * math.sqrt(136))
    rop = reorder_point(10, 4, ss)
    assert rop == pytest.approx(63.3238, abs=1e-4)
    assert order_quantity(50, rop, 10, 7) == 84
    assert order_quantity(50, rop, 10, 7, eoq=120.2) == 121
    assert days_of_cover(25, 10) == 2.5
    assert days_of_cover(-3, 10) == 0
    assert days_of_cover(25, 0) is None


def test_eoq() -> None:
    """sqrt(2 * 365 * 10 * 25 / 5) = sqrt(36500) = 191.05."""
    assert economic_order_quantity(10, 25, 5) == pytest.approx(math.sqrt(36500))


def test_policy_checks() -> None:
    assert ReplenishmentPolicy().z == pytest.approx(1.644854, abs=1e-6)
    with pytest.raises(ValueError, match="order_cost and holding_cost go together"):
        ReplenishmentPolicy(order_cost=10)
