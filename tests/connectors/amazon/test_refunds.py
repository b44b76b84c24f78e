"""Amazon refunds from the Finances API: RefundEventList items to payment.refunded."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from canonical.envelope import derive_idempotency_key
from canonical.money import Money
from canonical.order import Order
from canonical.payment import PaymentEvent, PaymentEventKind
from connectors.amazon import AmazonConnector
from connectors.amazon.mapping import refund_events
from connectors.base import dump_payload, load_payload
from connectors.errors import TranslationError
from tests.connectors.amazon.test_conformance import CTX, FIXTURES

ORDER_ID = "113-5678901-2345678"


def page() -> Any:
    """The documented listFinancialEvents response (two refunds and a shipment)."""
    return load_payload((FIXTURES / "listFinancialEvents_refunds.json").read_bytes())


def refund(index: int = 0) -> Any:
    return page()["payload"]["FinancialEvents"]["RefundEventList"][index]


def payments(event: Any, ctx: Any = CTX) -> list[Any]:
    return AmazonConnector.translate("refundEvent", event, ctx)


def test_a_refund_event_is_payment_refunded_of_what_went_back_to_the_buyer() -> None:
    (envelope,) = payments(refund())
    assert envelope.event_type == "payment.refunded"
    payment = envelope.payload
    assert isinstance(payment, PaymentEvent)
    assert payment.kind is PaymentEventKind.REFUNDED
    # principal 19.99 + tax 2.05 + shipping 5.99 - promotion taken back 2.00 (mug)
    # + principal 14.00 + tax 1.44 (t-shirt); fees and withheld tax are not the buyer's money
    assert payment.amount == Money(amount=Decimal("41.47"), currency="USD")
    assert payment.provider == "amazon"
    assert payment.payment_id == f"order-{ORDER_ID}"
    assert payment.transaction_id == "70938460236314+70938460236315"
    assert payment.occurred_at.isoformat() == "2026-03-06T18:22:41.512000+00:00"
    assert envelope.correlation_id == f"amazon_us:{ORDER_ID}"


def test_the_refund_is_booked_against_the_order_the_order_mapping_produces() -> None:
    orders = [
        e.payload
        for e in AmazonConnector.translate(
            "getOrders",
            load_payload((FIXTURES / "getOrders_with_items.json").read_bytes()),
            CTX,
        )
    ]
    (order,) = [o for o in orders if isinstance(o, Order) and o.external_id == ORDER_ID]
    (envelope,) = payments(refund())
    assert envelope.payload.order == order.ref
    assert envelope.payload.order.key == order.key == f"amazon_us:{ORDER_ID}"
    assert envelope.payload.amount.currency == order.currency


def test_the_second_refund_of_the_page_is_its_own_payment() -> None:
    (envelope,) = payments(refund(1))
    assert envelope.payload.amount == Money(amount=Decimal("12.50"), currency="USD")
    assert envelope.payload.order.external_id == "114-3941689-8772232"
    (first,) = payments(refund())
    assert envelope.idempotency_key != first.idempotency_key


def test_the_key_is_stable_across_re_polls_and_redeliveries() -> None:
    (first,) = payments(refund())
    # read again by a later poll whose window overlaps, through the hub's JSON round trip
    later = replace(CTX, received_at=CTX.received_at + timedelta(minutes=15))
    (again,) = payments(load_payload(dump_payload(refund())), later)
    assert again.idempotency_key == first.idempotency_key
    assert again.message_id != first.message_id  # another delivery, the same fact
    # the same event with its items listed in another order, or PostedDate in another offset
    reordered = refund()
    reordered["ShipmentItemAdjustmentList"].reverse()
    reordered["PostedDate"] = "2026-03-06T19:22:41.512+01:00"
    (same,) = payments(reordered)
    assert same.idempotency_key == first.idempotency_key
    assert first.idempotency_key == derive_idempotency_key(
        CTX.tenant,
        CTX.instance,
        "payment.refunded",
        "refund",
        ORDER_ID,
        "2026-03-06T18:22:41.512000Z",
        "70938460236314",
        "70938460236315",
    )


def test_a_later_refund_of_the_same_items_is_a_new_fact() -> None:
    (first,) = payments(refund())
    later = refund()
    later["PostedDate"] = "2026-03-09T09:15:02Z"
    (second,) = payments(later)
    assert second.idempotency_key != first.idempotency_key


def test_an_event_that_returns_nothing_to_the_buyer_emits_nothing() -> None:
    fees_only = refund(1)
    for item in fees_only["ShipmentItemAdjustmentList"]:
        item["ItemChargeAdjustmentList"] = [
            {"ChargeType": "Tax", "ChargeAmount": {"CurrencyCode": "USD", "CurrencyAmount": 0}},
            {
                "ChargeType": "MarketplaceFacilitatorTax-Principal",
                "ChargeAmount": {"CurrencyCode": "USD", "CurrencyAmount": Decimal("-1.00")},
            },
        ]
    assert payments(fees_only) == []


def _charge(event: Any, amount: str, code: str = "USD", index: int = 0) -> Any:
    event = copy.deepcopy(event)
    charges = event["ShipmentItemAdjustmentList"][0]["ItemChargeAdjustmentList"]
    charges[index]["ChargeAmount"] = {"CurrencyCode": code, "CurrencyAmount": Decimal(amount)}
    return event


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("AmazonOrderId"), "AmazonOrderId"),
        (lambda e: e.update(PostedDate="2026-03-06T18:22:41"), "PostedDate"),
        (lambda e: e.update(ShipmentItemAdjustmentList=[]), "ShipmentItemAdjustmentList"),
        (
            lambda e: e["ShipmentItemAdjustmentList"][0].pop("OrderAdjustmentItemId"),
            "ShipmentItemAdjustmentList[0].OrderAdjustmentItemId",
        ),
        (
            lambda e: e.update(_charge(e, "-2.05", "EUR", index=1)),
            "ShipmentItemAdjustmentList[0].ItemChargeAdjustmentList[1].ChargeAmount.CurrencyCode",
        ),
        (
            lambda e: e.update(_charge(e, "-19.999")),
            "ShipmentItemAdjustmentList[0].ItemChargeAdjustmentList[0].ChargeAmount.CurrencyAmount",
        ),
        (lambda e: e.update(_charge(e, "100.00")), "ShipmentItemAdjustmentList"),
    ],
)
def test_a_bad_refund_event_names_the_field(change: Any, field: str) -> None:
    event = refund()
    change(event)
    with pytest.raises(TranslationError) as caught:
        payments(event)
    assert caught.value.field == field


def test_the_page_reader_takes_refunds_only_and_the_next_token() -> None:
    body = page()
    events, token = refund_events(body)
    assert [e["AmazonOrderId"] for e in events] == [ORDER_ID, "114-3941689-8772232"]
    assert token is None
    body["payload"]["NextToken"] = "2YgYW55IGNhcm5hbCBwbGVhcw"
    body["payload"]["FinancialEvents"].pop("RefundEventList")
    assert refund_events(body) == ([], "2YgYW55IGNhcm5hbCBwbGVhcw")
    with pytest.raises(TranslationError) as caught:
        refund_events({"errors": [{"code": "InvalidInput", "message": "Date range is invalid."}]})
    assert caught.value.field == "payload"
