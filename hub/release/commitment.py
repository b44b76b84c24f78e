"""Local time at a node: today's cut-off for a service level, and an order's last ship day.

Cut-offs and commitments are about the node's own clock (a truck leaves New York at 17:00 New
York time), so every date here is a local date in the location's time zone.

An order's **ship-by date** at a location is the earliest of:

* its *ready date* plus the service level's ``ship_within_days``, where the ready date is the
  local day it was placed, or the next day when it was placed after that day's release deadline
  (the cut-off minus ``pick_minutes``);
* its ``promised_by`` local date minus the level's ``transit_days``.

An order with neither has no commitment: it is never *due*.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hub.release.model import Candidate
from hub.release.policy import LocationRelease, ReleasePolicy

__all__ = ["release_deadline", "ship_by_date"]


def release_deadline(location: LocationRelease, level: str, day: date) -> datetime | None:
    """The latest moment of ``day`` (local) an order of ``level`` can be released and still make
    the carrier's cut-off: cut-off minus the node's pick time. None when the level has no cut-off."""
    cutoff = location.cutoff_for(level)
    if cutoff is None:
        return None
    moment = datetime.combine(day, cutoff.time, tzinfo=location.zone)
    return moment - timedelta(minutes=location.pick_minutes)


def ship_by_date(
    candidate: Candidate, level: str, policy: ReleasePolicy, location: LocationRelease
) -> date | None:
    """The last local day the order may leave the node and keep its commitment (module doc)."""
    service = policy.level(level)
    dates: list[date] = []
    if service.ship_within_days is not None:
        placed = candidate.placed_at.astimezone(location.zone)
        deadline = release_deadline(location, level, placed.date())
        ready = (
            placed.date()
            if deadline is None or placed <= deadline
            else placed.date() + timedelta(days=1)
        )
        dates.append(ready + timedelta(days=service.ship_within_days))
    if candidate.promised_by is not None:
        promised = candidate.promised_by.astimezone(location.zone).date()
        dates.append(promised - timedelta(days=service.transit_days))
    return min(dates) if dates else None
