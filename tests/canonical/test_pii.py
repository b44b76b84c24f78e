"""Personal data is marked in the model and found by redaction without a hand-kept list."""

from __future__ import annotations

import json

from canonical import Order, personal_data_paths, redact, redact_json
from canonical.examples import all_examples, example_envelope, example_order
from canonical.pii import REDACTED
from canonical.schemas import generate_schema

PERSONAL_VALUES = ("Jane Doe", "jane@example.com", "123 Main Street", "+1 217 555 0100")


def test_order_personal_fields_are_found_from_the_annotations() -> None:
    paths = personal_data_paths(Order)
    for expected in [
        ("customer", "email"),
        ("customer", "name"),
        ("customer", "phone"),
        ("shipping_address", "name"),
        ("shipping_address", "line1"),
        ("shipping_address", "line2"),
        ("shipping_address", "phone"),
        ("billing_address", "line1"),
    ]:
        assert expected in paths
    assert ("shipping_address", "city") not in paths
    assert ("shipping_address", "postal_code") not in paths
    assert ("external_id",) not in paths


def test_redaction_removes_every_personal_value_and_keeps_the_rest() -> None:
    order = example_order()
    text = json.dumps(redact(order))
    for value in PERSONAL_VALUES:
        assert value not in text
    redacted = redact(order)
    assert redacted["shipping_address"]["line1"] == REDACTED
    assert redacted["shipping_address"]["city"] == "Springfield"
    assert redacted["totals"] == order.model_dump(mode="json")["totals"]
    assert redacted["customer"]["external_id"] == "207119551"


def test_schema_based_redaction_matches_model_redaction_for_every_type() -> None:
    for name, example in all_examples().items():
        schema = generate_schema(type(example))
        data = example.model_dump(mode="json")
        assert redact_json(data, schema) == redact(example), name


def test_envelope_redaction_reaches_into_the_payload() -> None:
    envelope = example_envelope()
    text = json.dumps(redact(envelope))
    for value in PERSONAL_VALUES:
        assert value not in text
    assert envelope.idempotency_key in text


def test_missing_personal_values_stay_null() -> None:
    order = example_order().model_copy(update={"customer": None})
    assert redact(order)["customer"] is None
