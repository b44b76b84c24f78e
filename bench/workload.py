"""A deterministic mixed workload of canonical messages for benchmarks.

Orders from three channels, stock receipts, shipments, tracking events, payments and returns, in
the proportions of a trading day (orders dominate). The same seed gives the same messages, so two
runs, or the hub and the floor in one run, process identical work.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from canonical import (
    Envelope,
    Money,
    MovementKind,
    Order,
    OrderLine,
    OrderRef,
    OrderTotals,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatus,
    Shipment,
    ShipmentLine,
    SourceRef,
    StockMovement,
    TaxLine,
    TrackingEvent,
    TrackingStatus,
)
from canonical.party import Address, Customer

__all__ = ["CHANNELS", "LOCATIONS", "SKUS", "TENANT", "load_master_data", "mixed_workload"]

TENANT = "bench"
CHANNELS = ("shopify_us", "amazon_us", "woo_eu")
LOCATIONS = ("wh_east", "wh_west")
SKUS = tuple(f"SKU-{n:04d}" for n in range(200))
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def load_master_data(ledger: Any) -> None:
    """The workload's locations, channels and SKUs (backorders allowed, so every order
    reserves), into a ``hub.ledger.Ledger``."""
    for location in LOCATIONS:
        ledger.upsert_location(TENANT, location)
    for channel in CHANNELS:
        ledger.upsert_channel(TENANT, channel)
    for sku in SKUS:
        ledger.upsert_sku(TENANT, sku, backorder_allowed=True)


def _order(rng: random.Random, number: int, at: datetime) -> Order:
    channel = CHANNELS[number % len(CHANNELS)]
    lines = []
    for index in range(rng.randint(1, 3)):
        price = Money.from_minor_units(rng.randint(500, 9_000), "USD")
        quantity = rng.randint(1, 3)
        tax = price.multiply(Decimal("0.07")) * quantity
        lines.append(
            OrderLine(
                line_id=f"{number}-{index}",
                sku=rng.choice(SKUS),
                title="Benchmark item",
                quantity=quantity,
                unit_price=price,
                tax_lines=[TaxLine(title="Sales tax", rate=Decimal("0.07"), amount=tax)],
            )
        )
    address = Address(name="Bench Buyer", line1="1 Test Way", city="Springfield", country="US")
    return Order(
        tenant=TENANT,
        channel=channel,
        external_id=str(5_000_000_000_000 + number),
        order_number=f"#{number}",
        customer=Customer(email=f"buyer{number}@example.com"),
        shipping_address=address,
        currency="USD",
        placed_at=at,
        updated_at=at,
        lines=lines,
        totals=OrderTotals.compute(lines, [], currency="USD", taxes_included=False),
        payment_status=PaymentStatus.PAID,
    )


def mixed_workload(count: int, seed: int = 7) -> Iterator[Envelope]:
    """``count`` envelopes of mixed types; deterministic for a seed."""
    rng = random.Random(seed)
    orders: list[Order] = []
    for number in range(count):
        at = T0 + timedelta(seconds=number)
        roll = rng.random()
        source = SourceRef(connector="bench", instance="bench")
        payload: object
        if roll < 0.45 or not orders:
            order = _order(rng, number, at)
            orders.append(order)
            event, payload, ids = "order.created", order, (order.external_id, at.isoformat())
        elif roll < 0.65:
            payload = StockMovement(
                tenant=TENANT,
                movement_id=f"rcv-{number}",
                kind=MovementKind.RECEIPT,
                sku=rng.choice(SKUS),
                location=rng.choice(LOCATIONS),
                quantity=rng.randint(10, 100),
                occurred_at=at,
            )
            event, ids = "stock.moved", (f"rcv-{number}",)
        elif roll < 0.78:
            order = rng.choice(orders)
            payload = Shipment(
                tenant=TENANT,
                shipment_id=f"sh-{number}",
                order=OrderRef(channel=order.channel, external_id=order.external_id),
                location=rng.choice(LOCATIONS),
                carrier="UPS",
                lines=[
                    ShipmentLine(
                        line_id=line.line_id, sku=line.sku or "SKU-0000", quantity=line.quantity
                    )
                    for line in order.lines
                ],
                shipped_at=at,
            )
            event, ids = "shipment.created", (f"sh-{number}",)
        elif roll < 0.88:
            payload = TrackingEvent(
                tenant=TENANT,
                tracking_number=f"1Z{number:016d}",
                carrier="UPS",
                status=rng.choice(list(TrackingStatus)),
                occurred_at=at,
            )
            event, ids = "tracking.updated", (f"1Z{number:016d}", at.isoformat())
        else:
            order = rng.choice(orders)
            payload = PaymentEvent(
                tenant=TENANT,
                kind=PaymentEventKind.CAPTURED,
                provider="stripe",
                payment_id=f"pi_{number}",
                order=OrderRef(channel=order.channel, external_id=order.external_id),
                amount=order.totals.total
                if order.totals.total.amount > 0
                else Money(amount="1.00", currency="USD"),
                occurred_at=at,
            )
            event, ids = "payment.captured", (f"pi_{number}",)
        yield Envelope.wrap(
            payload,  # type: ignore[arg-type]
            event_type=event,
            source=source,
            source_ids=ids,
            occurred_at=at,
            received_at=at,
        )
