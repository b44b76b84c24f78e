"""The envelope: consistent with its payload, stable idempotency keys, sortable ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from canonical import (
    EVENT_TYPES,
    Envelope,
    PaymentEvent,
    SourceRef,
    UnknownEventTypeError,
    derive_idempotency_key,
    new_message_id,
    payload_model_for,
)
from canonical.examples import all_examples, example_envelope

SOURCE = SourceRef(connector="stripe", instance="stripe_main")


def _envelope_data(**changes: Any) -> dict[str, Any]:
    data = example_envelope().model_dump(mode="json")
    data.update(changes)
    return data


def test_round_trip_through_json_is_lossless() -> None:
    envelope = example_envelope()
    assert Envelope.model_validate_json(envelope.model_dump_json()) == envelope


def test_idempotency_key_is_stable_and_sensitive_to_every_part() -> None:
    key = derive_idempotency_key(
        "acme", "shopify_us", "order.updated", "123", "2026-03-02T14:05:00Z"
    )
    assert key == derive_idempotency_key(
        "acme", "shopify_us", "order.updated", "123", "2026-03-02T14:05:00Z"
    )
    assert key.startswith("v1:")
    assert len(key) == 67
    variants = {
        derive_idempotency_key(
            "acme2", "shopify_us", "order.updated", "123", "2026-03-02T14:05:00Z"
        ),
        derive_idempotency_key(
            "acme", "shopify_eu", "order.updated", "123", "2026-03-02T14:05:00Z"
        ),
        derive_idempotency_key(
            "acme", "shopify_us", "order.created", "123", "2026-03-02T14:05:00Z"
        ),
        derive_idempotency_key(
            "acme", "shopify_us", "order.updated", "124", "2026-03-02T14:05:00Z"
        ),
        derive_idempotency_key(
            "acme", "shopify_us", "order.updated", "123", "2026-03-02T14:06:00Z"
        ),
        derive_idempotency_key("acme", "shopify_us", "order.updated", "1232026-03-02T14:05:00Z"),
    }
    assert key not in variants
    assert len(variants) == 6
    with pytest.raises(ValueError, match="at least one source identifier"):
        derive_idempotency_key("acme", "shopify_us", "order.updated")


def test_redelivery_derives_the_same_key_but_a_new_message_id() -> None:
    order = example_envelope().payload
    first, second = (
        Envelope.wrap(
            order,
            event_type="order.created",
            source=SourceRef(connector="shopify", instance="shopify_us"),
            source_ids=("820982911946154508", "2026-03-02T14:05:00+00:00"),
            occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
        )
        for _ in range(2)
    )
    assert first.idempotency_key == second.idempotency_key
    assert first.message_id != second.message_id


def test_message_ids_are_uuid7_and_sort_by_creation() -> None:
    ids = [new_message_id() for _ in range(200)]
    assert all(i.version == 7 for i in ids)
    assert sorted(ids, key=lambda i: i.bytes[:6]) == ids  # millisecond prefix never goes backwards
    with pytest.raises(ValidationError, match="UUIDv7"):
        Envelope.model_validate(_envelope_data(message_id=str(uuid.uuid4())))


def test_event_type_must_match_the_payload() -> None:
    with pytest.raises(ValidationError, match="carries a 'payment_event' payload, not 'order'"):
        Envelope.model_validate(_envelope_data(event_type="payment.captured"))
    with pytest.raises(ValidationError, match="unknown event type 'order.teleported'"):
        Envelope.model_validate(_envelope_data(event_type="order.teleported"))
    with pytest.raises(UnknownEventTypeError, match="order.created"):
        payload_model_for("nope")


def test_payment_kind_must_match_the_event() -> None:
    payment = all_examples()["payment_event"]
    assert isinstance(payment, PaymentEvent)
    with pytest.raises(ValidationError, match="payment.refunded event carries a payment of kind"):
        Envelope.wrap(
            payment,
            event_type="payment.refunded",
            source=SOURCE,
            source_ids=("evt_1",),
            occurred_at=payment.occurred_at,
        )


def test_payload_cannot_smuggle_another_tenant() -> None:
    data = _envelope_data(tenant="globex")
    with pytest.raises(ValidationError, match="payload.tenant 'acme' differs"):
        Envelope.model_validate(data)


def test_schema_version_must_be_published() -> None:
    with pytest.raises(ValidationError, match="schema_version 2 is not published"):
        Envelope.model_validate(_envelope_data(schema_version=2))


def test_traceparent_follows_w3c() -> None:
    with pytest.raises(ValidationError, match="traceparent"):
        Envelope.model_validate(_envelope_data(traceparent="not-a-traceparent"))


def test_every_event_type_has_an_example_payload_that_wraps() -> None:
    examples = all_examples()
    for event_type, model in EVENT_TYPES.items():
        payload = examples[str(model.schema_name)]
        if isinstance(payload, PaymentEvent):
            kind = event_type.removeprefix("payment.")
            payload = PaymentEvent.model_validate({**payload.model_dump(), "kind": kind})
        envelope = Envelope.wrap(
            payload,
            event_type=event_type,
            source=SOURCE,
            source_ids=("x",),
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        assert type(envelope.payload) is model
        assert Envelope.model_validate_json(envelope.model_dump_json()) == envelope
