"""A day at acme: two own warehouses and a 3PL, each in its own time zone, with cut-offs and
limited capacity. Monday 2 March 2026 (New York UTC-5, Chicago UTC-6, Los Angeles UTC-8).

Each SKU is stocked at one node only, so sourcing sends every order where the test expects it:
SKU-E to wh_east, SKU-W to wh_west, SKU-T to the 3PL shipbob_tx; SKU-Z is stocked nowhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from canonical import (
    Address,
    Envelope,
    Money,
    MovementKind,
    Order,
    OrderLine,
    OrderTotals,
    SourceRef,
    StockMovement,
)
from hub.config import validate_text
from hub.ledger import Ledger
from hub.release import Candidate, ReleasePolicy, WavePlan, plan_wave
from hub.release.candidates import LedgerReader

TENANT = "acme"
SOURCE = SourceRef(connector="test", instance="test_1")
MORNING = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 New York, 09:00 Chicago, 07:00 LA
AFTERNOON = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # 15:30 New York, 14:30 Chicago, 12:30 LA
STOCK = {"SKU-E": "wh_east", "SKU-W": "wh_west", "SKU-T": "shipbob_tx"}

DEPLOYMENT = """\
version: 1
tenants:
  acme:
    channels:
      web: {kind: shopify}
      amazon: {kind: amazon}
    locations:
      wh_east: {kind: warehouse, priority: 1}
      wh_west: {kind: warehouse, priority: 2}
      shipbob_tx: {kind: 3pl, priority: 3}
    release:
      service_levels:
        express: {ship_within_days: 0, transit_days: 1}
        standard: {ship_within_days: 2, transit_days: 2}
      channel_weights: {amazon: 2}
      locations:
        wh_east:
          timezone: America/New_York
          pick_minutes: 60
          cutoffs:
            express: {time: "16:00", carrier: ups}
            standard: {time: "17:00", carrier: usps}
          capacity: {orders_per_wave: 3, units_per_wave: 10}
        wh_west:
          timezone: America/Los_Angeles
          cutoffs:
            "*": {time: "15:00", carrier: fedex}
          capacity: {orders_per_day: 2}
        shipbob_tx:
          timezone: America/Chicago
          pick_minutes: 30
          cutoffs:
            express: {time: "14:00", carrier: ups}
            standard: {time: "16:00", carrier: fedex}
          capacity: {orders_per_wave: 4, units_per_day: 8}
"""

#: (id, channel, service level, placed at (UTC), [(sku, quantity)], promised_by)
MORNING_ORDERS: list[tuple[str, str, str, str, list[tuple[str, int]], str | None]] = [
    ("E-OLD", "web", "standard", "2026-02-28T15:00", [("SKU-E", 1)], None),
    ("E-S1", "amazon", "standard", "2026-03-02T06:00", [("SKU-E", 9)], None),
    ("E-S2", "amazon", "standard", "2026-03-02T07:00", [("SKU-E", 2)], None),
    ("E-S3", "amazon", "standard", "2026-03-02T08:00", [("SKU-E", 1)], None),
    ("E-S4", "amazon", "standard", "2026-03-02T09:00", [("SKU-E", 1)], None),
    ("E-X1", "web", "express", "2026-03-02T14:00", [("SKU-E", 1)], None),
    ("E-P1", "web", "standard", "2026-03-01T15:00", [("SKU-E", 1), ("SKU-Z", 1)], None),
    ("W-1", "web", "standard", "2026-03-01T18:00", [("SKU-W", 1)], None),
    ("W-2", "amazon", "standard", "2026-03-02T14:00", [("SKU-W", 1)], None),
    ("W-3", "web", "standard", "2026-03-02T14:30", [("SKU-W", 1)], "2026-03-04T20:00"),
    ("T-1", "web", "standard", "2026-03-01T16:00", [("SKU-T", 5)], None),
    ("T-2", "web", "standard", "2026-03-01T17:00", [("SKU-T", 2)], None),
    ("T-3", "web", "standard", "2026-03-02T13:00", [("SKU-T", 3)], None),
]
AFTERNOON_ORDERS: list[tuple[str, str, str, str, list[tuple[str, int]], str | None]] = [
    ("E-X2", "web", "express", "2026-03-02T20:10", [("SKU-E", 1)], None),
    ("W-4", "web", "standard", "2026-03-02T19:00", [("SKU-W", 1)], None),
    ("T-4", "web", "express", "2026-03-02T19:00", [("SKU-T", 1)], None),
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def order_envelope(
    external_id: str,
    channel: str,
    level: str,
    placed: str,
    lines: list[tuple[str, int]],
    promised: str | None,
) -> Envelope:
    order_lines = [
        OrderLine(
            line_id=str(index),
            sku=sku,
            title=sku,
            quantity=quantity,
            unit_price=Money(amount=Decimal("10.00"), currency="USD"),
        )
        for index, (sku, quantity) in enumerate(lines, start=1)
    ]
    payload = Order(
        tenant=TENANT,
        channel=channel,
        external_id=external_id,
        currency="USD",
        placed_at=_utc(placed),
        updated_at=_utc(placed),
        source_version=1,
        lines=order_lines,
        totals=OrderTotals.compute(order_lines, [], currency="USD", taxes_included=False),
        shipping_address=Address(city="Springfield", postal_code="12345", country="US"),
        service_level=level,
        promised_by=_utc(promised) if promised else None,
    )
    return Envelope.wrap(
        payload,
        event_type="order.created",
        source=SOURCE,
        source_ids=(external_id, 1),
        occurred_at=_utc(placed),
    )


def policy() -> ReleasePolicy:
    deployment, problems = validate_text(DEPLOYMENT, check_secrets=False)
    assert deployment is not None, problems
    assert not problems
    return deployment.tenants[TENANT].release


def write_deployment(folder: Path) -> Path:
    path = folder / "deploy.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    return path


def build_day(url: str) -> None:
    """Master data, stock at each node, and the orders waiting at the morning wave."""
    Ledger.migrate(url)
    with Ledger(url) as ledger:
        for sku in (*STOCK, "SKU-Z"):
            ledger.upsert_sku(TENANT, sku)
        for priority, (location, kind) in enumerate(
            (("wh_east", "warehouse"), ("wh_west", "warehouse"), ("shipbob_tx", "3pl")), start=1
        ):
            ledger.upsert_location(TENANT, location, kind=kind, priority=priority)
        for channel in ("web", "amazon"):
            ledger.upsert_channel(TENANT, channel)
        receipts = [
            Envelope.wrap(
                StockMovement(
                    tenant=TENANT,
                    movement_id=f"rcv-{sku}",
                    kind=MovementKind.RECEIPT,
                    sku=sku,
                    location=location,
                    quantity=100,
                    occurred_at=MORNING,
                ),
                event_type="stock.moved",
                source=SOURCE,
                source_ids=(f"rcv-{sku}",),
                occurred_at=MORNING,
            )
            for sku, location in STOCK.items()
        ]
        results = ledger.apply([*receipts, *(order_envelope(*o) for o in MORNING_ORDERS)])
        assert {r.outcome for r in results} == {"applied"}, results


def add_afternoon_orders(url: str) -> None:
    with Ledger(url) as ledger:
        results = ledger.apply([order_envelope(*o) for o in AFTERNOON_ORDERS])
        assert {r.outcome for r in results} == {"applied"}, results


def plan_at(
    url: str, now: datetime, rules: ReleasePolicy | None = None
) -> tuple[list[Candidate], WavePlan]:
    """The candidates and the plan the ledger gives at ``now``."""
    rules = rules or policy()
    with LedgerReader(url) as reader:
        candidates = reader.candidates(TENANT)
        usage = reader.released_today(TENANT, rules, now)
    return candidates, plan_wave(candidates, rules, now, usage)


def summary(plan: WavePlan) -> dict[str, dict[str, Any]]:
    """Per location: the released orders in rank order, and each held order's reason."""
    return {
        name: {
            "wave": wave.wave_id,
            "in": [(d.order_key, d.reason.value) for d in wave.released],
            "out": {d.order_key: d.reason.value for d in wave.held},
        }
        for name, wave in plan.waves.items()
    }
