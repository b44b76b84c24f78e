"""The order lifecycle graph: closed under any sequence of moves, with typed errors for illegal ones."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canonical import (
    INITIAL_STATE,
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransitionError,
    OrderState,
    can_transition,
    transition,
)
from canonical.lifecycle import lifecycle_as_json, lifecycle_as_markdown

REQUIRED_STATES = {
    "captured", "validated", "on_hold", "allocated", "partially_allocated", "backordered",
    "released", "picked", "packed", "shipped", "partially_shipped", "delivered", "invoiced",
    "closed", "cancelled", "return_requested", "returned", "refunded",
}  # fmt: skip


def _reachable(start: OrderState) -> set[OrderState]:
    seen, queue = {start}, deque([start])
    while queue:
        for target in TRANSITIONS[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def test_the_graph_has_exactly_the_published_states() -> None:
    assert {state.value for state in OrderState} == REQUIRED_STATES
    assert set(TRANSITIONS) == set(OrderState)
    assert all(targets <= set(OrderState) for targets in TRANSITIONS.values())


def test_every_state_is_reachable_and_every_state_can_end() -> None:
    assert _reachable(INITIAL_STATE) == set(OrderState)
    assert {OrderState.CLOSED} == TERMINAL_STATES
    for state in OrderState:
        assert OrderState.CLOSED in _reachable(state), f"{state} can never be closed"


def test_no_state_moves_to_itself() -> None:
    for state, targets in TRANSITIONS.items():
        assert state not in targets


@given(st.lists(st.sampled_from(list(OrderState)), max_size=60))
def test_random_moves_never_leave_the_graph(attempts: list[OrderState]) -> None:
    state = INITIAL_STATE
    for target in attempts:
        if can_transition(state, target):
            state = transition(state, target)
        else:
            with pytest.raises(IllegalTransitionError) as info:
                transition(state, target)
            assert info.value.source == state.value
            assert info.value.target == target.value
            assert set(info.value.allowed) == {s.value for s in TRANSITIONS[state]}
        assert state in OrderState
        assert state in _reachable(INITIAL_STATE)


def test_illegal_transition_message_is_actionable() -> None:
    with pytest.raises(IllegalTransitionError, match=r"from 'shipped' to 'allocated'.*may move to"):
        transition(OrderState.SHIPPED, OrderState.ALLOCATED)
    with pytest.raises(IllegalTransitionError, match="terminal state"):
        transition(OrderState.CLOSED, OrderState.CAPTURED)


def test_exports_describe_the_same_graph() -> None:
    exported = lifecycle_as_json()
    assert exported["initial"] == "captured"
    transitions = exported["transitions"]
    assert isinstance(transitions, dict)
    for state, targets in TRANSITIONS.items():
        assert sorted(t.value for t in targets) == transitions[state.value]
    markdown = lifecycle_as_markdown()
    for state, targets in TRANSITIONS.items():
        for target in targets:
            assert f"    {state.value} --> {target.value}\n" in markdown
