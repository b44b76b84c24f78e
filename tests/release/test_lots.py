"""Release of lot-controlled stock: lots picked first-expiry-first-out, committed by the ledger,
handed to the node as released, and an order whose lots expired held with its reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from canonical import Envelope, Lot, MovementKind, StockMovement
from hub.ledger import Ledger
from hub.release import plan_wave
from hub.release.candidates import LedgerReader
from hub.release.run import request_for, run_wave
from tests.release.scenario import SOURCE, TENANT, order_envelope, policy

#: A morning at wh_east (10:00 New York), before the 17:00 standard cut-off.
MORNING = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _lot_receipt(lot: str, quantity: int, expires: str) -> Envelope:
    return Envelope.wrap(
        StockMovement(
            tenant=TENANT,
            movement_id=f"rcv-{lot}",
            kind=MovementKind.RECEIPT,
            sku="SKU-L",
            location="wh_east",
            quantity=quantity,
            lot=Lot(number=lot, expires_at=datetime.fromisoformat(expires)),
            occurred_at=MORNING,
        ),
        event_type="stock.moved",
        source=SOURCE,
        source_ids=(f"rcv-{lot}",),
        occurred_at=MORNING,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    """Lot-controlled SKU-L at wh_east: lot SOON (2 units, expires 2098), LATE (5, 2099) and
    GONE (10, expired in 2020); orders L-1 (4 units, placed first) and L-2 (3)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.migrate(url)
    with Ledger(url) as ledger:
        ledger.upsert_sku(TENANT, "SKU-L", tracking="lot")
        ledger.upsert_location(TENANT, "wh_east", kind="warehouse", priority=1)
        ledger.upsert_channel(TENANT, "web")
        results = ledger.apply(
            [
                _lot_receipt("SOON", 2, "2098-01-01T00:00:00+00:00"),
                _lot_receipt("LATE", 5, "2099-01-01T00:00:00+00:00"),
                _lot_receipt("GONE", 10, "2020-01-01T00:00:00+00:00"),
                order_envelope("L-1", "web", "standard", "2026-03-01T15:00", [("SKU-L", 4)], None),
                order_envelope("L-2", "web", "standard", "2026-03-01T16:00", [("SKU-L", 3)], None),
            ]
        )
    assert {r.outcome for r in results} == {"applied"}
    return url


def _lines(candidates: list, key: str) -> list[tuple[str, int, tuple]]:  # type: ignore[type-arg]
    [candidate] = [c for c in candidates if c.order_key == key]
    return [
        (line.sku, line.quantity, tuple(lot[:2] for lot in line.lots)) for line in candidate.lines
    ]


def test_lots_are_picked_first_expiry_first_and_the_release_commits_them(url: str) -> None:
    rules = policy()
    with LedgerReader(url) as reader:
        candidates = reader.candidates(TENANT, MORNING)
        plan = plan_wave(candidates, rules, MORNING, reader.released_today(TENANT, rules, MORNING))
    assert _lines(candidates, "web:L-1") == [("SKU-L", 4, (("SOON", 2), ("LATE", 2)))]
    assert _lines(candidates, "web:L-2") == [("SKU-L", 3, (("LATE", 3),))]
    with Ledger(url) as ledger:
        outcomes = run_wave(ledger, TENANT, plan, candidates, rules)
    released = {o.order_key: o for o in outcomes if o.order_key.startswith("web:L-")}
    assert {key: o.outcome for key, o in released.items()} == {
        "web:L-1": "applied",
        "web:L-2": "applied",
    }
    with LedgerReader(url) as reader:
        committed = {
            str(lot): int(units)
            for lot, units in reader._query(
                "SELECT lot, committed FROM lot_stock WHERE tenant = ? ORDER BY lot", (TENANT,)
            )
        }
        assert committed == {"GONE": 0, "LATE": 5, "SOON": 2}
        # what the outbox relay hands the node: the lots exactly as released
        event = {
            "order": "web:L-1",
            "location": "wh_east",
            "request_id": released["web:L-1"].request_id,
        }
        request = request_for(reader, TENANT, event, rules, MORNING)
    assert request is not None
    assert [(line.quantity, line.lot.number if line.lot else None) for line in request.lines] == [
        (2, "SOON"),
        (2, "LATE"),
    ]
    assert request.commit_by is not None


def test_an_order_whose_lots_expired_since_allocation_is_held_with_its_reason(url: str) -> None:
    later = datetime(2098, 6, 1, 14, 0, tzinfo=UTC)  # SOON has expired; LATE alone is left
    rules = policy()
    with LedgerReader(url) as reader:
        candidates = reader.candidates(TENANT, later)
        plan = plan_wave(candidates, rules, later, reader.released_today(TENANT, rules, later))
    first = plan.decision("web:L-1", "wh_east")
    second = plan.decision("web:L-2", "wh_east")
    assert first.released  # placed first: LATE covers its 4
    assert (second.released, second.reason.value) == (False, "lot_unavailable")
    assert "1 unexpired units free in its lots for 3" in second.detail
