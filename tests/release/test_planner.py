"""plan_wave on its own: each rule of docs/release.md with in-memory candidates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.release import Candidate, CandidateLine, DayUsage, Reason, ReleasePolicy, plan_wave

# Monday 2 March 2026; New York is UTC-5 that day.
NOON_NY = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def cand(
    key: str,
    *,
    location: str = "wh",
    units: int = 1,
    level: str | None = "standard",
    channel: str = "web",
    placed: datetime = datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
    promised: datetime | None = None,
    **extra: Any,
) -> Candidate:
    return Candidate(
        order_key=f"{channel}:{key}",
        channel=channel,
        external_id=key,
        location=location,
        lines=(CandidateLine("1", "SKU", units),),
        placed_at=placed,
        service_level=level,
        promised_by=promised,
        **extra,
    )


def policy(**location: Any) -> ReleasePolicy:
    rules = {"timezone": "America/New_York", **location}
    return ReleasePolicy.model_validate({"locations": {"wh": rules}})


def released(plan: Any, location: str = "wh") -> list[str]:
    return [d.order_key for d in plan.waves[location].released]


def test_service_level_then_channel_weight_then_age() -> None:
    rules = ReleasePolicy.model_validate(
        {
            "channel_weights": {"amazon": 3},
            "locations": {"wh": {"capacity": {"orders_per_wave": 3}}},
        }
    )
    plan = plan_wave(
        [
            cand("old", placed=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
            cand("new", placed=datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
            cand("amz", channel="amazon", placed=datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
            cand("exp", level="express", placed=datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ],
        rules,
        datetime(2026, 3, 2, 12, 30, tzinfo=UTC),
        {},
    )
    assert released(plan) == ["web:exp", "amazon:amz", "web:old"]
    left = plan.decision("web:new")
    assert (left.released, left.reason, left.rank) == (False, Reason.LOWER_PRIORITY, 4)


def test_the_priority_criteria_are_the_policy_s_order() -> None:
    rules = ReleasePolicy.model_validate(
        {"priority": ["age"], "locations": {"wh": {"capacity": {"orders_per_wave": 1}}}}
    )
    plan = plan_wave(
        [
            cand("exp", level="express", placed=datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
            cand("std", placed=datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
        ],
        rules,
        datetime(2026, 3, 2, 12, 30, tzinfo=UTC),
        {},
    )
    # express placed at 12:00 UTC is due today and protected: the spike guard ranks it first
    assert released(plan) == ["web:exp"]
    unguarded = rules.model_copy(
        update={
            "service_levels": {
                "express": rules.level("express").model_copy(update={"protect_commitment": False}),
                "standard": rules.level("standard"),
            }
        }
    )
    plan = plan_wave(
        [
            cand("exp", level="express", placed=datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
            cand("std", placed=datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
        ],
        unguarded,
        datetime(2026, 3, 2, 12, 30, tzinfo=UTC),
        {},
    )
    assert released(plan) == ["web:std"]  # age alone: the older order
    assert plan.decision("web:exp").at_risk


def test_earliest_promise_first_and_no_promise_last() -> None:
    rules = ReleasePolicy.model_validate(
        {
            "service_levels": {"standard": {}},
            "locations": {"wh": {"capacity": {"orders_per_wave": 2}}},
        }
    )
    plan = plan_wave(
        [
            cand("none"),
            cand("late", promised=datetime(2026, 3, 9, tzinfo=UTC)),
            cand("soon", promised=datetime(2026, 3, 6, tzinfo=UTC)),
        ],
        rules,
        NOON_NY,
        {},
    )
    assert released(plan) == ["web:soon", "web:late"]


def test_spike_guard_keeps_a_due_standard_order_ahead_of_a_flood_of_newer_ones() -> None:
    rules = policy(capacity={"orders_per_wave": 2})
    rules = rules.model_copy(update={"channel_weights": {"promo": 5.0}})
    due = cand("due", placed=datetime(2026, 2, 28, 15, 0, tzinfo=UTC))  # Sat + 2 days = today
    flood = [
        cand(f"p{i}", channel="promo", placed=datetime(2026, 3, 2, 13, i, tzinfo=UTC))
        for i in range(5)
    ]
    plan = plan_wave([due, *flood], rules, NOON_NY, {})
    assert released(plan) == ["web:due", "promo:p0"]
    decision = plan.decision("web:due")
    assert (decision.reason, decision.ship_by, decision.at_risk) == (
        Reason.DUE,
        date(2026, 3, 2),
        False,
    )
    assert plan.decision("promo:p1").reason is Reason.LOWER_PRIORITY

    levels = dict(rules.service_levels)
    levels["standard"] = levels["standard"].model_copy(update={"protect_commitment": False})
    unguarded = rules.model_copy(update={"service_levels": levels})
    plan = plan_wave([due, *flood], unguarded, NOON_NY, {})
    assert released(plan) == ["promo:p0", "promo:p1"]
    pushed = plan.decision("web:due")
    assert (pushed.released, pushed.reason, pushed.at_risk) == (False, Reason.LOWER_PRIORITY, True)


def test_an_order_too_late_for_today_s_cutoff_waits_for_the_next_day() -> None:
    rules = policy(
        pick_minutes=45,
        cutoffs={"express": {"time": "12:30", "carrier": "ups"}, "standard": {"time": "17:00"}},
    )
    placed_early = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York
    plan = plan_wave(
        [cand("x", level="express", placed=placed_early), cand("s", placed=placed_early)],
        rules,
        NOON_NY,  # 12:00 > 12:30 - 45 min
        {},
    )
    assert released(plan) == ["web:s"]
    missed = plan.decision("web:x")
    assert missed.reason is Reason.MISSED_CUTOFF
    assert missed.at_risk  # same-day express placed before the deadline: it will be late
    assert "12:30 ups express cut-off" in missed.detail
    assert "2026-03-03" in missed.detail

    placed_late = datetime(2026, 3, 2, 16, 50, tzinfo=UTC)  # 11:50, after the 11:45 deadline
    plan = plan_wave([cand("y", level="express", placed=placed_late)], rules, NOON_NY, {})
    late = plan.decision("web:y")
    assert (late.reason, late.ship_by, late.at_risk) == (
        Reason.MISSED_CUTOFF,
        date(2026, 3, 3),
        False,
    )


def test_cutoffs_are_local_times_and_star_covers_unlisted_levels() -> None:
    rules = ReleasePolicy.model_validate(
        {
            "locations": {
                "la": {"timezone": "America/Los_Angeles", "cutoffs": {"*": {"time": "10:00"}}}
            }
        }
    )
    # 17:00 UTC is 12:00 in New York but 09:00 in Los Angeles: still before the cut-off there
    plan = plan_wave([cand("a", location="la", level="economy")], rules, NOON_NY, {})
    assert released(plan, "la") == ["web:a"]
    plan = plan_wave(
        [cand("a", location="la", level="economy")],
        rules,
        datetime(2026, 3, 2, 18, 1, tzinfo=UTC),
        {},
    )
    assert plan.decision("web:a").reason is Reason.MISSED_CUTOFF


def test_gates_on_hold_and_incomplete_orders() -> None:
    candidates = [cand("held", on_hold=True), cand("part", fully_allocated=False), cand("ok")]
    plan = plan_wave(candidates, policy(), NOON_NY, {})
    assert released(plan) == ["web:ok"]
    assert plan.decision("web:held").reason is Reason.ON_HOLD
    assert plan.decision("web:part").reason is Reason.NOT_FULLY_ALLOCATED
    partial = policy().model_copy(update={"release_partially_allocated": True})
    assert released(plan_wave(candidates, partial, NOON_NY, {})) == ["web:ok", "web:part"]


def test_day_capacity_counts_what_was_released_earlier_today() -> None:
    rules = policy(capacity={"orders_per_day": 5, "units_per_day": 20})
    candidates = [cand("a", units=3), cand("b", units=2), cand("c", units=1)]
    plan = plan_wave(candidates, rules, NOON_NY, {"wh": DayUsage(orders=3, units=15, waves=2)})
    wave = plan.waves["wh"]
    assert wave.wave_id == "20260302-w3"
    assert released(plan) == ["web:a", "web:b"]  # 5 orders, 20 units for the day
    last = plan.decision("web:c")
    assert last.reason is Reason.DAY_CAPACITY
    assert "next day" in last.detail
    plan = plan_wave(candidates, rules, NOON_NY, {"wh": DayUsage(orders=1, units=19, waves=1)})
    assert released(plan) == ["web:c"]
    assert plan.decision("web:a").reason is Reason.DAY_CAPACITY


def test_wave_units_skip_a_big_order_but_an_oversized_one_goes_alone() -> None:
    rules = policy(capacity={"units_per_wave": 10})
    plan = plan_wave(
        [
            cand("a", units=6, placed=datetime(2026, 3, 2, 10, tzinfo=UTC)),
            cand("b", units=6, placed=datetime(2026, 3, 2, 11, tzinfo=UTC)),
            cand("c", units=4, placed=datetime(2026, 3, 2, 12, tzinfo=UTC)),
        ],
        rules,
        NOON_NY,
        {},
    )
    assert released(plan) == ["web:a", "web:c"]
    assert plan.decision("web:b").reason is Reason.WAVE_CAPACITY
    plan = plan_wave(
        [cand("huge", units=25, placed=datetime(2026, 3, 2, 10, tzinfo=UTC)), cand("small")],
        rules,
        NOON_NY,
        {},
    )
    assert released(plan) == ["web:huge"]
    assert plan.decision("web:small").reason is Reason.WAVE_CAPACITY


def test_a_split_order_goes_whole_or_waits_and_frees_its_place() -> None:
    rules = ReleasePolicy.model_validate(
        {
            "locations": {
                "east": {"capacity": {"orders_per_wave": 1}},
                "tpl": {"capacity": {"orders_per_wave": 1}},
            }
        }
    )
    early = datetime(2026, 3, 2, 9, tzinfo=UTC)
    split_east = cand("split", location="east", placed=early)
    split_tpl = cand("split", location="tpl", placed=early, on_hold=False, fully_allocated=True)
    blocker = cand("first", location="tpl", level="express", placed=early)
    other = cand("other", location="east")
    plan = plan_wave([split_east, split_tpl, blocker, other], rules, NOON_NY, {})
    assert released(plan, "tpl") == ["web:first"]
    assert released(plan, "east") == ["web:other"]
    east = plan.decision("web:split", "east")
    assert east.reason is Reason.SPLIT_HELD
    assert "tpl" in east.detail
    assert plan.decision("web:split", "tpl").reason is Reason.LOWER_PRIORITY
    plan = plan_wave([split_east, split_tpl, other], rules, NOON_NY, {})
    assert released(plan, "east") == ["web:split"]
    assert released(plan, "tpl") == ["web:split"]


def test_now_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_wave([cand("a")], ReleasePolicy(), datetime(2026, 3, 2, 12), {})
