"""Stripe mappings: minor units, currencies, refunds (partial, unexpanded), disputes, refund body."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from canonical.money import Money
from canonical.payment import PaymentEvent, PaymentEventKind
from connectors.base import load_payload
from connectors.errors import TranslationError
from connectors.spec import TranslationContext
from connectors.stripe import StripeConnector

FIXTURES = Path(__file__).parent / "fixtures"
CTX = TranslationContext(
    tenant="acme", instance="stripe_main", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)


def load(name: str) -> Any:
    return load_payload((FIXTURES / name).read_bytes())


def payments(event: str, payload: Any) -> list[PaymentEvent]:
    found = []
    for envelope in StripeConnector.translate(event, payload, CTX):
        assert isinstance(envelope.payload, PaymentEvent)
        found.append(envelope.payload)
    return found


def test_succeeded_amount_from_minor_units_and_order_from_metadata() -> None:
    (payment,) = payments("payment_intent.succeeded", load("payment_intent_succeeded.json"))
    assert payment.kind is PaymentEventKind.CAPTURED
    assert payment.amount == Money(amount=Decimal("64.80"), currency="USD")
    assert payment.order is not None
    assert payment.order.key == "shopify_us:5829371929123456789"
    assert payment.occurred_at == datetime.fromtimestamp(1772460905, UTC)


def test_zero_decimal_currency() -> None:
    (payment,) = payments("payment_intent.succeeded", load("payment_intent_succeeded_jpy.json"))
    assert payment.amount == Money(amount=Decimal(5000), currency="JPY")
    assert payment.order is not None
    assert payment.order.channel == "stripe_main"


def test_bare_object_and_event_derive_the_same_key() -> None:
    event = load("payment_intent_succeeded.json")
    bare = event["data"]["object"]
    with_event = StripeConnector.translate("payment_intent.succeeded", event, CTX)
    without = StripeConnector.translate("payment_intent.succeeded", bare, CTX)
    assert with_event[0].idempotency_key == without[0].idempotency_key


def test_failure_code_and_reason() -> None:
    (payment,) = payments(
        "payment_intent.payment_failed", load("payment_intent_payment_failed.json")
    )
    assert payment.kind is PaymentEventKind.FAILED
    assert payment.failure_code == "insufficient_funds"
    assert payment.transaction_id == "ch_3PgcD1B7WZ01zgkW0fAiLeD1"


def test_partial_refund_listed() -> None:
    (refund,) = payments("charge.refunded", load("charge_refunded_partial.json"))
    assert refund.amount == Money(amount=Decimal("23.40"), currency="USD")
    assert refund.transaction_id == "re_3PgcB2B7WZ01zgkW0rEfUnD1"
    assert refund.payment_id == "pi_3PgcB2B7WZ01zgkW0mV1x2yZ"


def test_second_partial_refund_without_list_uses_previous_attributes() -> None:
    (refund,) = payments("charge.refunded", load("charge_refunded_second_unexpanded.json"))
    assert refund.amount == Money(amount=Decimal("13.00"), currency="USD")


def test_refund_list_replayed_in_a_later_event_repeats_its_key() -> None:
    first = StripeConnector.translate("charge.refunded", load("charge_refunded_partial.json"), CTX)
    later = load("charge_refunded_partial.json")
    obj = later["data"]["object"]
    second = dict(obj["refunds"]["data"][0], id="re_second", amount=1300)
    obj["refunds"]["data"].append(second)
    obj["amount_refunded"] = 3640
    again = StripeConnector.translate("charge.refunded", later, CTX)
    assert again[0].idempotency_key == first[0].idempotency_key
    assert len({e.idempotency_key for e in again}) == 2


def test_cumulative_refund_without_history_is_refused() -> None:
    payload = load("charge_refunded_second_unexpanded.json")
    del payload["data"]["previous_attributes"]
    with pytest.raises(TranslationError) as caught:
        payments("charge.refunded", payload)
    assert caught.value.field == "data.object.refunds"


def test_dispute() -> None:
    (dispute,) = payments("charge.dispute.created", load("charge_dispute_created.json"))
    assert dispute.kind is PaymentEventKind.DISPUTED
    assert dispute.reason == "fraudulent"
    assert dispute.transaction_id == "dp_1PgcG1B7WZ01zgkW6dIsPuTe"


def test_wrong_event_type_names_the_field() -> None:
    with pytest.raises(TranslationError) as caught:
        payments("charge.refunded", load("charge_dispute_created.json"))
    assert caught.value.field == "type"


def test_float_amount_is_refused() -> None:
    payload = load("payment_intent_succeeded.json")
    payload["data"]["object"]["amount_received"] = Decimal("64.8")
    with pytest.raises(TranslationError) as caught:
        payments("payment_intent.succeeded", payload)
    assert caught.value.field == "data.object.amount_received"


def test_refund_request_is_form_encoded_with_idempotency_key() -> None:
    connector = StripeConnector(
        {"api_key": "sk_test_x", "webhook_secrets": ["whsec_x"]}, sleep=lambda _s: None
    )
    with respx.mock() as mock:
        route = mock.post("https://api.stripe.com/v1/refunds").mock(
            return_value=httpx.Response(200, json={"id": "re_1", "object": "refund"})
        )
        refund_id = connector.refund(
            "pi_123", Money(amount=Decimal("5.00"), currency="EUR"), idempotency_key="v1:k",
            reason="requested_by_customer",
        )  # fmt: skip
    assert refund_id == "re_1"
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "v1:k"
    assert request.headers["Authorization"] == "Bearer sk_test_x"
    assert request.content == b"amount=500&payment_intent=pi_123&reason=requested_by_customer"
