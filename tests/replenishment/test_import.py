"""``hub procurement import``: file errors as FILE:LINE, idempotent re-import, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.ledger import Ledger
from hub.replenishment.csv_import import ProcurementImportError, import_procurement
from tests.replenishment import scenario

HEADER = "record,tenant,document,po_number,supplier,location,sku,quantity,date,expected_at\n"


def _counts(ledger: Ledger) -> dict[str, int]:
    tables = (
        "purchase_orders",
        "purchase_order_lines",
        "ship_notices",
        "ship_notice_lines",
        "procurement_receipts",
        "procurement_receipt_lines",
        "movements",
    )
    return {t: int(ledger._read(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}


def test_importing_twice_changes_nothing(ledger: Ledger, tmp_path: Path) -> None:
    scenario.master_data(ledger)
    path = scenario.write_csv(tmp_path)
    first = import_procurement(ledger, path)
    assert (first.applied, first.duplicate, first.refused) == (12, 0, ())
    before, positions = _counts(ledger), ledger.positions(scenario.TENANT)
    second = import_procurement(ledger, path)
    assert (second.applied, second.duplicate, second.refused) == (0, 12, ())
    assert _counts(ledger) == before
    assert ledger.positions(scenario.TENANT) == positions
    assert before["purchase_orders"] == 5
    assert before["ship_notices"] == 1
    assert before["procurement_receipts"] == 6
    assert before["movements"] == 6  # one receipt movement per receipt line


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("pox,acme,P,,s,wh_a,SKU-A,1,2026-03-01,2026-03-02\n", ":2: record must be po, asn or receipt"),
        ("po,acme,P,,s,wh_a,SKU-A,0,2026-03-01,2026-03-02\n", ":2: quantity must be above 0 on a po row"),
        ("po,acme,P,,s,wh_a,SKU-A,two,2026-03-01,2026-03-02\n", ":2: quantity must be a whole number"),
        ("po,acme,P,,,wh_a,SKU-A,1,2026-03-01,2026-03-02\n", ":2: po rows need supplier"),
        ("po,acme,P,,s,wh_a,SKU-A,1,2026-03-01,\n", ":2: po rows need expected_at"),
        ("po,acme,P,,s,wh_a,SKU-A,1,03/01/2026,2026-03-02\n", ":2: date '03/01/2026' is not an ISO 8601"),
        ("asn,acme,N,,s,wh_a,SKU-A,1,2026-03-01,2026-03-02\n", ":2: an asn row needs the po_number"),
        ("receipt,acme,R,,,,SKU-A,1,2026-03-01,\n", ":2: location is empty"),
        ("po,acme,P,,s,wh_a,SKU-A,1,2026-03-05,2026-03-02\n", ":2: po P: expected_at is earlier than ordered_at"),
        (
            "po,acme,P,,s,wh_a,SKU-A,1,2026-03-01,2026-03-02\npo,acme,P,,t,wh_a,SKU-B,1,2026-03-01,2026-03-02\n",
            ":3: po P: supplier differ from line 2",
        ),
    ],
)  # fmt: skip
def test_file_errors_name_the_line_and_nothing_is_applied(
    tmp_path: Path, rows: str, expected: str
) -> None:
    url = str(tmp_path / "ledger.sqlite3")
    Ledger.migrate(url)
    with Ledger(url) as ledger:
        scenario.master_data(ledger)
        path = scenario.write_csv(tmp_path, HEADER + rows)
        with pytest.raises(ProcurementImportError) as caught:
            import_procurement(ledger, path)
        assert f"{path}{expected}" in str(caught.value)
        assert ledger.processed_count() == 0


def test_every_problem_of_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    url = str(tmp_path / "ledger.sqlite3")
    Ledger.migrate(url)
    path = scenario.write_csv(
        tmp_path,
        HEADER
        + "po,acme,P,,s,wh_a,SKU-A,1,2026-03-01,2026-03-02\n"
        + "receipt,acme,R,P,,wh_a,SKU-A,-1,2026-03-03,\n"
        + "asn,acme,N,P,s,wh_a,SKU-A,1,2026-03-01,\n",
    )
    with Ledger(url) as ledger, pytest.raises(ProcurementImportError) as caught:
        import_procurement(ledger, path)
    assert str(caught.value).splitlines() == [
        f"{path}:3: quantity must be above 0 on a receipt row, not -1",
        f"{path}:4: asn rows need expected_at",
    ]


def test_header_problems_are_line_one(tmp_path: Path) -> None:
    url = str(tmp_path / "ledger.sqlite3")
    Ledger.migrate(url)
    missing = scenario.write_csv(tmp_path, "record,tenant,document\n", "missing.csv")
    unknown = scenario.write_csv(tmp_path, HEADER.strip() + ",colour\n", "unknown.csv")
    with Ledger(url) as ledger:
        with pytest.raises(
            ProcurementImportError, match=r"missing.csv:1: the header lacks location"
        ):
            import_procurement(ledger, missing)
        with pytest.raises(ProcurementImportError, match=r"unknown.csv:1: unknown columns colour"):
            import_procurement(ledger, unknown)


def test_a_document_the_ledger_refuses_is_reported_and_applies_once_fixed(
    ledger: Ledger, tmp_path: Path
) -> None:
    """An unknown SKU refuses its document only; after the catalog is fixed, importing the same
    file again applies just that document."""
    scenario.master_data(ledger)
    path = scenario.write_csv(
        tmp_path,
        HEADER
        + "po,acme,P-1,,s,wh_a,SKU-A,5,2026-03-01,2026-03-09\n"
        + "po,acme,P-2,,s,wh_a,SKU-Z,5,2026-03-01,2026-03-09\n",
    )
    report = import_procurement(ledger, path)
    assert report.applied == 1
    assert len(report.refused) == 1
    assert report.refused[0].startswith(f"{path}:3: refused by the ledger: SKU 'SKU-Z'")
    ledger.upsert_sku(scenario.TENANT, "SKU-Z")
    again = import_procurement(ledger, path)
    assert (again.applied, again.duplicate, again.refused) == (1, 1, ())


def test_cli_import_exit_codes_and_json(ledger_url: str, tmp_path: Path) -> None:
    Ledger.migrate(ledger_url)
    with Ledger(ledger_url) as ledger:
        scenario.master_data(ledger)
    runner = CliRunner()
    path = scenario.write_csv(tmp_path)
    first = runner.invoke(
        app, ["procurement", "import", str(path), "--ledger", ledger_url, "--json"]
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"applied": 12, "duplicate": 0, "refused": []}
    second = runner.invoke(app, ["procurement", "import", str(path), "--ledger", ledger_url])
    assert second.exit_code == 0, second.output
    assert "applied 0 documents, 12 already imported" in second.output
    bad = scenario.write_csv(
        tmp_path, HEADER + "po,acme,P,,s,wh_a,SKU-A,x,2026-03-01,2026-03-02\n", "bad.csv"
    )
    third = runner.invoke(app, ["procurement", "import", str(bad), "--ledger", ledger_url])
    assert third.exit_code == 1
    assert f"{bad}:2: quantity must be a whole number" in third.output
