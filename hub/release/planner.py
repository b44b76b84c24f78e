"""``plan_wave``: which allocated orders go to their node in the next wave, and why the rest wait.

A pure function of its inputs (candidates, policy, the time, what each node already released
today), so a plan can be shown, tested and then executed exactly as shown. The rules, per location
and in this order (docs/release.md repeats them):

1. **Gates.** An order on hold, or (unless ``release_partially_allocated``) with lines still
   waiting for stock, is out. An order that can no longer make today's carrier cut-off for its
   service level (now is later than cut-off minus ``pick_minutes``, local time) is out with
   ``missed_cutoff`` and goes in the next day's first wave: releasing it now would spend today's
   capacity on a parcel that leaves tomorrow anyway.
2. **Ranking.** The remaining orders are ranked by the policy's ``priority`` criteria (service
   level rank, earliest ``promised_by``, channel weight, oldest first; then the order key). The
   **spike guard** comes before all of them: an order that is *due* (its ship-by date, see
   :mod:`hub.release.commitment`, is today or past) and whose service level has
   ``protect_commitment`` is ranked ahead of every order that is not due. However many newer
   orders a promotion brings, the wave's places go first to the orders that would otherwise miss
   their commitment. With ``protect_commitment: false`` a due order competes on priority alone.
3. **Capacity**, greedily in rank order: the day's order and unit limits (``day_capacity``, next
   day), then the wave's order places (``lower_priority``, next wave), then the wave's units
   (``wave_capacity``: a smaller order further down may still fit). An order bigger than a whole
   wave's (day's) unit limit goes alone as the first order of a wave (day).
4. **Split orders.** The ledger releases an order as a whole, so an order reserved at several
   nodes goes only when every part is in its node's wave; otherwise each part waits
   (``split_held``) and planning runs again without it, so its places go to others.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.release.commitment import release_deadline, ship_by_date
from hub.release.model import Candidate, DayUsage, Decision, LocationWave, Reason, WavePlan
from hub.release.policy import Capacity, LocationRelease, ReleasePolicy

__all__ = ["plan_wave"]


@dataclass(frozen=True, slots=True)
class _Entry:
    """A candidate as the planner sees it at its location today."""

    candidate: Candidate
    level: str
    ship_by: date | None
    due: bool
    protected: bool

    def decide(
        self, released: bool, reason: Reason, detail: str, *, rank: int | None = None
    ) -> Decision:
        return Decision(
            order_key=self.candidate.order_key,
            location=self.candidate.location,
            released=released,
            reason=reason,
            detail=detail,
            service_level=self.level,
            units=self.candidate.units,
            rank=rank,
            ship_by=self.ship_by,
            at_risk=self.due and not released,
        )


def plan_wave(
    candidates: Iterable[Candidate],
    policy: ReleasePolicy,
    now: datetime,
    already_released_today: Mapping[str, DayUsage],
) -> WavePlan:
    """The next wave at every location that has candidates (see the module doc for the rules).

    ``already_released_today`` is, per location, what it released earlier on its current local
    day: it counts against the daily limits and numbers the wave.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (cut-offs are local times)")
    by_location: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_location[candidate.location].append(candidate)
    split_held: dict[str, Decision] = {}
    while True:
        waves = {
            name: _plan_location(
                name,
                by_location[name],
                policy,
                now,
                already_released_today.get(name, DayUsage()),
                split_held,
            )
            for name in sorted(by_location)
        }
        newly = _broken_splits(waves, split_held)
        if not newly:
            return WavePlan(as_of=now, waves=waves)
        split_held.update(newly)


def _broken_splits(
    waves: Mapping[str, LocationWave], split_held: Mapping[str, Decision]
) -> dict[str, Decision]:
    """Orders released at some of their locations but held at another: the holding decision."""
    released: set[str] = set()
    holding: dict[str, Decision] = {}
    for wave in waves.values():
        released.update(d.order_key for d in wave.released)
        for decision in wave.held:
            if decision.order_key not in split_held:
                holding.setdefault(decision.order_key, decision)
    return {key: decision for key, decision in holding.items() if key in released}


def _plan_location(
    name: str,
    candidates: list[Candidate],
    policy: ReleasePolicy,
    now: datetime,
    usage: DayUsage,
    split_held: Mapping[str, Decision],
) -> LocationWave:
    rules = policy.location(name)
    today = now.astimezone(rules.zone).date()
    held: list[Decision] = []
    eligible: list[_Entry] = []
    for candidate in candidates:
        entry = _entry(candidate, policy, rules, today)
        gate = _gate(entry, policy, rules, now, today, split_held)
        if gate is None:
            eligible.append(entry)
        else:
            held.append(gate)
    eligible.sort(key=lambda entry: _rank_key(entry, policy))
    released, capacity_held = _fill(eligible, rules.capacity, policy.wave_size, usage, name, today)
    capacity = rules.capacity
    return LocationWave(
        location=name,
        wave_id=f"{today:%Y%m%d}-w{usage.waves + 1}",
        local_date=today,
        released=tuple(released),
        held=tuple(held + capacity_held),
        usage_before=usage,
        orders_per_wave=capacity.orders_per_wave or policy.wave_size,
        units_per_wave=capacity.units_per_wave,
        orders_per_day=capacity.orders_per_day,
        units_per_day=capacity.units_per_day,
    )


def _entry(
    candidate: Candidate, policy: ReleasePolicy, rules: LocationRelease, today: date
) -> _Entry:
    level = candidate.service_level or policy.default_service_level
    ship_by = ship_by_date(candidate, level, policy, rules)
    due = ship_by is not None and ship_by <= today
    return _Entry(candidate, level, ship_by, due, due and policy.level(level).protect_commitment)


def _gate(
    entry: _Entry,
    policy: ReleasePolicy,
    rules: LocationRelease,
    now: datetime,
    today: date,
    split_held: Mapping[str, Decision],
) -> Decision | None:
    """The decision that keeps an order out before ranking, or None if it may compete."""
    candidate = entry.candidate
    other = split_held.get(candidate.order_key)
    if other is not None:
        if other.location == candidate.location:
            return other
        return entry.decide(
            False,
            Reason.SPLIT_HELD,
            f"its part at {other.location} is held ({other.reason.value}: {other.detail}); "
            "the order is released whole",
        )
    if candidate.on_hold:
        return entry.decide(False, Reason.ON_HOLD, "on hold in the ledger; released once lifted")
    if candidate.lot_problem is not None:
        return entry.decide(False, Reason.LOT_UNAVAILABLE, candidate.lot_problem)
    if not candidate.fully_allocated and not policy.release_partially_allocated:
        return entry.decide(
            False,
            Reason.NOT_FULLY_ALLOCATED,
            "some lines wait for stock; the policy releases complete orders only",
        )
    deadline = release_deadline(rules, entry.level, today)
    if deadline is not None and now > deadline:
        cutoff = rules.cutoff_for(entry.level)
        assert cutoff is not None
        carrier = f" {cutoff.carrier}" if cutoff.carrier else ""
        late = " (late for its commitment)" if entry.due else ""
        return entry.decide(
            False,
            Reason.MISSED_CUTOFF,
            f"too late for today's {cutoff.time:%H:%M}{carrier} {entry.level} cut-off "
            f"(release by {deadline:%H:%M}, {rules.timezone}); first wave of "
            f"{today + timedelta(days=1)}{late}",
        )
    return None


def _rank_key(entry: _Entry, policy: ReleasePolicy) -> tuple[Any, ...]:
    candidate = entry.candidate
    parts: list[Any] = [0 if entry.protected else 1]
    for criterion in policy.priority:
        if criterion == "service_level":
            parts.append(policy.level_rank(entry.level))
        elif criterion == "promise":
            promised = candidate.promised_by
            parts.append(promised.timestamp() if promised is not None else math.inf)
        elif criterion == "channel":
            parts.append(-policy.channel_weight(candidate.channel))
        else:  # age
            parts.append(candidate.placed_at.timestamp())
    parts.append(candidate.order_key)
    return tuple(parts)


def _fits(units: int, used: int, limit: int | None) -> bool:
    """Within the limit, or an order bigger than the whole limit going first (never stuck)."""
    return limit is None or used + units <= limit or (used == 0 and units > limit)


def _fill(
    ranked: list[_Entry],
    capacity: Capacity,
    wave_size: int,
    usage: DayUsage,
    name: str,
    today: date,
) -> tuple[list[Decision], list[Decision]]:
    """Admit ranked orders while the day's and the wave's limits allow; the rest say which."""
    per_wave = capacity.orders_per_wave or wave_size
    released: list[Decision] = []
    held: list[Decision] = []
    day_orders, day_units, wave_units = usage.orders, usage.units, 0
    for rank, entry in enumerate(ranked, start=1):
        units = entry.candidate.units
        limits = (
            (
                capacity.orders_per_day is None or day_orders < capacity.orders_per_day,
                Reason.DAY_CAPACITY,
                f"{name} has released its {capacity.orders_per_day} orders for {today}; next day",
            ),
            (
                _fits(units, day_units, capacity.units_per_day),
                Reason.DAY_CAPACITY,
                f"needs {units} units; {_left(capacity.units_per_day, day_units)} of {name}'s "
                f"{capacity.units_per_day} for {today} are left; next day",
            ),
            (
                len(released) < per_wave,
                Reason.LOWER_PRIORITY,
                f"ranked {rank}; the wave's {per_wave} places went to higher-ranked orders; "
                "next wave",
            ),
            (
                _fits(units, wave_units, capacity.units_per_wave),
                Reason.WAVE_CAPACITY,
                f"needs {units} units; {_left(capacity.units_per_wave, wave_units)} of the "
                f"wave's {capacity.units_per_wave} are left; next wave",
            ),
        )
        refusal = next(((reason, text) for ok, reason, text in limits if not ok), None)
        if refusal is not None:
            held.append(entry.decide(False, refusal[0], refusal[1], rank=rank))
            continue
        released.append(_admit(entry, rank, today))
        day_orders, day_units, wave_units = day_orders + 1, day_units + units, wave_units + units
    return released, held


def _left(limit: int | None, used: int) -> int:
    return max(0, (limit or 0) - used)


def _admit(entry: _Entry, rank: int, today: date) -> Decision:
    if entry.protected:
        when = "today" if entry.ship_by == today else f"by {entry.ship_by} (late)"
        detail = (
            f"ranked {rank}: must ship {when} to keep its {entry.level} commitment; the spike "
            "guard puts it ahead of orders that need not"
        )
        return entry.decide(True, Reason.DUE, detail, rank=rank)
    candidate = entry.candidate
    promise = f", promised by {candidate.promised_by:%Y-%m-%d}" if candidate.promised_by else ""
    detail = (
        f"ranked {rank}: {entry.level}, channel {candidate.channel}{promise}, placed "
        f"{candidate.placed_at.astimezone(UTC):%Y-%m-%d %H:%M}Z"
    )
    return entry.decide(True, Reason.PRIORITY, detail, rank=rank)
