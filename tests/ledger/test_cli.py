"""The ledger's commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.ledger import Ledger, LedgerNotMigratedError, default_ledger_path, resolve_ledger_url
from tests.ledger.factory import TENANT, order, receipt

runner = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_migrate_import_positions_and_show(ledger_url: str, tmp_path: Path) -> None:
    first = runner.invoke(app, ["ledger", "migrate", "--ledger", ledger_url, "--json"])
    assert first.exit_code == 0, first.output
    applied = json.loads(first.output)["applied"]
    assert applied[0] == "0001_initial"
    assert applied == sorted(applied)
    again = runner.invoke(app, ["ledger", "migrate", "--ledger", ledger_url])
    assert "up to date" in again.output

    skus = _write(
        tmp_path / "skus.csv",
        "tenant,sku,gtin,backorder_allowed,channel,variant_id\n"
        f"{TENANT},SKU-A,4006381333931,false,web,v-1\n"
        f"{TENANT},SKU-B,,true,web,v-2\n",
    )
    locations = _write(
        tmp_path / "locations.csv", f"tenant,location,kind,priority\n{TENANT},wh_a,warehouse,1\n"
    )
    for csv_file in (skus, locations):
        result = runner.invoke(
            app, ["catalog", "import", str(csv_file), "--ledger", ledger_url, "--json"]
        )
        assert result.exit_code == 0, result.output
    assert json.loads(result.output)["locations"] == 1

    with Ledger(ledger_url) as ledger:
        ledger.apply([receipt("r1", "SKU-A", "wh_a", 4), order("1001", [("l1", "v-1", 3)])])

    shown = runner.invoke(
        app, ["ledger", "positions", "--sku", "SKU-A", "--ledger", ledger_url, "--json"]
    )
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    [position] = data["positions"]
    assert (position["on_hand"], position["allocated"], position["available_to_promise"]) == (
        4,
        3,
        1,
    )
    assert data["availability"] == [
        {
            "tenant": TENANT,
            "sku": "SKU-A",
            "channel": "web",
            "available": 1,
            "as_of": data["availability"][0]["as_of"],
        }
    ]
    table = runner.invoke(app, ["ledger", "positions", "--ledger", ledger_url])
    assert "SKU-A" in table.output

    view = runner.invoke(app, ["orders", "show", "web:1001", "--ledger", ledger_url, "--json"])
    assert view.exit_code == 0, view.output
    order_view = json.loads(view.output)
    assert order_view["state"] == "allocated"
    assert [e["state"] for e in order_view["timeline"]] == ["captured", "allocated"]
    missing = runner.invoke(app, ["orders", "show", "web:nope", "--ledger", ledger_url])
    assert missing.exit_code == 1


def test_bad_catalog_row_changes_nothing(tmp_path: Path) -> None:
    url = str(tmp_path / "l.sqlite3")
    Ledger.migrate(url)
    bad = _write(tmp_path / "skus.csv", f"tenant,sku,gtin\n{TENANT},SKU-A,\n{TENANT},SKU-B,123\n")
    result = runner.invoke(app, ["catalog", "import", str(bad), "--ledger", url])
    assert result.exit_code == 1
    assert "skus.csv:3" in result.output
    with Ledger(url) as ledger:
        assert ledger._read("SELECT COUNT(*) FROM skus")[0][0] == 0


def test_unmigrated_ledger_tells_the_user_to_migrate(tmp_path: Path) -> None:
    url = str(tmp_path / "new.sqlite3")
    with pytest.raises(LedgerNotMigratedError, match="hub ledger migrate"):
        Ledger(url)
    result = runner.invoke(app, ["ledger", "positions", "--ledger", url])
    assert result.exit_code == 1
    assert "hub ledger migrate" in result.output


def test_url_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_LEDGER_URL", raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    assert default_ledger_path() == tmp_path / "home" / "ledger.sqlite3"
    assert resolve_ledger_url(None) == f"sqlite:///{tmp_path / 'home' / 'ledger.sqlite3'}"
    monkeypatch.setenv("HUB_LEDGER_URL", "postgresql://db/ledger")
    assert resolve_ledger_url(None) == "postgresql://db/ledger"
    assert resolve_ledger_url("x.sqlite3") == "x.sqlite3"
    monkeypatch.delenv("HUB_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_ledger_path() == tmp_path / "xdg" / "commerce-hub" / "ledger.sqlite3"


def test_embedded_default_creates_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_LEDGER_URL", raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["ledger", "positions", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"positions": [], "availability": []}
    assert (tmp_path / "home" / "ledger.sqlite3").exists()


def test_not_a_ledger_url() -> None:
    result = runner.invoke(app, ["ledger", "migrate", "--ledger", "mysql://x/y"])
    assert result.exit_code == 1
    assert "postgresql://" in result.output


def test_unreachable_postgres_is_a_clear_error() -> None:
    result = runner.invoke(
        app, ["ledger", "positions", "--ledger", "postgresql://u:secret@127.0.0.1:1/none"]
    )
    assert result.exit_code == 1
    assert "cannot connect to the PostgreSQL ledger" in result.output
    assert "secret" not in result.output


def test_reconcile_lists_exceptions(ledger_url: str) -> None:
    from canonical import PaymentEventKind
    from tests.ledger.factory import payment, setup_master_data, shipment

    Ledger.migrate(ledger_url)
    with Ledger(ledger_url) as ledger:
        setup_master_data(ledger)
        ledger.apply([receipt("r1", "SKU-A", "wh_a", 4), order("1", [("l1", "SKU-A", 1)])])
        ledger.apply([payment(PaymentEventKind.CAPTURED, "1", "10.00", "ch_1")])
        ledger.apply([shipment("s1", "1", "wh_a", [("l1", "SKU-A", 1)])])
    result = runner.invoke(
        app, ["orders", "reconcile", "--tenant", TENANT, "--ledger", ledger_url, "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["shipped_not_invoiced"] == ["web:1"]
