"""``hub connectors list`` and ``hub translate``: output, determinism and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parent
ORDER = FIXTURES / "shopify" / "fixtures" / "orders_create.json"


def test_list_json_names_every_builtin_and_its_events() -> None:
    result = runner.invoke(app, ["connectors", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"shopify", "stripe", "easypost"} <= set(rows)
    assert "orders/create" in rows["shopify"]["events"]
    assert rows["shopify"]["kind"] == "storefront"
    assert "charge.refunded" in rows["stripe"]["events"]
    assert rows["easypost"]["events"]["tracker.updated"]["emits"] == ["tracking.updated"]


def test_translate_prints_json_lines_deterministically() -> None:
    args = ["translate", "shopify", "orders/create", str(ORDER), "--received-at",
            "2026-03-02T15:00:00Z", "--tenant", "acme", "--instance", "shopify_us"]  # fmt: skip
    first = runner.invoke(app, args)
    second = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 1
    envelope = json.loads(lines[0])
    assert envelope["event_type"] == "order.created"
    assert envelope["received_at"] == "2026-03-02T15:00:00Z"
    assert envelope["payload"]["external_id"] == "5829371929123456789"


def test_translate_accepts_the_rest_wrapper(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"order": json.loads(ORDER.read_text())}))
    result = runner.invoke(app, ["translate", "shopify", "orders/create", str(wrapped)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["payload"]["order_number"] == "#1042"


def test_untranslatable_payload_exits_1_naming_the_field(tmp_path: Path) -> None:
    payload = json.loads(ORDER.read_text())
    payload["line_items"][0]["price"] = "twenty"
    del payload["line_items"][0]["price_set"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    result = runner.invoke(app, ["translate", "shopify", "orders/create", str(bad)])
    assert result.exit_code == 1
    assert "line_items[0].price" in result.stderr


def test_not_json_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["translate", "stripe", "charge.refunded", str(bad)])
    assert result.exit_code == 1


def test_unknown_connector_or_event_exits_2() -> None:
    result = runner.invoke(app, ["translate", "magento", "orders/create", str(ORDER)])
    assert result.exit_code == 2
    assert "shopify" in result.stderr
    result = runner.invoke(app, ["translate", "shopify", "orders/paid", str(ORDER)])
    assert result.exit_code == 2
    assert "orders/create" in result.stderr
