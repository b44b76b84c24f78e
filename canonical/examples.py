"""One realistic, valid example of every published canonical type.

They are part of the product: the schema tests validate them against ``schemas/``, the docs show
them, and connector authors can copy them. They describe one small story: tenant ``acme`` sells a
T-shirt and a mug on its Shopify store, ships from its east warehouse, and the buyer pays by card.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

from canonical._base import CanonicalModel
from canonical.envelope import Envelope, SourceRef
from canonical.fulfillment import (
    FulfillmentCancellation,
    FulfillmentLine,
    FulfillmentRequest,
    Package,
    Shipment,
    ShipmentLine,
    TrackingEvent,
    TrackingStatus,
)
from canonical.inventory import (
    ChannelAvailability,
    CountLine,
    CycleCount,
    MovementKind,
    StockMovement,
    StockPosition,
)
from canonical.money import Money
from canonical.order import (
    Discount,
    Order,
    OrderLine,
    OrderRef,
    OrderTotals,
    PaymentStatus,
    ShippingLine,
    TaxLine,
)
from canonical.party import Address, Customer
from canonical.payment import PaymentEvent, PaymentEventKind
from canonical.procurement import (
    AdvanceShipNotice,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    SupplierLine,
)
from canonical.returns import ReturnLine, ReturnReason, ReturnRequest, ReturnStatus
from canonical.tax import TaxCommit, TaxJurisdictionDetail, TaxQuote, TaxQuoteLine

__all__ = ["all_examples", "example_envelope", "example_order"]

T0 = datetime(2026, 3, 2, 14, 5, 0, tzinfo=UTC)
TENANT = "acme"
REF = OrderRef(channel="shopify_us", external_id="820982911946154508")


def _usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def _ship_to() -> Address:
    return Address(
        name="Jane Doe",
        line1="123 Main Street",
        city="Springfield",
        region="IL",
        postal_code="62701",
        country="US",
        phone="+1 217 555 0100",
    )


def example_order() -> Order:
    lines = [
        OrderLine(
            line_id="466157049",
            sku="TSHIRT-RED-M",
            product_id="632910392",
            variant_id="39072856",
            title="T-shirt, red, M",
            quantity=2,
            unit_price=_usd("20.00"),
            discounts=[Discount(amount=_usd("4.00"), code="SPRING10", title="10% off")],
            tax_lines=[TaxLine(title="IL State Tax", rate=Decimal("0.0625"), amount=_usd("2.25"))],
        ),
        OrderLine(
            line_id="518995019",
            sku="MUG-WHITE",
            title="Mug, white",
            quantity=1,
            unit_price=_usd("12.50"),
            tax_lines=[TaxLine(title="IL State Tax", rate=Decimal("0.0625"), amount=_usd("0.78"))],
        ),
    ]
    shipping = [ShippingLine(code="standard", title="Standard shipping", price=_usd("5.00"))]
    return Order(
        tenant=TENANT,
        channel=REF.channel,
        external_id=REF.external_id,
        order_number="#1001",
        customer=Customer(external_id="207119551", email="jane@example.com", name="Jane Doe"),
        billing_address=_ship_to(),
        shipping_address=_ship_to(),
        currency="USD",
        placed_at=T0,
        updated_at=T0,
        lines=lines,
        shipping_lines=shipping,
        totals=OrderTotals.compute(lines, shipping, currency="USD", taxes_included=False),
        payment_status=PaymentStatus.PAID,
        service_level="standard",
    )


def example_envelope() -> Envelope:
    order = example_order()
    return Envelope.wrap(
        order,
        event_type="order.created",
        source=SourceRef(connector="shopify", instance="shopify_us"),
        source_ids=(order.external_id, order.updated_at.isoformat()),
        occurred_at=order.updated_at,
        received_at=T0.replace(second=2),
        correlation_id=order.key,
        message_id=uuid.UUID("019cae8d-5c40-7000-8000-000000000001"),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )


@cache
def all_examples() -> dict[str, CanonicalModel]:
    """An example per published schema name."""
    examples: list[CanonicalModel] = [
        example_order(),
        example_envelope(),
        StockMovement(
            tenant=TENANT,
            movement_id="mv-0001",
            kind=MovementKind.RECEIPT,
            sku="TSHIRT-RED-M",
            location="wh_east",
            quantity=100,
            reference="PO-2026-0042",
            occurred_at=T0,
        ),
        StockPosition(
            tenant=TENANT,
            sku="TSHIRT-RED-M",
            location="wh_east",
            on_hand=98,
            allocated=2,
            safety_stock=5,
            as_of=T0,
        ),
        ChannelAvailability(
            tenant=TENANT, sku="TSHIRT-RED-M", channel="amazon_us", available=81, as_of=T0
        ),
        CycleCount(
            tenant=TENANT,
            count_id="cc-2026-03-02-east",
            location="wh_east",
            as_of=T0,
            lines=[CountLine(sku="TSHIRT-RED-M", quantity=97)],
            source="wms",
        ),
        FulfillmentRequest(
            tenant=TENANT,
            request_id="fr-0001",
            order=REF,
            location="wh_east",
            lines=[FulfillmentLine(line_id="466157049", sku="TSHIRT-RED-M", quantity=2)],
            ship_to=_ship_to(),
            service_level="standard",
            requested_at=T0,
        ),
        FulfillmentCancellation(
            tenant=TENANT,
            request_id="fr-0001",
            order=REF,
            location="wh_east",
            reason="order cancelled",
            requested_at=T0,
            cancelled_at=T0,
        ),
        Shipment(
            tenant=TENANT,
            shipment_id="sh-0001",
            order=REF,
            location="wh_east",
            request_id="fr-0001",
            carrier="USPS",
            service="Priority",
            packages=[Package(tracking_number="9400100000000000000000", weight_grams=450)],
            lines=[ShipmentLine(line_id="466157049", sku="TSHIRT-RED-M", quantity=2)],
            shipped_at=T0,
        ),
        TrackingEvent(
            tenant=TENANT,
            tracking_number="9400100000000000000000",
            carrier="USPS",
            status=TrackingStatus.IN_TRANSIT,
            carrier_status="in_transit",
            city="Chicago",
            region="IL",
            country="US",
            occurred_at=T0,
        ),
        TaxQuote(
            tenant=TENANT,
            order=REF,
            provider="avalara",
            document_code="acme-1001",
            currency="USD",
            lines=[
                TaxQuoteLine(
                    line_id="466157049",
                    taxable_amount=_usd("36.00"),
                    tax=_usd("2.25"),
                    details=[
                        TaxJurisdictionDetail(
                            jurisdiction="ILLINOIS",
                            jurisdiction_type="State",
                            rate=Decimal("0.0625"),
                            tax=_usd("2.25"),
                            taxable=_usd("36.00"),
                        )
                    ],
                ),
                TaxQuoteLine(line_id="518995019", taxable_amount=_usd("12.50"), tax=_usd("0.78")),
            ],
            total_tax=_usd("3.03"),
            quoted_at=T0,
        ),
        TaxCommit(
            tenant=TENANT,
            order=REF,
            provider="avalara",
            document_code="acme-1001",
            total_tax=_usd("3.03"),
            committed_at=T0,
        ),
        PaymentEvent(
            tenant=TENANT,
            kind=PaymentEventKind.CAPTURED,
            provider="stripe",
            payment_id="pi_3MtwBwLkdIwHu7ix28a3tqPa",
            order=REF,
            amount=_usd("56.53"),
            occurred_at=T0,
        ),
        ReturnRequest(
            tenant=TENANT,
            rma_id="rma-0001",
            order=REF,
            status=ReturnStatus.REQUESTED,
            location="wh_east",
            lines=[
                ReturnLine(
                    line_id="466157049",
                    sku="TSHIRT-RED-M",
                    quantity=1,
                    reason=ReturnReason.SIZE_OR_FIT,
                )
            ],
            requested_at=T0,
            updated_at=T0,
        ),
        PurchaseOrder(
            tenant=TENANT,
            po_number="PO-2026-0042",
            supplier="cottonco",
            location="wh_east",
            currency="USD",
            lines=[PurchaseOrderLine(sku="TSHIRT-RED-M", quantity=100, unit_cost=_usd("6.10"))],
            ordered_at=T0,
            expected_at=T0.replace(day=20),
        ),
        AdvanceShipNotice(
            tenant=TENANT,
            asn_id="asn-77",
            po_number="PO-2026-0042",
            supplier="cottonco",
            location="wh_east",
            lines=[SupplierLine(sku="TSHIRT-RED-M", quantity=100)],
            shipped_at=T0,
            expected_at=T0.replace(day=18),
        ),
        Receipt(
            tenant=TENANT,
            receipt_id="rcv-0009",
            po_number="PO-2026-0042",
            asn_id="asn-77",
            supplier="cottonco",
            location="wh_east",
            lines=[ReceiptLine(sku="TSHIRT-RED-M", quantity=100)],
            received_at=T0.replace(day=19),
        ),
    ]
    by_name = {type(example).schema_name: example for example in examples}
    assert all(name is not None for name in by_name)
    return {str(name): example for name, example in by_name.items()}
