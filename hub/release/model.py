"""What the planner reads and what it decides, as plain frozen data.

Candidates come from the ledger (:mod:`hub.release.candidates`) or from a test; the plan goes to
the CLI (tables or ``--json``) and to :mod:`hub.release.run`, which turns its released decisions
into fulfilment requests. Keeping both sides plain data keeps :func:`hub.release.planner.plan_wave`
pure: the same candidates, policy, time and day usage always give the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from canonical.party import Address

__all__ = [
    "Candidate",
    "CandidateLine",
    "DayUsage",
    "Decision",
    "LocationWave",
    "Reason",
    "WavePlan",
]


class Reason(StrEnum):
    """Why an order is in the next wave, or why it is not."""

    #: In: it must ship today to keep its service commitment (the spike guard put it first).
    DUE = "due"
    #: In: it ranked high enough for a place in the wave.
    PRIORITY = "priority"
    #: Out: the order is on hold in the ledger (review, mixed order, payment...).
    ON_HOLD = "on_hold"
    #: Out: some lines still wait for stock and the policy releases complete orders only.
    NOT_FULLY_ALLOCATED = "not_fully_allocated"
    #: Out: released now it could not make today's carrier cut-off; the next day's first wave.
    MISSED_CUTOFF = "missed_cutoff"
    #: Out: the node's capacity for today (orders or units) is used up; the next day.
    DAY_CAPACITY = "day_capacity"
    #: Out: too many units for what is left of this wave; the next wave.
    WAVE_CAPACITY = "wave_capacity"
    #: Out: the wave's order slots went to higher-ranked orders; the next wave.
    LOWER_PRIORITY = "lower_priority"
    #: Out: the order is split over nodes and another node holds its part back.
    SPLIT_HELD = "split_held"
    #: Out: a lot-controlled line has no unexpired lot with enough free units at the node.
    LOT_UNAVAILABLE = "lot_unavailable"


@dataclass(frozen=True, slots=True)
class CandidateLine:
    """An order line's quantity reserved at the candidate's location (what the node would ship)."""

    line_id: str
    sku: str
    quantity: int
    #: For a lot-controlled SKU: the lots to pick, first expiry first, as (lot, units, expiry).
    lots: tuple[tuple[str, int, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One order's part at one location, waiting for release."""

    order_key: str
    channel: str
    external_id: str
    location: str
    lines: tuple[CandidateLine, ...]
    placed_at: datetime
    service_level: str | None = None
    promised_by: datetime | None = None
    on_hold: bool = False
    fully_allocated: bool = True
    ship_to: Address | None = None
    #: Why a lot-controlled line cannot be picked from unexpired lots (None: it can, or no lots).
    lot_problem: str | None = None

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class DayUsage:
    """What a location already released on its current local day (counts against daily limits)."""

    orders: int = 0
    units: int = 0
    waves: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """One candidate's fate in the next wave, with the reason a person reads."""

    order_key: str
    location: str
    released: bool
    reason: Reason
    detail: str
    service_level: str
    units: int
    rank: int | None = None
    ship_by: date | None = None
    at_risk: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "order": self.order_key,
            "location": self.location,
            "released": self.released,
            "reason": self.reason.value,
            "detail": self.detail,
            "service_level": self.service_level,
            "units": self.units,
            "rank": self.rank,
            "ship_by": self.ship_by.isoformat() if self.ship_by else None,
            "at_risk": self.at_risk,
        }


@dataclass(frozen=True, slots=True)
class LocationWave:
    """The next wave at one location: its id, what goes in, what stays out and what is left."""

    location: str
    wave_id: str
    local_date: date
    released: tuple[Decision, ...]
    held: tuple[Decision, ...]
    usage_before: DayUsage
    orders_per_wave: int
    units_per_wave: int | None
    orders_per_day: int | None
    units_per_day: int | None

    @property
    def units(self) -> int:
        return sum(d.units for d in self.released)

    def as_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "wave": self.wave_id,
            "local_date": self.local_date.isoformat(),
            "released": [d.as_json() for d in self.released],
            "held": [d.as_json() for d in self.held],
            "orders": len(self.released),
            "units": self.units,
            "capacity": {
                "orders_per_wave": self.orders_per_wave,
                "units_per_wave": self.units_per_wave,
                "orders_per_day": self.orders_per_day,
                "units_per_day": self.units_per_day,
                "released_today_before": {
                    "orders": self.usage_before.orders,
                    "units": self.usage_before.units,
                    "waves": self.usage_before.waves,
                },
            },
        }


@dataclass(frozen=True, slots=True)
class WavePlan:
    """The next wave of every location that has candidates."""

    as_of: datetime
    waves: dict[str, LocationWave] = field(default_factory=dict)

    def decision(self, order_key: str, location: str | None = None) -> Decision:
        """The decision about ``order_key`` (at ``location``, when it is split over several)."""
        for wave in self.waves.values():
            if location is not None and wave.location != location:
                continue
            for decision in (*wave.released, *wave.held):
                if decision.order_key == order_key:
                    return decision
        raise KeyError(f"{order_key} is not in the plan")

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "waves": [self.waves[name].as_json() for name in sorted(self.waves)],
        }


def only_location(plan: WavePlan, location: str) -> WavePlan:
    """The plan as far as ``location`` is concerned: its wave, and the other parts of the split
    orders released in it (the ledger releases an order whole, so those parts go with it)."""
    wave = plan.waves.get(location)
    if wave is None:
        return WavePlan(as_of=plan.as_of)
    keys = {d.order_key for d in wave.released}
    waves = {location: wave}
    for name, other in plan.waves.items():
        parts = tuple(d for d in other.released if d.order_key in keys)
        if name != location and parts:
            waves[name] = replace(other, released=parts, held=())
    return WavePlan(as_of=plan.as_of, waves=waves)
