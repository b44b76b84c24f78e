"""Reservation, sourcing and outbox behaviour under non-default policies (both stores)."""

from __future__ import annotations

from typing import Any

import pytest

from canonical import PaymentEventKind
from hub.ledger import LedgerPolicy, ReservationPolicy, SourcingPolicy, orders
from hub.ledger.sourcing import LocationInfo, choose_location, rank_locations
from hub.ledger.work import Work
from tests.ledger import factory as f
from tests.ledger.conftest import open_ledger


def test_reserve_at_payment_waits_for_the_capture(ledger_url: str) -> None:
    policy = LedgerPolicy(reservation=ReservationPolicy(reserve_at="payment"))
    with open_ledger(ledger_url, policy) as ledger:
        f.setup_master_data(ledger)
        ledger.apply([f.receipt("r1", "SKU-A", "wh_a", 5), f.order("1", [("l1", "SKU-A", 2)])])
        assert ledger.positions(f.TENANT, sku="SKU-A")[0].allocated == 0
        assert ledger.order("web:1")["state"] == "captured"  # type: ignore[index]
        ledger.apply([f.payment(PaymentEventKind.CAPTURED, "1", "20.00", "ch_1")])
        assert ledger.positions(f.TENANT, sku="SKU-A")[0].allocated == 2
        assert ledger.order("web:1")["state"] == "allocated"  # type: ignore[index]
        # an authorisation is a payment too, and a later snapshot still saying "pending" does not
        # undo it
        ledger.apply([f.order("2", [("l1", "SKU-A", 1)])])
        ledger.apply([f.payment(PaymentEventKind.AUTHORIZED, "2", "10.00", "au_2")])
        ledger.apply([f.order("2", [("l1", "SKU-A", 1)], version=2, event_type="order.updated")])
        assert ledger.order("web:2")["state"] == "allocated"  # type: ignore[index]
        assert ledger.positions(f.TENANT, sku="SKU-A")[0].allocated == 3


@pytest.mark.parametrize(
    ("mode", "allocated", "state"), [("split", 2, "allocated"), ("hold", 0, "on_hold")]
)
def test_mixed_orders_split_or_hold(ledger_url: str, mode: str, allocated: int, state: str) -> None:
    policy = LedgerPolicy(reservation=ReservationPolicy(mixed_orders=mode))  # type: ignore[arg-type]
    with open_ledger(ledger_url, policy) as ledger:
        f.setup_master_data(ledger)
        ledger.apply([f.receipt("r1", "SKU-A", "wh_a", 5)])
        mixed = f.order("1", [("l1", "SKU-A", 2), ("l2", "SKU-B", 1)], special=frozenset({"l2"}))
        ledger.apply([mixed])
        view = ledger.order("web:1")
        assert view is not None
        assert ledger.positions(f.TENANT, sku="SKU-A")[0].allocated == allocated
        assert view["state"] == state
        statuses = {line["line_id"]: line["status"] for line in view["lines"]}
        assert statuses == {
            "l1": "allocated" if mode == "split" else "on_hold",
            "l2": "awaiting_supply",
        }


def test_sourcing_prefers_region_then_own_then_priority(ledger_url: str) -> None:
    with open_ledger(ledger_url) as ledger:
        f.setup_master_data(ledger, locations=())
        ledger.upsert_location(f.TENANT, "east", region="NY", priority=5)
        ledger.upsert_location(f.TENANT, "west", region="CA", priority=1)
        ledger.upsert_location(f.TENANT, "tpl_east", kind="3pl", region="NY", priority=1)
        ledger.apply(
            [f.receipt(f"r{loc}", "SKU-A", loc, 5) for loc in ("east", "west", "tpl_east")]
        )
        ledger.apply(
            [f.order("ny", [("l1", "SKU-A", 2)], region="NY"), f.order("any", [("l1", "SKU-A", 2)])]
        )
        ny, anywhere = ledger.order("web:ny"), ledger.order("web:any")
        assert ny is not None
        assert anywhere is not None
        assert ny["lines"][0]["location"] == "east"  # region match, own warehouse before the 3PL
        assert anywhere["lines"][0]["location"] == "west"  # no region: priority 1 own warehouse
        assert "east" in ny["sourcing"][0]["reason"]


def test_choose_location_reasons() -> None:
    ranked = rank_locations(
        [
            LocationInfo("a", "warehouse", None, 2),
            LocationInfo("b", "3pl", None, 1),
            LocationInfo("s", "supplier", None, 0),
        ],
        None,
        SourcingPolicy(prefer="3pl"),
    )
    assert [r.location for r in ranked] == ["b", "a"]
    decision = choose_location(ranked, {"a": 5, "b": 1}, 3, channel_available=6, backorder=False)
    assert (decision.location, decision.outcome) == ("a", "allocated")
    refused = choose_location(ranked, {"a": 5}, 3, channel_available=2, backorder=False)
    assert refused.outcome == "refused"
    assert "channel may promise only 2" in refused.reason
    backordered = choose_location(ranked, {}, 3, channel_available=0, backorder=True)
    assert (backordered.location, backordered.outcome) == ("b", "backordered")


def test_failed_message_leaves_no_outbox_rows(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message that fails after writing its events rolls them back with its effects; the
    batch's other messages still commit exactly once."""
    original = orders._update_state

    def fail_for_poison(work: Work, tenant: str, key: str, *args: Any, **kwargs: Any) -> None:
        if key == "web:poison":
            raise RuntimeError("boom after the outbox write")
        original(work, tenant, key, *args, **kwargs)

    monkeypatch.setattr(orders, "_update_state", fail_for_poison)
    with open_ledger(ledger_url) as ledger:
        f.setup_master_data(ledger)
        results = ledger.apply(
            [
                f.receipt("r1", "SKU-A", "wh_a", 5),
                f.order("poison", [("l1", "SKU-A", 2)]),
                f.order("good", [("l1", "SKU-A", 1)]),
            ]
        )
        assert [r.outcome for r in results] == ["applied", "rejected", "applied"]
        assert results[1].code == "internal_error"
        assert "boom" in results[1].reason
        events = ledger.unpublished(1000)
        allocated = [e.payload["order"] for e in events if e.event_type == "order.allocated"]
        assert allocated == ["web:good"]
        atp = [e.payload for e in events if e.event_type == "availability.changed"]
        assert {(p["channel"], p["available"]) for p in atp} == {("web", 4), ("market", 4)}
        assert ledger.positions(f.TENANT, sku="SKU-A")[0].allocated == 1
        assert ledger.order("web:poison") is None
        assert ledger.processed_count() == 2


def test_safety_stock_is_held_back(ledger_url: str) -> None:
    with open_ledger(ledger_url) as ledger:
        f.setup_master_data(ledger)
        ledger.apply([f.receipt("r1", "SKU-A", "wh_a", 5)])
        ledger.set_safety_stock(f.TENANT, "SKU-A", "wh_a", 4)
        assert {a.available for a in ledger.availability(f.TENANT, sku="SKU-A")} == {1}
        ledger.apply([f.order("1", [("l1", "SKU-A", 2)])])
        assert ledger.order("web:1")["lines"][0]["status"] == "refused"  # type: ignore[index]
        [position] = ledger.positions(f.TENANT, sku="SKU-A")
        assert (position.safety_stock, position.available_to_promise) == (4, 1)
