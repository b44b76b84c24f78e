"""Acceptance: a day with two warehouses and a 3PL, waves released through the ledger."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from canonical import FulfillmentRequest
from hub.ledger import Ledger
from hub.release import Candidate, WavePlan
from hub.release.candidates import LedgerReader
from hub.release.ids import request_id
from hub.release.run import release_envelopes, request_for, run_wave
from tests.release.scenario import (
    AFTERNOON,
    MORNING,
    TENANT,
    add_afternoon_orders,
    build_day,
    plan_at,
    policy,
    summary,
)

MORNING_PLAN = {
    "wh_east": {
        "wave": "20260302-w1",
        # the express order and the standard order due today go first (spike guard); the 9-unit
        # amazon order does not fit the 10 units left, so the next one takes the last place
        "in": [("web:E-X1", "due"), ("web:E-OLD", "due"), ("amazon:E-S2", "priority")],
        "out": {
            "amazon:E-S1": "wave_capacity",
            "amazon:E-S3": "lower_priority",
            "amazon:E-S4": "lower_priority",
            "web:E-P1": "not_fully_allocated",
        },
    },
    "wh_west": {
        "wave": "20260302-w1",
        # W-3 is promised for Wednesday, two transit days: it must leave today
        "in": [("web:W-3", "due"), ("amazon:W-2", "priority")],
        "out": {"web:W-1": "day_capacity"},
    },
    "shipbob_tx": {
        "wave": "20260302-w1",
        "in": [("web:T-1", "priority"), ("web:T-2", "priority")],
        "out": {"web:T-3": "day_capacity"},
    },
}

AFTERNOON_PLAN = {
    "wh_east": {
        "wave": "20260302-w2",
        "in": [("amazon:E-S1", "priority"), ("amazon:E-S3", "priority")],
        "out": {
            "amazon:E-S4": "wave_capacity",
            "web:E-P1": "not_fully_allocated",
            "web:E-X2": "missed_cutoff",
        },
    },
    "wh_west": {
        "wave": "20260302-w2",
        "in": [],
        "out": {"web:W-1": "day_capacity", "web:W-4": "day_capacity"},
    },
    "shipbob_tx": {
        "wave": "20260302-w2",
        "in": [],
        "out": {"web:T-3": "day_capacity", "web:T-4": "missed_cutoff"},
    },
}


@pytest.fixture
def url(tmp_path: Path) -> str:
    path = str(tmp_path / "ledger.sqlite3")
    build_day(path)
    return path


def _release(url: str, planned: tuple[list[Candidate], WavePlan]) -> list[str]:
    """Run a planned wave through the ledger; the ledger's outcome per released order."""
    candidates, plan = planned
    with Ledger(url) as ledger:
        outcomes = run_wave(ledger, TENANT, plan, candidates, policy())
    return [o.outcome for o in outcomes]


def _released_events(url: str) -> list[dict[str, str]]:
    with Ledger(url) as ledger:
        return [
            dict(event.payload)
            for event in ledger.unpublished(1000)
            if event.event_type == "order.released"
        ]


def test_the_morning_wave_releases_exactly_these_orders(url: str) -> None:
    _, plan = plan_at(url, MORNING)
    assert summary(plan) == MORNING_PLAN
    east = plan.waves["wh_east"]
    assert east.units == 4
    e_old = plan.decision("web:E-OLD")
    assert e_old.ship_by == date(2026, 3, 2)
    assert "spike guard" in e_old.detail
    west = plan.decision("web:W-1")
    assert "released its 2 orders for 2026-03-02" in west.detail
    assert not west.at_risk  # due on Tuesday: waiting a day keeps its commitment
    tx = plan.decision("web:T-3")
    assert "needs 3 units; 1 of shipbob_tx's 8" in tx.detail


def test_releasing_a_wave_marks_orders_released_and_emits_their_requests(url: str) -> None:
    assert _release(url, plan_at(url, MORNING)) == ["applied"] * 7
    with Ledger(url) as ledger:
        assert ledger.order("web:E-OLD", TENANT)["state"] == "released"  # type: ignore[index]
        assert ledger.order("amazon:E-S1", TENANT)["state"] == "allocated"  # type: ignore[index]
    events = {e["order"]: e for e in _released_events(url)}
    assert sorted(events) == sorted(key for wave in MORNING_PLAN.values() for key, _ in wave["in"])
    assert events["web:T-1"] == {
        "order": "web:T-1",
        "location": "shipbob_tx",
        "request_id": request_id("shipbob_tx", "20260302-w1", "web:T-1"),
    }


def test_the_afternoon_wave_counts_the_morning_and_holds_late_orders(url: str) -> None:
    _release(url, plan_at(url, MORNING))
    add_afternoon_orders(url)
    _, plan = plan_at(url, AFTERNOON)
    assert summary(plan) == AFTERNOON_PLAN
    # placed at 15:10 New York, after the 15:00 express deadline: it is due tomorrow, not late
    late_but_fine = plan.decision("web:E-X2")
    assert late_but_fine.ship_by == date(2026, 3, 3)
    assert not late_but_fine.at_risk
    assert "first wave of 2026-03-03" in late_but_fine.detail
    # placed at 13:00 Chicago, before the 13:30 deadline, released too late: it will be late
    missed = plan.decision("web:T-4")
    assert missed.at_risk
    assert "14:00 ups express cut-off" in missed.detail
    assert plan.waves["shipbob_tx"].usage_before.units == 7
    assert _release(url, plan_at(url, AFTERNOON)) == ["applied"] * 2


def test_without_the_spike_guard_the_flood_pushes_the_due_order_out(url: str) -> None:
    rules = policy()
    levels = dict(rules.service_levels)
    levels["standard"] = levels["standard"].model_copy(update={"protect_commitment": False})
    _, plan = plan_at(url, MORNING, rules.model_copy(update={"service_levels": levels}))
    east = plan.waves["wh_east"]
    assert [d.order_key for d in east.released] == ["web:E-X1", "amazon:E-S1"]
    pushed = plan.decision("web:E-OLD")
    assert not pushed.released
    assert pushed.at_risk


def test_a_rerun_of_a_wave_releases_nothing_twice(url: str) -> None:
    candidates, plan = plan_at(url, MORNING)
    assert _release(url, (candidates, plan)) == ["applied"] * 7
    events = _released_events(url)
    # the same wave again (a retried command, a second operator): every request is a duplicate
    assert _release(url, (candidates, plan)) == ["duplicate"] * 7
    assert _released_events(url) == events
    # and a new plan no longer sees the released orders
    _, again = plan_at(url, MORNING)
    released_before = {key for wave in MORNING_PLAN.values() for key, _ in wave["in"]}
    planned = {d.order_key for w in again.waves.values() for d in (*w.released, *w.held)}
    assert not planned & released_before
    assert again.waves["wh_east"].wave_id == "20260302-w2"


def test_requests_carry_lines_address_carrier_and_the_cutoff(url: str) -> None:
    candidates, plan = plan_at(url, MORNING)
    requests: dict[str, FulfillmentRequest] = {}
    for wave_id, envelope in release_envelopes(TENANT, plan, candidates, policy()):
        assert envelope.event_type == "fulfillment.requested"
        assert isinstance(envelope.payload, FulfillmentRequest)
        assert wave_id in envelope.payload.request_id
        requests[envelope.payload.order.key] = envelope.payload
    request = requests["web:E-X1"]
    assert request.location == "wh_east"
    assert [(line.sku, line.quantity) for line in request.lines] == [("SKU-E", 1)]
    assert (request.carrier, request.service_level) == ("ups", "express")
    assert request.ship_by is not None
    assert request.ship_by.isoformat() == "2026-03-02T21:00:00+00:00"  # 16:00 in New York
    assert request.ship_to.country == "US"
    assert requests["web:W-3"].carrier == "fedex"  # the * cut-off of wh_west


def test_the_day_on_postgresql(postgres_url: str) -> None:
    build_day(postgres_url)
    candidates, plan = plan_at(postgres_url, MORNING)
    assert summary(plan) == MORNING_PLAN
    assert _release(postgres_url, (candidates, plan)) == ["applied"] * 7
    assert _release(postgres_url, (candidates, plan)) == ["duplicate"] * 7
    add_afternoon_orders(postgres_url)
    _, afternoon = plan_at(postgres_url, AFTERNOON)
    assert summary(afternoon) == AFTERNOON_PLAN


def test_each_order_released_event_gives_back_the_request_the_wave_sent(url: str) -> None:
    candidates, plan = plan_at(url, MORNING)
    sent = {
        envelope.payload.request_id: envelope.payload
        for _, envelope in release_envelopes(TENANT, plan, candidates, policy())
        if isinstance(envelope.payload, FulfillmentRequest)
    }
    _release(url, (candidates, plan))
    events = _released_events(url)
    assert len(events) == len(sent) == 7
    with LedgerReader(url) as reader:
        for event in events:
            rebuilt = request_for(reader, TENANT, event, policy(), MORNING)
            assert rebuilt == sent[event["request_id"]]
        gone = {"order": "web:nope", "location": "wh_east", "request_id": "x"}
        assert request_for(reader, TENANT, gone, policy(), MORNING) is None
