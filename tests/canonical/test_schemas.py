"""Published schemas: committed, current, valid, satisfied by the examples, and evolved compatibly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from canonical.examples import all_examples
from canonical.schemas import (
    PUBLISHED_MODELS,
    breaking_changes,
    generate_schema,
    published_schemas,
    schema_path,
)
from hub.schema_files import check_files, expected_files, render_json, write_files

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
DOCS = ROOT / "docs"


def _committed(relative: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / relative).read_text(encoding="utf-8"))


def test_committed_schemas_match_the_models() -> None:
    report = check_files(SCHEMAS, DOCS)
    assert report.clean, (
        f"run `hub schema export`: missing {report.missing}, stale {report.stale}, "
        f"breaking {report.breaking}"
    )


def test_every_committed_schema_is_valid_json_schema_2020_12() -> None:
    files = sorted(SCHEMAS.glob("*/v*.json"))
    assert len(files) >= len(PUBLISHED_MODELS)
    for path in files:
        Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_every_published_type_has_an_example_that_its_committed_schema_accepts() -> None:
    examples = all_examples()
    assert set(examples) == {model.schema_name for model in PUBLISHED_MODELS}
    for model in PUBLISHED_MODELS:
        example = examples[str(model.schema_name)]
        validator = Draft202012Validator(
            _committed(schema_path(model)), format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        problems = [e.message for e in validator.iter_errors(example.model_dump(mode="json"))]
        assert not problems, (model.schema_name, problems)


def test_schema_rejects_what_the_model_rejects() -> None:
    validator = Draft202012Validator(_committed("order/v1.json"))
    order = all_examples()["order"].model_dump(mode="json")
    bad_price = copy.deepcopy(order)
    bad_price["lines"][0]["unit_price"]["amount"] = 20.0
    extra = {**order, "is_paid": True}
    bad_quantity = copy.deepcopy(order)
    bad_quantity["lines"][0]["quantity"] = -1
    for document in (bad_price, extra, bad_quantity):
        assert not validator.is_valid(document)


def test_personal_data_marks_are_published() -> None:
    text = (SCHEMAS / "order/v1.json").read_text(encoding="utf-8")
    assert text.count('"x-personal-data": true') >= 8


# -- compatibility -------------------------------------------------------------------------------


@pytest.fixture
def order_schema() -> dict[str, Any]:
    return generate_schema(type(all_examples()["order"]))


def test_an_identical_schema_is_compatible(order_schema: dict[str, Any]) -> None:
    assert breaking_changes(order_schema, copy.deepcopy(order_schema)) == []


def test_adding_an_optional_property_is_compatible(order_schema: dict[str, Any]) -> None:
    new = copy.deepcopy(order_schema)
    new["properties"]["gift_message"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    new["$defs"]["OrderLine"]["properties"]["color"] = {"type": "string"}
    assert breaking_changes(order_schema, new) == []


def test_removing_a_property_is_breaking(order_schema: dict[str, Any]) -> None:
    new = copy.deepcopy(order_schema)
    del new["$defs"]["OrderLine"]["properties"]["title"]
    assert "$.lines[].title: property was removed" in breaking_changes(order_schema, new)


def test_retyping_a_property_is_breaking(order_schema: dict[str, Any]) -> None:
    new = copy.deepcopy(order_schema)
    new["$defs"]["OrderLine"]["properties"]["quantity"]["type"] = "string"
    assert breaking_changes(order_schema, new) == [
        "$.lines[].quantity: type changed from ['integer'] to ['string']"
    ]


def test_making_a_property_required_is_breaking(order_schema: dict[str, Any]) -> None:
    new = copy.deepcopy(order_schema)
    new["required"].append("order_number")
    assert breaking_changes(order_schema, new) == ["$.order_number: became required"]


def test_dropping_an_enum_value_or_union_variant_is_breaking() -> None:
    envelope = generate_schema(type(all_examples()["envelope"]))
    new = copy.deepcopy(envelope)
    new["$defs"]["PaymentEventKind"]["enum"].remove("disputed")
    assert "$.payload<payment_event>.kind: allowed value 'disputed' was removed" in (
        breaking_changes(envelope, new)
    )
    new = copy.deepcopy(envelope)
    new["properties"]["payload"]["oneOf"] = [
        option
        for option in new["properties"]["payload"]["oneOf"]
        if option["$ref"] != "#/$defs/Receipt"
    ]
    assert "$.payload: union variant 'receipt' was removed" in breaking_changes(envelope, new)


def test_export_refuses_to_overwrite_a_published_version_with_a_breaking_change(
    tmp_path: Path,
) -> None:
    schemas, docs = tmp_path / "schemas", tmp_path / "docs"
    assert write_files(schemas, docs).written
    assert check_files(schemas, docs).clean
    # Pretend v1 was published with a property the model no longer has.
    path = schemas / "order/v1.json"
    published = json.loads(path.read_text(encoding="utf-8"))
    published["properties"]["loyalty_points"] = {"type": "integer"}
    path.write_text(render_json(published), encoding="utf-8")

    report = write_files(schemas, docs)
    assert report.breaking == {path: ["$.loyalty_points: property was removed"]}
    assert report.written == []
    assert json.loads(path.read_text(encoding="utf-8")) == published  # left untouched
    checked = check_files(schemas, docs)
    assert path in checked.stale
    assert path in checked.breaking


def test_export_writes_only_what_changed(tmp_path: Path) -> None:
    schemas, docs = tmp_path / "schemas", tmp_path / "docs"
    first = write_files(schemas, docs)
    assert len(first.written) == len(expected_files(schemas, docs))
    assert len(first.written) >= len(published_schemas()) + 3
    assert write_files(schemas, docs).written == []
    (schemas / "order/v1.json").unlink()
    assert check_files(schemas, docs).missing == [schemas / "order/v1.json"]
    assert write_files(schemas, docs).written == [schemas / "order/v1.json"]
