"""Writing and checking the committed contract files generated from the canonical model.

The generated files are ``schemas/<type>/v<major>.json`` for every published type,
``schemas/order-lifecycle.json`` (the lifecycle graph as data) and ``docs/order-lifecycle.md``
(the same graph for people). Export refuses to overwrite a published major version with a breaking
change: that needs a new major version, so readers of the old one keep a valid contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canonical.lifecycle import lifecycle_as_json, lifecycle_as_markdown
from canonical.schemas import JSON_SCHEMA_DIALECT, breaking_changes, published_schemas

__all__ = ["ExportReport", "check_files", "expected_files", "render_json", "write_files"]

LIFECYCLE_JSON = "order-lifecycle.json"
LIFECYCLE_DOC = "order-lifecycle.md"
DEPLOYMENT_SCHEMA = "deployment/v1.json"


def render_json(document: Any) -> str:
    """The one serialisation of a committed JSON file: stable, readable, newline-terminated."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def expected_files(schemas_dir: Path, docs_dir: Path) -> dict[Path, str]:
    """Every generated file and the exact text it must have."""
    files = {schemas_dir / rel: render_json(doc) for rel, doc in published_schemas().items()}
    files[schemas_dir / LIFECYCLE_JSON] = render_json(
        {
            "$schema": JSON_SCHEMA_DIALECT,
            "x-generated-from": "canonical/lifecycle.py",
            **lifecycle_as_json(),
        }
    )
    files[docs_dir / LIFECYCLE_DOC] = lifecycle_as_markdown()
    files[schemas_dir / DEPLOYMENT_SCHEMA] = render_json(deployment_schema())
    return files


def deployment_schema() -> dict[str, Any]:
    """The deployment file's JSON Schema, so editors can complete and check it."""
    from hub.config.model import Deployment

    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": "urn:commerce-hub:schema:deployment:v1",
        "x-schema-name": "deployment",
        "x-schema-version": 1,
        **Deployment.model_json_schema(mode="validation"),
    }


@dataclass
class ExportReport:
    """What an export or a check found."""

    written: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    breaking: dict[Path, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.stale or self.missing or self.breaking)


def _breaking(path: Path, new_text: str) -> list[str]:
    if path.suffix != ".json" or not path.exists() or path.name == LIFECYCLE_JSON:
        return []
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [f"the committed file is not valid JSON ({exc})"]
    return breaking_changes(old, json.loads(new_text))


def check_files(schemas_dir: Path, docs_dir: Path) -> ExportReport:
    """Compare committed files with the models without writing anything."""
    report = ExportReport()
    for path, text in expected_files(schemas_dir, docs_dir).items():
        if not path.exists():
            report.missing.append(path)
        elif path.read_text(encoding="utf-8") != text:
            report.stale.append(path)
            problems = _breaking(path, text)
            if problems:
                report.breaking[path] = problems
    return report


def write_files(schemas_dir: Path, docs_dir: Path) -> ExportReport:
    """Write every generated file that changed, unless a change would break a published version."""
    report = ExportReport()
    expected = expected_files(schemas_dir, docs_dir)
    for path, text in expected.items():
        problems = _breaking(path, text)
        if problems:
            report.breaking[path] = problems
    if report.breaking:
        return report
    for path, text in expected.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        report.written.append(path)
    return report
