"""Out-of-order delivery: each case converges to the state in-order delivery gives.

Shopify, Stripe and 3PLs promise no order between their webhooks. For each case below the same
messages go through the real runtime (Shopify and Stripe translation, governance, router, SQLite
ledger; the shipment-first case also on PostgreSQL) once in causal order and once in the order
that can happen in production.

Pass criteria, per case: every message reaches a terminal outcome on its first delivery (applied,
``parked`` until its order arrives, or ``stale`` for a snapshot older than one already applied);
nothing is dead-lettered or held; the order (state, money, every line's quantity, reservation and
shipped figure) and every stock position equal the in-order run's; and the invariant checker
passes on both ledgers (no message still parked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.runtime import HubRuntime
from router.pipeline import Disposition
from router.ports import RawMessage
from tests.faults.hubkit import fulfillment, open_hub, order_body, process_all, raw, stripe_capture
from tests.faults.invariants import check_invariants

ORDER = 5_100_000_000_001
KEY = f"shopify_us:{ORDER}"
LATER = "2026-03-02T10:15:00-05:00"
CANCELLED = "2026-03-02T11:00:00-05:00"
#: The totals rule would hold an update whose quantities no longer match the fixture's totals;
#: it is not what these cases are about. Payments are not required (orders reserve at capture).
RULES = {"payment": {"enabled": False}, "totals": {"enabled": False}}


def _create() -> RawMessage:
    return raw("create", "orders/create", order_body(ORDER, financial_status="pending"))


def _paid_update() -> RawMessage:
    return raw("paid", "orders/updated", order_body(ORDER, updated_at=LATER))


def _bigger_update() -> RawMessage:
    return raw("update", "orders/updated", order_body(ORDER, updated_at=LATER, quantity=3))


def _cancel() -> RawMessage:
    body = order_body(ORDER, updated_at=CANCELLED, cancelled=True)
    return raw("cancel", "orders/cancelled", body)


def _shipment() -> RawMessage:
    return raw("ship", "fulfillments/create", fulfillment(ORDER))


def _capture() -> RawMessage:
    return raw("capture", "payment_intent.succeeded", stripe_capture(ORDER), instance="stripe")


#: case -> (messages in causal order, the same messages as they may arrive)
CASES: dict[str, Callable[[], tuple[list[RawMessage], list[RawMessage]]]] = {
    "paid update before create": lambda: ([_create(), _paid_update()], [_paid_update(), _create()]),
    "stripe capture before create": lambda: ([_create(), _capture()], [_capture(), _create()]),
    "update before create": lambda: ([_create(), _bigger_update()], [_bigger_update(), _create()]),
    "cancellation before create": lambda: ([_create(), _cancel()], [_cancel(), _create()]),
    "shipment before create and allocation": lambda: (
        [_create(), _shipment()],
        [_shipment(), _create()],
    ),
    "everything reversed": lambda: (
        [_create(), _capture(), _bigger_update(), _shipment()],
        [_shipment(), _bigger_update(), _capture(), _create()],
    ),
}

_COMPARED = (
    "state",
    "cancelled",
    "released",
    "currency",
    "total_minor",
    "payment_status",
    "captured_minor",
    "refunded_minor",
    "captured_at",
    "shipped_at",
    "updated_at",
)


def _final(runtime: HubRuntime) -> dict[str, Any]:
    order = runtime.ledger.order(KEY, tenant="acme")
    assert order is not None
    positions = {
        (p.sku, p.location): (p.on_hand, p.allocated) for p in runtime.ledger.positions("acme")
    }
    # A line that holds and shipped nothing has no location that means anything: in order, a
    # cancelled line remembers where its released reservation was; cancelled first, it never had one.
    lines = [
        {**line, "location": None} if line["reserved"] == line["shipped"] == 0 else line
        for line in order["lines"]
    ]
    return {**{name: order[name] for name in _COMPARED}, "lines": lines, **positions}


def _run(url: str, messages: list[RawMessage]) -> tuple[dict[str, Any], list[Disposition]]:
    runtime = open_hub(url, stock={"TSHIRT-RED-M": 20, "MUG-WHITE": 10}, governance=RULES)
    try:
        results = asyncio.run(process_all(runtime.router, messages, rounds=1))
        dispositions = [d for m in messages for d in results[m.id].dispositions]
        check_invariants(runtime.ledger, accepted=[m.id for m in messages], direct=2)
        letters = runtime.ledger.db.query("SELECT COUNT(*) FROM dead_letters")[0][0]
        held = runtime.ledger.db.query("SELECT COUNT(*) FROM held_messages")[0][0]
        assert (letters, held) == (0, 0)
        return _final(runtime), dispositions
    finally:
        runtime.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_out_of_order_delivery_converges_to_the_in_order_state(case: str, tmp_path: Path) -> None:
    """Pass: the out-of-order run ends in the in-order run's order and positions, with each
    message terminal on first delivery (applied, parked or stale), none dead-lettered or held."""
    in_order, arrived = CASES[case]()
    expected, causal = _run(str(tmp_path / "in-order.sqlite3"), in_order)
    assert set(causal) <= {Disposition.APPLIED}
    final, dispositions = _run(str(tmp_path / "out-of-order.sqlite3"), arrived)
    assert set(dispositions) <= {Disposition.APPLIED, Disposition.PARKED, Disposition.STALE}
    assert Disposition.APPLIED in dispositions
    assert final == expected


def test_shipment_before_create_is_parked_and_resumed_on_postgres(postgres_url: str) -> None:
    """Pass: on PostgreSQL a shipment for an unknown order is ``parked``, a redelivery of it is a
    ``duplicate``, and the order's arrival applies it: the order ships, the position and the
    invariants agree, and no parked message is left."""
    runtime = open_hub(postgres_url, stock={"TSHIRT-RED-M": 20, "MUG-WHITE": 10}, governance=RULES)
    try:
        ship, again = _shipment(), raw("ship-again", "fulfillments/create", fulfillment(ORDER))
        results = asyncio.run(process_all(runtime.router, [ship, again, _create()], rounds=1))
        assert results["ship"].dispositions == [Disposition.PARKED]
        assert results["ship-again"].dispositions == [Disposition.DUPLICATE]
        assert results["create"].dispositions == [Disposition.APPLIED]
        order = runtime.ledger.order(KEY, tenant="acme")
        assert order is not None
        assert order["state"] == "partially_shipped"
        [tshirt] = [line for line in order["lines"] if line["sku"] == "TSHIRT-RED-M"]
        assert (tshirt["shipped"], tshirt["reserved"]) == (1, 1)
        check_invariants(runtime.ledger, accepted=["ship", "ship-again", "create"], direct=2)
    finally:
        runtime.close()
