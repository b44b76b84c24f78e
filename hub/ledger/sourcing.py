"""Sourcing: which location an order line is allocated from, and why (a pure function).

Candidates are ranked by ship-to region match (when the policy asks), then the preferred kind of
node (own warehouse or 3PL), then location priority (lower first), then id. The first candidate
with enough available stock wins; with none, a backorder-allowed line goes to the best-ranked
location and a refused one is not allocated. The reason is a sentence stored with the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hub.ledger.policy import SourcingPolicy

__all__ = ["LocationInfo", "SourcingDecision", "choose_location", "rank_locations"]


@dataclass(frozen=True, slots=True)
class LocationInfo:
    location: str
    kind: str
    region: str | None
    priority: int


@dataclass(frozen=True, slots=True)
class SourcingDecision:
    location: str | None
    outcome: Literal["allocated", "backordered", "refused"]
    reason: str


def rank_locations(
    locations: Sequence[LocationInfo], ship_region: str | None, policy: SourcingPolicy
) -> list[LocationInfo]:
    """Stockholding locations (suppliers excluded), best first."""

    def key(info: LocationInfo) -> tuple[int, int, int, str]:
        region_miss = int(
            policy.match_region and ship_region is not None and info.region != ship_region
        )
        is_3pl = info.kind == "3pl"
        kind_rank = {"own": int(is_3pl), "3pl": int(not is_3pl), "none": 0}[policy.prefer]
        return (region_miss, kind_rank, info.priority, info.location)

    return sorted((loc for loc in locations if loc.kind != "supplier"), key=key)


def choose_location(
    ranked: Sequence[LocationInfo],
    available: Mapping[str, int],
    quantity: int,
    *,
    channel_available: int,
    backorder: bool,
) -> SourcingDecision:
    """Pick the first ranked location that can give ``quantity`` now.

    ``available`` is each location's on-hand less allocated less safety stock; ``channel_available``
    is what the order's channel may still promise under its stock policy.
    """
    if not ranked:
        return SourcingDecision(None, "refused", "no stockholding location is configured")
    if channel_available >= quantity:
        for rank, info in enumerate(ranked, start=1):
            have = available.get(info.location, 0)
            if have >= quantity:
                return SourcingDecision(
                    info.location,
                    "allocated",
                    f"{info.location} (rank {rank}, {info.kind}, priority {info.priority}, "
                    f"region {info.region or '-'}) has {have} available for {quantity}",
                )
        shortage = f"no location has {quantity} available"
    else:
        shortage = f"the channel may promise only {channel_available} of {quantity}"
    if backorder:
        best = ranked[0]
        return SourcingDecision(
            best.location, "backordered", f"{shortage}; backordered at {best.location} (rank 1)"
        )
    return SourcingDecision(None, "refused", f"{shortage}; backorders are not allowed")
