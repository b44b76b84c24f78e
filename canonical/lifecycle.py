"""The order lifecycle: the states an order passes through in the hub and the moves between them.

The graph is data (:data:`TRANSITIONS`), not code scattered across handlers: the ledger enforces it,
the docs render it (``docs/order-lifecycle.md`` is generated from it), and a property test checks
that no sequence of moves can leave it.

Reading the graph:

* ``captured`` is where every order starts: the hub has received it from a channel.
* ``on_hold`` is a stop for review or an exception; the order resumes to ``validated`` (or is
  cancelled) once an operator or a fix clears it.
* Allocation may be whole, partial or nothing yet (``backordered``); any of them may be cancelled.
* Once stock is ``released`` to a warehouse it is picked, packed and shipped; a 3PL that reports
  only the shipment may skip the intermediate states.
* ``invoiced`` and ``delivered`` are independent facts that may happen in either order after
  shipping.
* Returns and refunds follow shipping; a cancelled order may still be refunded; everything ends in
  ``closed``, the only terminal state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from canonical.errors import IllegalTransitionError

__all__ = [
    "INITIAL_STATE",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "OrderState",
    "allowed_transitions",
    "can_transition",
    "lifecycle_as_json",
    "lifecycle_as_markdown",
    "transition",
]


class OrderState(StrEnum):
    """Where an order is in the hub's lifecycle."""

    CAPTURED = "captured"
    VALIDATED = "validated"
    ON_HOLD = "on_hold"
    ALLOCATED = "allocated"
    PARTIALLY_ALLOCATED = "partially_allocated"
    BACKORDERED = "backordered"
    RELEASED = "released"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    PARTIALLY_SHIPPED = "partially_shipped"
    DELIVERED = "delivered"
    INVOICED = "invoiced"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    RETURN_REQUESTED = "return_requested"
    RETURNED = "returned"
    REFUNDED = "refunded"


S = OrderState

_PRE_RELEASE_EXITS = frozenset({S.ON_HOLD, S.CANCELLED})

TRANSITIONS: Final[Mapping[OrderState, frozenset[OrderState]]] = MappingProxyType(
    {
        S.CAPTURED: frozenset({S.VALIDATED, S.ON_HOLD, S.CANCELLED}),
        S.VALIDATED: frozenset(
            {S.ALLOCATED, S.PARTIALLY_ALLOCATED, S.BACKORDERED} | _PRE_RELEASE_EXITS
        ),
        S.ON_HOLD: frozenset({S.VALIDATED, S.CANCELLED}),
        S.ALLOCATED: frozenset(
            {S.RELEASED, S.PARTIALLY_ALLOCATED, S.BACKORDERED} | _PRE_RELEASE_EXITS
        ),
        S.PARTIALLY_ALLOCATED: frozenset(
            {S.ALLOCATED, S.BACKORDERED, S.RELEASED} | _PRE_RELEASE_EXITS
        ),
        S.BACKORDERED: frozenset({S.ALLOCATED, S.PARTIALLY_ALLOCATED} | _PRE_RELEASE_EXITS),
        S.RELEASED: frozenset(
            {S.PICKED, S.PACKED, S.SHIPPED, S.PARTIALLY_SHIPPED, S.ON_HOLD, S.CANCELLED}
        ),
        S.PICKED: frozenset({S.PACKED, S.SHIPPED, S.PARTIALLY_SHIPPED, S.CANCELLED}),
        S.PACKED: frozenset({S.SHIPPED, S.PARTIALLY_SHIPPED, S.CANCELLED}),
        S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.DELIVERED, S.INVOICED, S.RETURN_REQUESTED}),
        S.SHIPPED: frozenset({S.DELIVERED, S.INVOICED, S.RETURN_REQUESTED}),
        S.DELIVERED: frozenset({S.INVOICED, S.RETURN_REQUESTED, S.CLOSED}),
        S.INVOICED: frozenset({S.DELIVERED, S.RETURN_REQUESTED, S.REFUNDED, S.CLOSED}),
        S.RETURN_REQUESTED: frozenset({S.RETURNED, S.REFUNDED, S.CLOSED}),
        S.RETURNED: frozenset({S.REFUNDED, S.CLOSED}),
        S.REFUNDED: frozenset({S.RETURN_REQUESTED, S.CLOSED}),
        S.CANCELLED: frozenset({S.REFUNDED, S.CLOSED}),
        S.CLOSED: frozenset(),
    }
)

INITIAL_STATE: Final = S.CAPTURED
TERMINAL_STATES: Final = frozenset(s for s, targets in TRANSITIONS.items() if not targets)


def allowed_transitions(state: OrderState) -> frozenset[OrderState]:
    """The states ``state`` may move to."""
    return TRANSITIONS[OrderState(state)]


def can_transition(source: OrderState, target: OrderState) -> bool:
    return OrderState(target) in TRANSITIONS[OrderState(source)]


def transition(source: OrderState, target: OrderState) -> OrderState:
    """Move from ``source`` to ``target`` or raise :class:`IllegalTransitionError`.

    Staying in the same state is not a transition and is refused too: callers that may see the same
    fact twice (a redelivered webhook) must deduplicate before asking to move.
    """
    source, target = OrderState(source), OrderState(target)
    allowed = TRANSITIONS[source]
    if target not in allowed:
        raise IllegalTransitionError(source.value, target.value, (s.value for s in allowed))
    return target


def lifecycle_as_json() -> dict[str, object]:
    """The graph as plain JSON data, for ``schemas/order-lifecycle.json``."""
    return {
        "initial": INITIAL_STATE.value,
        "states": [state.value for state in OrderState],
        "transitions": {
            state.value: sorted(target.value for target in TRANSITIONS[state])
            for state in OrderState
        },
    }


def lifecycle_as_markdown() -> str:
    """The graph as a Markdown page with a Mermaid diagram and a table (``docs/order-lifecycle.md``)."""
    lines = [
        "# Order lifecycle",
        "",
        "<!-- Generated by `hub schema export` from canonical/lifecycle.py; do not edit by hand. -->",
        "",
        f"Every order starts in `{INITIAL_STATE.value}`. A move not listed here raises "
        "`IllegalTransitionError`.",
        "",
        "```mermaid",
        "stateDiagram-v2",
        f"    [*] --> {INITIAL_STATE.value}",
    ]
    for state in OrderState:
        for target in sorted(TRANSITIONS[state]):
            lines.append(f"    {state.value} --> {target.value}")
    lines += ["```", "", "| from | may move to |", "| --- | --- |"]
    for state in OrderState:
        targets = ", ".join(f"`{t.value}`" for t in sorted(TRANSITIONS[state])) or "(terminal)"
        lines.append(f"| `{state.value}` | {targets} |")
    return "\n".join(lines) + "\n"
