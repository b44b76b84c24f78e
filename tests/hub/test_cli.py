"""The `hub` command: groups, exit codes and machine-readable output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from canonical.examples import example_order
from hub.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_help_lists_the_command_groups() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("schema", "lifecycle"):
        assert group in result.output


def test_console_script_runs_schema_check_on_the_committed_files() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hub", "schema", "export", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "match the canonical model" in completed.stdout


def test_schema_check_fails_on_drift(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["schema", "export", "--check", "--dir", str(tmp_path / "s"), "--docs-dir", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "missing" in result.output
    assert "hub schema export" in result.output


def test_schema_validate_accepts_a_valid_document_and_names_the_broken_field(
    tmp_path: Path,
) -> None:
    good = tmp_path / "order.json"
    good.write_text(example_order().model_dump_json())
    result = runner.invoke(app, ["schema", "validate", "order", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid order v1" in result.output

    data = json.loads(good.read_text())
    data["lines"][0]["unit_price"]["amount"] = 20.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(app, ["schema", "validate", "order", str(bad)])
    assert result.exit_code == 1
    assert "lines/0/unit_price/amount" in result.output


def test_unknown_schema_type_is_a_usage_error() -> None:
    result = runner.invoke(app, ["schema", "show", "widget"])
    assert result.exit_code == 2
    assert "published types are" in result.output


def test_schema_list_json() -> None:
    result = runner.invoke(app, ["schema", "list", "--json"])
    rows = json.loads(result.output)
    assert {"type": "order", "version": 1, "model": "Order"} in rows


def test_lifecycle_json_is_the_graph() -> None:
    result = runner.invoke(app, ["lifecycle", "--json"])
    graph = json.loads(result.output)
    assert graph["initial"] == "captured"
    assert "allocated" in graph["transitions"]["validated"]
    assert graph["transitions"]["closed"] == []
