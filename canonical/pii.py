"""Marking personal data in the model, so redaction finds it without a hand-kept list.

A field holding personal data is annotated with :data:`Personal` (``name: Personal[str]``). The
marker travels into the JSON Schema as ``"x-personal-data": true``, so code that only sees JSON (the
audit log, a dead-letter listing, span attributes) can redact from the schema, and code that holds
models can use :func:`personal_data_paths` and :func:`redact`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Annotated, Any, Final, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, Field

__all__ = [
    "PERSONAL_DATA_KEY",
    "REDACTED",
    "Personal",
    "PersonalData",
    "is_personal",
    "personal_data_paths",
    "redact",
    "redact_json",
]

#: JSON Schema keyword marking a personal-data property.
PERSONAL_DATA_KEY: Final = "x-personal-data"
#: What a redacted value is replaced with.
REDACTED: Final = "[redacted]"

T = TypeVar("T")


class PersonalData:
    """Annotation marker: the annotated field holds personal data (GDPR "personal data")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PersonalData()"


_MARKER = PersonalData()

#: ``Personal[str]`` marks a field as personal data and records the mark in the JSON Schema.
Personal = Annotated[T, _MARKER, Field(json_schema_extra={PERSONAL_DATA_KEY: True})]


def is_personal(metadata: list[Any], annotation: Any = None) -> bool:
    """Whether a field carries the personal-data marker, in its metadata or inside its annotation.

    ``Personal[str] | None`` keeps the marker inside the union, where pydantic does not lift it
    into the field's metadata, so the annotation is searched too.
    """
    if any(isinstance(item, PersonalData) for item in metadata):
        return True
    return annotation is not None and _annotation_is_personal(annotation)


def _annotation_is_personal(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extras = get_args(annotation)
        return any(isinstance(item, PersonalData) for item in extras) or _annotation_is_personal(
            inner
        )
    if origin in (Union, types.UnionType):
        return any(_annotation_is_personal(arg) for arg in get_args(annotation))
    return False


def _model_types(annotation: Any) -> Iterator[type[BaseModel]]:
    """Yield the model classes reachable through an annotation (Optional, list, dict values...)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _model_types(get_args(annotation)[0])
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    if origin in (Union, types.UnionType, list, tuple, set, frozenset, dict, Mapping) or (
        origin is not None and origin is not typing.Literal
    ):
        for arg in get_args(annotation):
            yield from _model_types(arg)


@cache
def personal_data_paths(model: type[BaseModel]) -> frozenset[tuple[str, ...]]:
    """Every field path (through nested models) that holds personal data.

    Paths name fields only; lists and dicts are traversed transparently, so ``("ship_to", "name")``
    covers ``order.ship_to.name`` and ``("lines", "recipient", "name")`` covers every line.
    """
    paths: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        if is_personal(info.metadata, info.annotation):
            paths.add((name,))
        for nested in _model_types(info.annotation):
            if nested is model:
                continue
            for sub in personal_data_paths(nested):
                paths.add((name, *sub))
    return frozenset(paths)


def _redact_value(value: Any, keys: frozenset[tuple[str, ...]]) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if (key,) in keys:
                out[key] = None if item is None else REDACTED
                continue
            sub = frozenset(path[1:] for path in keys if path[0] == key and len(path) > 1)
            out[key] = _redact_value(item, sub) if sub else item
        return out
    if isinstance(value, list | tuple):
        return [_redact_value(item, keys) for item in value]
    return value


def redact(model: BaseModel) -> dict[str, Any]:
    """The model as JSON-compatible data with every personal-data field replaced by ``[redacted]``."""
    return _redact_value(model.model_dump(mode="json"), personal_data_paths(type(model)))  # type: ignore[no-any-return]


def _schema_personal_paths(
    schema: Mapping[str, Any], defs: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> frozenset[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()

    def walk(node: Any, prefix: tuple[str, ...], seen: frozenset[str]) -> None:
        if not isinstance(node, Mapping):
            return
        if node.get(PERSONAL_DATA_KEY):
            paths.add(prefix)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name not in seen:
                walk(defs.get(name, {}), prefix, seen | {name})
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, []):
                walk(option, prefix, seen)
        if "items" in node:
            walk(node["items"], prefix, seen)
        if isinstance(node.get("additionalProperties"), Mapping):
            walk(node["additionalProperties"], prefix, seen)
        for prop, sub in node.get("properties", {}).items():
            walk(sub, (*prefix, prop), seen)

    walk(schema, (), seen)
    return frozenset(p for p in paths if p)


def redact_json(data: Any, schema: Mapping[str, Any]) -> Any:
    """Redact JSON data using only a published JSON Schema's ``x-personal-data`` marks.

    For components that hold a payload as JSON (audit, dead letters) and its schema, not a model.
    """
    paths = _schema_personal_paths(schema, schema.get("$defs", {}))
    return _redact_value(data, paths)
