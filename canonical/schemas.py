"""Published JSON Schemas: generating them from the models and telling compatible from breaking.

Every top-level canonical type (a class with a ``schema_name``) is published as JSON Schema 2020-12
at ``schemas/<schema_name>/v<schema_major>.json``. The files are generated (``hub schema export``),
committed, and treated as a contract:

* within a major version a schema may only grow compatibly: new optional properties, wider limits;
* removing a property, changing its type, making an optional property required, dropping an enum
  value or a variant of a union is *breaking* and needs a new major version (a new file), while the
  old major's file stays as it was.

:func:`breaking_changes` is the check. It is pure: it compares two schema documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from canonical._base import CanonicalModel
from canonical.envelope import Envelope
from canonical.events import PAYLOAD_MODELS
from canonical.inventory import StockPosition

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "PUBLISHED_MODELS",
    "breaking_changes",
    "generate_schema",
    "published_schemas",
    "schema_path",
]

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

#: Every model published under schemas/, in a stable order.
PUBLISHED_MODELS: Final[tuple[type[CanonicalModel], ...]] = (
    Envelope,
    *PAYLOAD_MODELS,
    StockPosition,
)


def schema_path(model: type[CanonicalModel]) -> str:
    """Where ``model``'s schema lives, relative to the schemas/ folder."""
    return f"{model.schema_name}/v{model.schema_major}.json"


def generate_schema(model: type[CanonicalModel]) -> dict[str, Any]:
    """The JSON Schema 2020-12 document of ``model`` (what it accepts: pydantic validation mode)."""
    if model.schema_name is None:
        raise ValueError(f"{model.__name__} is not a published type (it has no schema_name)")
    body = model.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:commerce-hub:schema:{model.schema_name}:v{model.schema_major}",
        "x-schema-name": model.schema_name,
        "x-schema-version": model.schema_major,
        **body,
    }


def published_schemas() -> dict[str, dict[str, Any]]:
    """Relative path to schema document, for every published model."""
    return {schema_path(model): generate_schema(model) for model in PUBLISHED_MODELS}


# -- compatibility --------------------------------------------------------------------------------


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    seen: set[str] = set()
    while isinstance(node, Mapping) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            return node
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node = target
    return node


def _options(node: Any, root: Mapping[str, Any]) -> list[Any]:
    """Flatten anyOf/oneOf into resolved alternatives."""
    node = _resolve(node, root)
    if not isinstance(node, Mapping):
        return [node]
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        flat: list[Any] = []
        for option in alternatives:
            flat.extend(_options(option, root))
        return flat
    return [node]


def _types(node: Any) -> set[str]:
    if not isinstance(node, Mapping):
        return {"any"}
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    if "const" in node:
        return {type(node["const"]).__name__}
    if "properties" in node:
        return {"object"}
    return {"any"}


def _tag(option: Mapping[str, Any]) -> str | None:
    """A union variant's discriminator value (its ``type`` const), if it has one."""
    tag = option.get("properties", {}).get("type", {})
    const = tag.get("const") if isinstance(tag, Mapping) else None
    return const if isinstance(const, str) else None


def _compare(
    old: Any,
    new: Any,
    old_root: Mapping[str, Any],
    new_root: Mapping[str, Any],
    path: str,
    depth: int,
) -> Iterator[str]:
    if depth > 64:
        return
    old_options, new_options = _options(old, old_root), _options(new, new_root)
    old_types = set().union(*(_types(o) for o in old_options))
    new_types = set().union(*(_types(o) for o in new_options))
    if "any" not in new_types and old_types != new_types:
        yield f"{path}: type changed from {sorted(old_types)} to {sorted(new_types)}"
        return

    old_tagged = {_tag(o): o for o in old_options if isinstance(o, Mapping) and _tag(o)}
    new_tagged = {_tag(o): o for o in new_options if isinstance(o, Mapping) and _tag(o)}
    if len(old_tagged) > 1 or len(new_tagged) > 1:
        for tag, option in old_tagged.items():
            if tag not in new_tagged:
                yield f"{path}: union variant {tag!r} was removed"
            else:
                yield from _compare(
                    option, new_tagged[tag], old_root, new_root, f"{path}<{tag}>", depth + 1
                )
        return

    old_obj = next((o for o in old_options if isinstance(o, Mapping) and "properties" in o), None)
    new_obj = next((o for o in new_options if isinstance(o, Mapping) and "properties" in o), None)
    if old_obj is not None and new_obj is not None:
        old_props, new_props = old_obj["properties"], new_obj["properties"]
        old_required, new_required = (
            set(old_obj.get("required", [])),
            set(new_obj.get("required", [])),
        )
        for name, sub in old_props.items():
            if name not in new_props:
                yield f"{path}.{name}: property was removed"
                continue
            yield from _compare(
                sub, new_props[name], old_root, new_root, f"{path}.{name}", depth + 1
            )
        for name in sorted(new_required - old_required):
            yield f"{path}.{name}: became required"

    old_enum = _enum_values(old_options)
    new_enum = _enum_values(new_options)
    if old_enum is not None and new_enum is not None:
        for value in sorted(old_enum - new_enum, key=str):
            yield f"{path}: allowed value {value!r} was removed"

    old_items = next(
        (o["items"] for o in old_options if isinstance(o, Mapping) and "items" in o), None
    )
    new_items = next(
        (o["items"] for o in new_options if isinstance(o, Mapping) and "items" in o), None
    )
    if old_items is not None and new_items is not None:
        yield from _compare(old_items, new_items, old_root, new_root, f"{path}[]", depth + 1)


def _enum_values(options: list[Any]) -> set[Any] | None:
    values: set[Any] = set()
    constrained = False
    for option in options:
        if not isinstance(option, Mapping):
            return None
        if "enum" in option:
            values.update(option["enum"])
            constrained = True
        elif "const" in option:
            values.add(option["const"])
            constrained = True
        elif option.get("type") != "null":
            return None
    return values if constrained else None


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Every change from ``old`` to ``new`` that would break a reader or writer of ``old``.

    An empty list means ``new`` may replace ``old`` under the same major version.
    """
    return list(_compare(old, new, old, new, "$", 0))
