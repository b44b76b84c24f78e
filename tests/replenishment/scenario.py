"""A fixed two-week demand history and its procurement records, shared by the replenishment tests.

Master data: tenant ``acme``; warehouses ``wh_a`` (priority 1) and ``wh_b`` (priority 2); SKUs
``SKU-A`` (demand all window), ``SKU-S`` (demand only the last 4 days), ``SKU-N`` (stock, never
ordered) and ``SKU-B`` (backorders allowed).

Demand of SKU-A at wh_a, one order a day at 12:00 UTC, 2026-03-02 (Monday) to 03-15 (Sunday)::

    week 1: Mon-Fri 4, Sat 2, Sun 2      week 2: Mon-Fri 4, Sat 2, Sun 6

plus an order of 3 placed and cancelled on 03-10 (net 0). Every SKU-A order ships the same day
except those of 03-14 (2 units) and 03-15 (6 units), which stay allocated.

Procurement (``PROCUREMENT_CSV``), supplier acme_supply for SKU-A to wh_a:

    PO-1 ordered 02-02, expected 02-12, received 02-12: 30 of 30  (10 days, on time, in full)
    PO-2 ordered 02-09, expected 02-19, received 02-23: 30 of 30  (14 days, late, in full)
    PO-3 ordered 02-16, expected 02-26, received 02-28: 20 of 30  (12 days, late, short 10)

supplier beta_parts for SKU-B: PO-4 to wh_b (expected 03-12, its notice ASN-4 now expects 03-18)
and PO-5 to wh_a (expected 03-13, nothing announced or received). Receipts without a PO put 10
SKU-N and 20 SKU-S at wh_a and 5 SKU-B at wh_b.

SKU-B orders on 03-13: B1 (3 units) is allocated at wh_b, the only location with stock; B2 (4)
finds no location with enough and is backordered at the best-ranked one, wh_a.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from canonical import (
    Envelope,
    FulfillmentType,
    Money,
    Order,
    OrderLine,
    OrderRef,
    OrderTotals,
    Shipment,
    ShipmentLine,
    SourceRef,
)
from hub.ledger import Ledger
from hub.replenishment.csv_import import import_procurement

TENANT = "acme"
AS_OF = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
SOURCE = SourceRef(connector="test", instance="replenishment")
WEEK_1 = [4, 4, 4, 4, 4, 2, 2]
WEEK_2 = [4, 4, 4, 4, 4, 2, 6]
FIRST_DAY = date(2026, 3, 2)

PROCUREMENT_CSV = """record,tenant,document,po_number,supplier,location,sku,quantity,date,expected_at
po,acme,PO-1,,acme_supply,wh_a,SKU-A,30,2026-02-02,2026-02-12
po,acme,PO-2,,acme_supply,wh_a,SKU-A,30,2026-02-09,2026-02-19
po,acme,PO-3,,acme_supply,wh_a,SKU-A,30,2026-02-16,2026-02-26
receipt,acme,R-1,PO-1,acme_supply,wh_a,SKU-A,30,2026-02-12,
receipt,acme,R-2,PO-2,acme_supply,wh_a,SKU-A,30,2026-02-23,
receipt,acme,R-3,PO-3,acme_supply,wh_a,SKU-A,20,2026-02-28,
receipt,acme,R-N,,,wh_a,SKU-N,10,2026-02-20,
receipt,acme,R-S,,,wh_a,SKU-S,20,2026-02-20,
receipt,acme,R-B,,,wh_b,SKU-B,5,2026-02-20,
po,acme,PO-4,,beta_parts,wh_b,SKU-B,10,2026-03-05,2026-03-12
asn,acme,ASN-4,PO-4,beta_parts,wh_b,SKU-B,10,2026-03-10,2026-03-18
po,acme,PO-5,,beta_parts,wh_a,SKU-B,8,2026-03-06,2026-03-13
"""


def master_data(ledger: Ledger) -> None:
    for sku in ("SKU-A", "SKU-S", "SKU-N"):
        ledger.upsert_sku(TENANT, sku)
    ledger.upsert_sku(TENANT, "SKU-B", backorder_allowed=True)
    ledger.upsert_location(TENANT, "wh_a", priority=1)
    ledger.upsert_location(TENANT, "wh_b", priority=2)
    ledger.upsert_channel(TENANT, "web")


def write_csv(folder: Path, text: str = PROCUREMENT_CSV, name: str = "procurement.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def order(
    external_id: str,
    sku: str,
    quantity: int,
    at: datetime,
    *,
    version: int = 1,
    cancelled: bool = False,
    promised_by: datetime | None = None,
) -> Envelope:
    lines = [
        OrderLine(
            line_id="1",
            sku=sku,
            title=sku,
            quantity=quantity,
            unit_price=Money(amount=Decimal("10.00"), currency="USD"),
            fulfillment_type=FulfillmentType.STOCKED,
        )
    ]
    payload = Order(
        tenant=TENANT,
        channel="web",
        external_id=external_id,
        currency="USD",
        placed_at=at,
        updated_at=at,
        source_version=version,
        lines=lines,
        totals=OrderTotals.compute(lines, [], currency="USD", taxes_included=False),
        cancelled_at=at if cancelled else None,
        promised_by=promised_by,
    )
    event = "order.cancelled" if cancelled else "order.created"
    return Envelope.wrap(
        payload, event_type=event, source=SOURCE, source_ids=(external_id, version), occurred_at=at
    )


def shipment(external_id: str, sku: str, quantity: int, location: str, at: datetime) -> Envelope:
    payload = Shipment(
        tenant=TENANT,
        shipment_id=f"S-{external_id}",
        order=OrderRef(channel="web", external_id=external_id),
        location=location,
        lines=[ShipmentLine(line_id="1", sku=sku, quantity=quantity)],
        shipped_at=at,
    )
    return Envelope.wrap(
        payload,
        event_type="shipment.created",
        source=SOURCE,
        source_ids=(f"S-{external_id}",),
        occurred_at=at,
    )


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def demand_history() -> list[Envelope]:
    """The customer orders and shipments described in the module docstring, oldest first."""
    envelopes = []
    for offset, quantity in enumerate(WEEK_1 + WEEK_2):
        day = FIRST_DAY + timedelta(days=offset)
        external_id = f"A-{day.isoformat()}"
        envelopes.append(order(external_id, "SKU-A", quantity, noon(day)))
        if day < date(2026, 3, 14):
            envelopes.append(shipment(external_id, "SKU-A", quantity, "wh_a", noon(day)))
        if day == date(2026, 3, 10):
            envelopes.append(order("A-cancelled", "SKU-A", 3, noon(day)))
            envelopes.append(
                order(
                    "A-cancelled",
                    "SKU-A",
                    3,
                    noon(day) + timedelta(hours=1),
                    version=2,
                    cancelled=True,
                )
            )
    for offset in range(4):
        day = date(2026, 3, 12) + timedelta(days=offset)
        envelopes.append(order(f"S-{day.isoformat()}", "SKU-S", 1, noon(day)))
    promise = datetime(2026, 3, 17, tzinfo=UTC)
    envelopes.append(order("B1", "SKU-B", 3, noon(date(2026, 3, 13)), promised_by=promise))
    envelopes.append(order("B2", "SKU-B", 4, noon(date(2026, 3, 13))))
    return envelopes


def build(ledger: Ledger, folder: Path) -> None:
    """The whole scenario in a migrated ledger: master data, procurement CSV, demand."""
    master_data(ledger)
    report = import_procurement(ledger, write_csv(folder))
    assert report.refused == ()
    results = ledger.apply(demand_history())
    assert {r.outcome for r in results} == {"applied"}, [r.reason for r in results]
