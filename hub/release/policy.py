"""The release policy: when, how much and in which order allocated orders go to their nodes.

It is the ``release:`` section of a tenant in the deployment file. Every field has a default, so a
deployment without the section stays valid and ``hub release plan`` still works (UTC, no carrier
cut-offs, waves of ``wave_size`` orders, express before standard). The planner reads only this
model; the rules themselves are documented in docs/release.md and implemented in
:mod:`hub.release.planner`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Capacity",
    "CutOff",
    "LocationRelease",
    "PriorityCriterion",
    "ReleasePolicy",
    "ServiceLevelPolicy",
]

_Closed = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
_Limit = Annotated[int, Field(ge=1, le=10_000_000)]
#: What decides the order of eligible orders, most significant first.
PriorityCriterion = Literal["service_level", "promise", "channel", "age"]
DEFAULT_PRIORITY: tuple[PriorityCriterion, ...] = ("service_level", "promise", "channel", "age")


class CutOff(BaseModel):
    """A carrier's last pick-up for one service level at one location, in the location's time."""

    model_config = _Closed
    time: dt.time = Field(description="Local time of the carrier's pick-up, e.g. 17:00.")
    carrier: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="The carrier collecting at this cut-off (sent to the node)."
    )


class Capacity(BaseModel):
    """What one node can pick and pack: per wave and per local day, in orders and in units.

    A limit left out is no limit. An order larger than a whole wave's (or day's) unit limit is
    released alone as the first order of a wave (or of the day), so it is never stuck for ever.
    """

    model_config = _Closed
    orders_per_wave: _Limit | None = Field(
        default=None, description="Orders in one wave (default: the tenant's wave_size)."
    )
    units_per_wave: _Limit | None = None
    orders_per_day: _Limit | None = None
    units_per_day: _Limit | None = None


class LocationRelease(BaseModel):
    """The release rules of one fulfilment node (own warehouse or 3PL)."""

    model_config = _Closed
    timezone: str = Field(
        default="UTC",
        description="IANA time zone of the node (cut-offs and the day's capacity are local).",
        examples=["America/New_York"],
    )
    cutoffs: dict[str, CutOff] = Field(
        default_factory=dict,
        description="Carrier cut-off per service level; the key * applies to levels not listed. "
        "A level with no cut-off can be released at any time of day.",
    )
    pick_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = Field(
        default=0,
        description="Minutes the node needs between release and the cut-off; an order released "
        "later than cut-off minus this cannot make today's truck and is held for the next day.",
    )
    capacity: Capacity = Field(default_factory=Capacity)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def cutoff_for(self, service_level: str) -> CutOff | None:
        """The cut-off of ``service_level`` here: its own, else the ``*`` one, else none."""
        return self.cutoffs.get(service_level) or self.cutoffs.get("*")


class ServiceLevelPolicy(BaseModel):
    """What a service level commits to, and whether a spike may push it past that commitment."""

    model_config = _Closed
    ship_within_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        default=None,
        description="Days after the order is ready (placed before that day's cut-off, else the "
        "next day) by which it must ship; 0 is same day. None: only promised_by commits it.",
    )
    transit_days: Annotated[int, Field(ge=0, le=365)] = Field(
        default=0,
        description="Carrier days from ship to delivery: the order's promised_by date minus these "
        "is the last day it may ship.",
    )
    protect_commitment: bool = Field(
        default=True,
        description="Spike guard: an order of this level that must ship today to keep its "
        "commitment goes ahead of every order that need not; false lets priority alone decide.",
    )


def _default_levels() -> dict[str, ServiceLevelPolicy]:
    return {
        "express": ServiceLevelPolicy(ship_within_days=0, transit_days=1),
        "standard": ServiceLevelPolicy(ship_within_days=2, transit_days=3),
    }


class ReleasePolicy(BaseModel):
    """A tenant's release policy (the deployment file's ``tenants.<t>.release``)."""

    model_config = _Closed
    service_levels: dict[str, ServiceLevelPolicy] = Field(
        default_factory=_default_levels,
        description="Service levels in priority order (listed first is released first); a level "
        "not listed ranks after every listed one and commits only through promised_by.",
    )
    default_service_level: str = Field(
        default="standard", description="The level of an order that names none."
    )
    channel_weights: dict[str, Annotated[float, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict,
        description="Weight per sales channel (higher is released first); unlisted channels weigh 1.",
    )
    priority: list[PriorityCriterion] = Field(
        default_factory=lambda: list(DEFAULT_PRIORITY),
        description="How eligible orders are ranked, most significant first: service_level (its "
        "rank), promise (earliest promised_by; none last), channel (weight), age (oldest first).",
    )
    wave_size: _Limit = Field(
        default=100, description="Orders per wave where a location sets no orders_per_wave."
    )
    release_partially_allocated: bool = Field(
        default=False,
        description="Release the allocated lines of an order whose other lines wait for stock; "
        "by default such an order waits until it is complete.",
    )
    locations: dict[str, LocationRelease] = Field(
        default_factory=dict,
        description="Rules per fulfilment node; a node not listed gets the defaults (UTC, no "
        "cut-off, wave_size orders per wave, no daily limit).",
    )

    @model_validator(mode="after")
    def _criteria_once(self) -> Self:
        repeated = sorted({c for c in self.priority if self.priority.count(c) > 1})
        if repeated:
            raise ValueError(f"priority names {', '.join(repeated)} more than once")
        return self

    def location(self, name: str) -> LocationRelease:
        return self.locations.get(name) or LocationRelease()

    def level(self, name: str) -> ServiceLevelPolicy:
        """The policy of a service level; an unlisted level has no commitment of its own."""
        return self.service_levels.get(name) or ServiceLevelPolicy()

    def level_rank(self, name: str) -> int:
        levels = list(self.service_levels)
        return levels.index(name) if name in levels else len(levels)

    def channel_weight(self, channel: str) -> float:
        return self.channel_weights.get(channel, 1.0)
