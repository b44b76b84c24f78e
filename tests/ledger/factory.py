"""Builders of canonical envelopes for the ledger tests (short, explicit, deterministic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from canonical import (
    CountLine,
    CycleCount,
    Disposition,
    Envelope,
    FulfillmentType,
    Money,
    MovementKind,
    Order,
    OrderLine,
    OrderRef,
    OrderTotals,
    PaymentEvent,
    PaymentEventKind,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    Shipment,
    ShipmentLine,
    SourceRef,
    StockMovement,
    TaxCommit,
)
from hub.ledger import Ledger

TENANT = "acme"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SOURCE = SourceRef(connector="test", instance="test_1")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def wrap(payload: object, event_type: str, *ids: str | int) -> Envelope:
    occurred = getattr(payload, "occurred_at", None) or getattr(payload, "updated_at", None) or T0
    return Envelope.wrap(
        payload,  # type: ignore[arg-type]
        event_type=event_type,
        source=SOURCE,
        source_ids=tuple(ids) or ("x",),
        occurred_at=occurred,
    )


def setup_master_data(
    ledger: Ledger,
    *,
    skus: tuple[str, ...] = ("SKU-A", "SKU-B"),
    locations: tuple[str, ...] = ("wh_a", "wh_b"),
    channels: tuple[str, ...] = ("web", "market"),
    backorder: tuple[str, ...] = (),
) -> None:
    for sku in skus:
        ledger.upsert_sku(TENANT, sku, backorder_allowed=sku in backorder)
    for priority, location in enumerate(locations, start=1):
        ledger.upsert_location(TENANT, location, priority=priority)
    for channel in channels:
        ledger.upsert_channel(TENANT, channel)


def movement(
    movement_id: str,
    kind: MovementKind,
    sku: str,
    location: str,
    quantity: int,
    *,
    counterpart: str | None = None,
    disposition: Disposition | None = None,
) -> Envelope:
    payload = StockMovement(
        tenant=TENANT,
        movement_id=movement_id,
        kind=kind,
        sku=sku,
        location=location,
        quantity=quantity,
        counterpart_location=counterpart,
        disposition=disposition,
        occurred_at=T0,
    )
    return wrap(payload, "stock.moved", movement_id)


def receipt(movement_id: str, sku: str, location: str, quantity: int) -> Envelope:
    return movement(movement_id, MovementKind.RECEIPT, sku, location, quantity)


def order(
    external_id: str,
    lines: list[tuple[str, str, int]],
    *,
    channel: str = "web",
    version: int = 1,
    event_type: str = "order.created",
    special: frozenset[str] = frozenset(),
    region: str | None = None,
    payment_status: str = "pending",
) -> Envelope:
    """``lines`` are (line_id, sku, quantity)."""
    from canonical import Address

    order_lines = [
        OrderLine(
            line_id=line_id,
            sku=sku,
            title=sku,
            quantity=quantity,
            unit_price=Money(amount=Decimal("10.00"), currency="USD"),
            fulfillment_type=FulfillmentType.SPECIAL_ORDER
            if line_id in special
            else FulfillmentType.STOCKED,
        )
        for line_id, sku, quantity in lines
    ]
    payload = Order(
        tenant=TENANT,
        channel=channel,
        external_id=external_id,
        currency="USD",
        placed_at=T0,
        updated_at=at(version),
        source_version=version,
        lines=order_lines,
        totals=OrderTotals.compute(order_lines, [], currency="USD", taxes_included=False),
        cancelled_at=at(version) if event_type == "order.cancelled" else None,
        shipping_address=Address(region=region, country="US") if region else None,
        payment_status=payment_status,
    )
    return wrap(payload, event_type, external_id, version)


def shipment(
    shipment_id: str,
    external_id: str,
    location: str,
    lines: list[tuple[str, str, int]],
    *,
    channel: str = "web",
) -> Envelope:
    payload = Shipment(
        tenant=TENANT,
        shipment_id=shipment_id,
        order=OrderRef(channel=channel, external_id=external_id),
        location=location,
        lines=[ShipmentLine(line_id=line_id, sku=sku, quantity=qty) for line_id, sku, qty in lines],
        shipped_at=at(30),
    )
    return wrap(payload, "shipment.created", shipment_id)


def payment(
    kind: PaymentEventKind, external_id: str, amount: str, transaction: str, *, channel: str = "web"
) -> Envelope:
    payload = PaymentEvent(
        tenant=TENANT,
        kind=kind,
        provider="stripe",
        payment_id=f"pi_{external_id}",
        transaction_id=transaction,
        order=OrderRef(channel=channel, external_id=external_id),
        amount=Money(amount=Decimal(amount), currency="USD"),
        occurred_at=at(5),
    )
    return wrap(payload, f"payment.{kind.value}", transaction)


def return_event(
    rma_id: str,
    external_id: str,
    event_type: str,
    lines: list[tuple[str, int, Disposition | None]],
    *,
    location: str = "wh_a",
    channel: str = "web",
) -> Envelope:
    status = {
        "return.requested": ReturnStatus.REQUESTED,
        "return.received": ReturnStatus.RECEIVED,
        "return.inspected": ReturnStatus.INSPECTED,
    }[event_type]
    payload = ReturnRequest(
        tenant=TENANT,
        rma_id=rma_id,
        order=OrderRef(channel=channel, external_id=external_id),
        status=status,
        location=location,
        lines=[ReturnLine(line_id=lid, quantity=qty, disposition=disp) for lid, qty, disp in lines],
        requested_at=at(40),
        updated_at=at(41),
    )
    return wrap(payload, event_type, rma_id, event_type)


def count(count_id: str, location: str, as_of: datetime, lines: dict[str, int]) -> Envelope:
    payload = CycleCount(
        tenant=TENANT,
        count_id=count_id,
        location=location,
        as_of=as_of,
        lines=[CountLine(sku=sku, quantity=qty) for sku, qty in lines.items()],
        source="wms",
    )
    return wrap(payload, "stock.counted", count_id)


def tax_commit(external_id: str, *, channel: str = "web") -> Envelope:
    payload = TaxCommit(
        tenant=TENANT,
        order=OrderRef(channel=channel, external_id=external_id),
        provider="avalara",
        document_code=f"doc-{external_id}",
        total_tax=Money(amount=Decimal("0.00"), currency="USD"),
        committed_at=at(50),
    )
    return wrap(payload, "tax.committed", external_id)
