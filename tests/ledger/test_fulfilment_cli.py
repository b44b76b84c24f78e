"""``hub fulfilment exceptions|resolve|order`` and ``hub lots trace`` on SQLite and PostgreSQL,
over the hand-computed day of tests/ledger/fulfilment_day.py."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hub.cli import app
from hub.ledger.store import Ledger
from tests.ledger import fulfilment_day as day

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_exceptions_list_and_resolve(ledger: Ledger, ledger_url: str) -> None:
    day.seed_day(ledger.db)
    code, out, _ = _run("fulfilment", "exceptions", "--ledger", ledger_url, "--json")
    assert code == 0
    rows = json.loads(out)
    # every tenant without --tenant
    assert [(r["tenant"], r["order_key"], r["kind"]) for r in rows] == [
        ("acme", "web:B", "short_ship"),
        ("acme", "web:J", "duplicate_serial"),
        ("acme", "web:J", "extra_item"),
        ("globex", "web:Z", "short_ship"),
    ]
    code, out, _ = _run(
        "fulfilment", "exceptions", "--tenant", "acme", "--status", "all",
        "--kind", "lot_mismatch", "--ledger", ledger_url, "--json",
    )  # fmt: skip
    assert [r["order_key"] for r in json.loads(out)] == ["web:K"]
    code, out, _ = _run("fulfilment", "exceptions", "--tenant", "acme", "--ledger", ledger_url)
    assert code == 0
    assert "short_ship" in out
    assert "duplicate_serial" in out
    assert "lot_mismatch" not in out  # resolved: not listed by default
    code, _, err = _run("fulfilment", "exceptions", "--status", "done", "--ledger", ledger_url)
    assert code == 2
    assert "open, resolved or all" in err

    short = rows[0]["id"]
    code, out, _ = _run(
        "fulfilment", "resolve", str(short), "--note", "refunded one unit",
        "--actor", "ana", "--ledger", ledger_url,
    )  # fmt: skip
    assert code == 0
    assert f"fulfilment exception {short} (short_ship, order web:B) resolved by ana" in out
    code, _, err = _run(
        "fulfilment", "resolve", str(short), "--note", "again", "--ledger", ledger_url
    )
    assert code == 1
    assert "already resolved (by ana" in err
    code, _, err = _run("fulfilment", "resolve", "999999", "--note", "x", "--ledger", ledger_url)
    assert code == 1
    assert "no fulfilment exception 999999" in err
    code, _, err = _run(
        "fulfilment", "resolve", str(short), "--note", "x", "--tenant", "globex",
        "--ledger", ledger_url,
    )  # fmt: skip
    assert code == 1
    assert "no fulfilment exception" in err
    code, out, _ = _run(
        "fulfilment", "exceptions", "--tenant", "acme", "--status", "resolved",
        "--ledger", ledger_url, "--json",
    )  # fmt: skip
    resolved = {r["kind"]: r for r in json.loads(out)}
    assert resolved["short_ship"]["actor"] == "ana"
    assert resolved["short_ship"]["resolution"] == "refunded one unit"


def test_order_status(ledger: Ledger, ledger_url: str) -> None:
    day.seed_day(ledger.db)
    code, out, _ = _run("fulfilment", "order", "web:C", "--ledger", ledger_url, "--json")
    assert code == 0
    status = json.loads(out)
    assert status["tenant"] == "acme"  # found without --tenant
    assert status["perfect"] is False
    assert status["components"]["on_time"] is False
    code, out, _ = _run("fulfilment", "order", "web:D", "--tenant", "acme", "--ledger", ledger_url)
    assert code == 0
    assert "order web:D (acme, shipped): NOT PERFECT" in out
    assert "on time: NO" in out
    assert "documents: NO" in out
    assert "Shipment sD1 has no tracking number." in out
    code, out, _ = _run("fulfilment", "order", "web:G", "--ledger", ledger_url)
    assert "PERFECT" in out
    assert "NOT PERFECT" not in out
    assert "sG2" in out
    code, _, err = _run("fulfilment", "order", "web:nope", "--ledger", ledger_url)
    assert code == 1
    assert "no order web:nope" in err


def test_lot_trace(ledger: Ledger, ledger_url: str) -> None:
    day.seed_day(ledger.db)
    code, out, _ = _run("lots", "trace", "L1", "--sku", "SKU-L", "--ledger", ledger_url, "--json")
    assert code == 0
    [trace] = json.loads(out)["tenants"]
    assert trace["tenant"] == "acme"
    assert [(s["order_key"], s["quantity"], s["serials"]) for s in trace["shipped"]] == [
        ("web:M", 2, ["SN-1", "SN-2"]),
        ("web:N", 4, []),
        ("web:P", None, []),
    ]
    code, out, _ = _run("lots", "trace", "L1", "--tenant", "acme", "--ledger", ledger_url)
    assert code == 0
    assert "lot L1 (acme): 21 in, 6 shipped to 3 orders, 15 on hand" in out  # SKU-L and SKU-X
    assert "EXPIRED" in out
    assert "1ZN1" in out
    assert "1ZN2" in out
    assert "SN-1" in out
    assert "SN-2" in out
    code, _, err = _run("lots", "trace", "L9", "--ledger", ledger_url)
    assert code == 1
    assert "no lot L9 in the ledger" in err


def test_a_return_exception_is_listed_shown_and_resolved(ledger: Ledger, ledger_url: str) -> None:
    from canonical import ReturnStatus
    from tests.ledger.factory import TENANT, order, receipt, setup_master_data
    from tests.ledger.test_reconciliation import line, returned, shipped

    setup_master_data(ledger)
    ledger.upsert_sku(TENANT, "SKU-A", tracking="serial")
    ledger.apply(
        [
            receipt("ra", "SKU-A", "wh_a", 5),
            order("1", [("l1", "SKU-A", 1)]),
            shipped("s1", "1", "wh_a", [line("l1", "SKU-A", 1, serials=["SN-1"])]),
            returned("R1", "1", ReturnStatus.RECEIVED, ["SN-7"]),
        ]
    )
    code, out, _ = _run(
        "fulfilment", "exceptions", "--kind", "serial_not_shipped", "--ledger", ledger_url,
        "--json",
    )  # fmt: skip
    assert code == 0
    [row] = json.loads(out)
    assert (row["order_key"], row["rma_id"], row["line_id"], row["sku"]) == (
        "web:1", "R1", "l1", "SKU-A",
    )  # fmt: skip
    assert row["category"] == "return"
    code, out, _ = _run("fulfilment", "exceptions", "--ledger", ledger_url)
    assert code == 0
    assert "serial_not_shipped" in out
    assert "rma R1" in out
    code, out, _ = _run("fulfilment", "order", "web:1", "--ledger", ledger_url)
    assert code == 0
    assert "Exceptions" in out
    assert "serial_not_shipped" in out
    assert "SN-7" in out
    code, out, _ = _run(
        "fulfilment", "resolve", str(row["id"]), "--note", "unit is SN-1, label misprinted",
        "--actor", "ana", "--ledger", ledger_url,
    )  # fmt: skip
    assert code == 0
    assert "(serial_not_shipped, order web:1) resolved by ana" in out


def test_a_return_without_serials_is_listed_and_shown_with_its_figures(
    ledger: Ledger, ledger_url: str
) -> None:
    from canonical import ReturnStatus
    from tests.ledger.factory import TENANT, order, receipt, setup_master_data
    from tests.ledger.test_reconciliation import line, returned, shipped

    setup_master_data(ledger)
    ledger.upsert_sku(TENANT, "SKU-A", tracking="serial")
    ledger.apply(
        [
            receipt("ra", "SKU-A", "wh_a", 5),
            order("1", [("l1", "SKU-A", 2)]),
            shipped("s1", "1", "wh_a", [line("l1", "SKU-A", 2, serials=["SN-1", "SN-2"])]),
            returned("R1", "1", ReturnStatus.RECEIVED, ["SN-1"], quantity=2),
        ]
    )
    code, out, _ = _run(
        "fulfilment", "exceptions", "--kind", "return_serial_missing", "--ledger", ledger_url,
        "--json",
    )  # fmt: skip
    assert code == 0
    [row] = json.loads(out)
    assert (row["category"], row["rma_id"], row["line_id"], row["sku"]) == (
        "return", "R1", "l1", "SKU-A",
    )  # fmt: skip
    assert (row["expected"], row["actual"]) == (2, 1)
    code, out, _ = _run("fulfilment", "exceptions", "--ledger", ledger_url)
    assert code == 0
    assert "return_serial_missing" in out
    assert "rma R1" in out
    code, out, _ = _run("fulfilment", "order", "web:1", "--ledger", ledger_url)
    assert code == 0
    assert "return_serial_missing" in out


def test_order_shows_each_request_with_its_node_reference_in_80_columns(
    ledger: Ledger, ledger_url: str
) -> None:
    from tests.ledger.factory import TENANT, order, receipt, setup_master_data
    from tests.ledger.test_reconciliation import request

    long_id = "release/wh_a/20260302-w1/web:1"
    setup_master_data(ledger)
    ledger.apply(
        [
            receipt("ra", "SKU-A", "wh_a", 5),
            order("1", [("l1", "SKU-A", 2)]),
            request(long_id, "1", "wh_a", [("l1", "SKU-A", 2)]),
        ]
    )
    code, out, _ = _run("fulfilment", "order", "web:1", "--ledger", ledger_url)
    assert code == 0
    assert f"  {long_id}\n" in out  # the whole id, never cut to fit
    assert "    node reference: not recorded\n" in out
    shipment = "shp_" + "0a1b2c3d" * 4  # an EasyPost shipment id: the longest a node gives
    ledger.note_node_reference(TENANT, long_id, shipment)
    code, out, _ = _run("fulfilment", "order", "web:1", "--ledger", ledger_url)
    assert code == 0
    assert f"    node reference: {shipment} (" in out
    assert "    open at wh_a, released " in out
    assert "    line l1: 0/2 SKU-A\n" in out
    start = out.index("Fulfilment requests")
    block = out[start : out.index("Shipments", start)]
    assert max(len(text) for text in block.splitlines()) <= 80
    code, out, _ = _run("fulfilment", "order", "web:1", "--ledger", ledger_url, "--json")
    [shown] = json.loads(out)["requests"]
    assert shown["node_reference"] == shipment
    assert shown["node_reference_at"]
