"""Replenishment figures on the fixed history of ``scenario.py``, against hand computation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.ledger import Ledger
from hub.replenishment.csv_import import import_procurement
from hub.replenishment.policy import ReplenishmentPolicy
from hub.replenishment.report import report_json
from hub.replenishment.suggest import evaluate
from tests.replenishment import scenario
from tests.replenishment.scenario import build

POLICY = ReplenishmentPolicy(history_days=14)  # alpha 0.2, 95% service, 7-day review


@pytest.fixture
def report(ledger: Ledger, tmp_path: Path) -> dict[str, Any]:
    build(ledger, tmp_path)
    return report_json(evaluate(ledger, POLICY, scenario.AS_OF))


def _item(report: dict[str, Any], sku: str, location: str, section: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        i for i in report[section] if i["sku"] == sku and i["location"] == location
    ]
    assert len(items) == 1, report[section]
    return items[0]


def test_sku_a_demand_rate_and_seasonal_index(report: dict[str, Any]) -> None:
    """Window: the 14 whole days before 2026-03-16, i.e. 03-02 (Mon) .. 03-15 (Sun).

    x = 4 4 4 4 4 2 2 | 4 4 4 4 4 2 6 (03-10: 4 + 3 reserved - 3 released by the cancellation).
    Mean m = 52 / 14 = 26/7 = 3.714286.
    Weekday means: Mon..Fri 4, Sat 2, Sun (2 + 6)/2 = 4, so S = 4/m = 14/13 = 1.076923 for
    Mon..Fri and Sun, S_Sat = 2/m = 7/13 = 0.538462 (they sum to 7: no normalisation needed).
    y = x / S: every day 26/7 except week 1 Sunday 2 * 13/14 = 13/7 and week 2 Sunday
    6 * 13/14 = 39/7.
    L starts at m = 26/7 and stays there until week 1 Sunday: L = 0.2 * 13/7 + 0.8 * 26/7
    = 23.4/7. Six days of 26/7: L = 26/7 - (2.6/7) * 0.8^6 = (26 - 0.6815744)/7 = 25.3184256/7.
    Week 2 Sunday: L = 0.2 * 39/7 + 0.8 * 25.3184256/7 = 28.05474048/7 = 4.007820.
    sigma_d: mean of y is 26/7; squared deviations (13/7)^2 twice = 338/49; / 13 = 26/49;
    sqrt = sqrt(26)/7 = 0.728431.
    """
    demand = _item(report, "SKU-A", "wh_a", "suggestions")["demand"]
    assert demand["days"] == 14
    assert demand["mean"] == pytest.approx(26 / 7, abs=1e-4)
    assert demand["seasonal_index"] == pytest.approx([14 / 13] * 5 + [7 / 13, 14 / 13], abs=1e-4)
    assert demand["rate"] == pytest.approx(4.007820, abs=1e-4)
    assert demand["deviation"] == pytest.approx(math.sqrt(26) / 7, abs=1e-4)


def test_sku_a_lead_time_safety_stock_reorder_point_and_quantity(report: dict[str, Any]) -> None:
    """Lead times of acme_supply: PO-1 10 days, PO-2 14, PO-3 12: mean 12, sample deviation
    sqrt((4 + 4 + 0) / 2) = 2.
    z(0.95) = 1.644854. SS = z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2)
    = 1.644854 * sqrt(12 * 26/49 + 4.007820^2 * 4) = 1.644854 * sqrt(6.367347 + 64.250487)
    = 1.644854 * 8.403442 = 13.822432.
    ROP = d * LT + SS = 4.007820 * 12 + 13.822432 = 48.093841 + 13.822432 = 61.916273.
    Position: received 30 + 30 + 20 = 80, ordered by customers 52, shipped 44 (all but 03-14's
    2 and 03-15's 6): on hand 36, allocated 8; on order PO-3's missing 10; in transit 0.
    IP = 36 - 8 + 0 + 10 = 38 <= ROP: reorder.
    Order up to ROP + d * 7 = 61.916273 + 28.054741 = 89.971013; quantity = ceil(89.971013 - 38)
    = ceil(51.971013) = 52. Days of cover = (36 - 8) / 4.007820 = 6.986342.
    """
    item = _item(report, "SKU-A", "wh_a", "suggestions")
    assert item["supplier"] == "acme_supply"
    assert item["lead_time_days"] == {
        "mean": 12.0,
        "deviation": 2.0,
        "samples": 3,
        "source": "measured",
    }
    assert item["safety_stock"] == pytest.approx(13.822432, abs=1e-4)
    assert item["reorder_point"] == pytest.approx(61.916273, abs=1e-4)
    assert (item["on_hand"], item["allocated"], item["on_order"]) == (36, 8, 10)
    assert item["inventory_position"] == 38
    assert item["order_up_to"] == pytest.approx(89.971013, abs=1e-4)
    assert item["quantity"] == 52
    assert item["days_of_cover"] == pytest.approx(6.986342, abs=1e-4)


def test_skus_without_usable_history_get_no_suggestion_and_say_why(
    report: dict[str, Any],
) -> None:
    """SKU-N was received but never ordered; SKU-S was first ordered on 03-12, so 4 days of
    history (03-12 .. 03-15) against the 7 needed; SKU-B 3 days (03-13 .. 03-15)."""
    reasons = {(i["sku"], i["location"]): i["reason"] for i in report["no_suggestion"]}
    assert reasons == {
        ("SKU-N", "wh_a"): "no demand history: no customer order has reserved SKU-N at wh_a",
        ("SKU-S", "wh_a"): "only 4 days of demand history since its first order on 2026-03-12 "
        "(needs 7)",
        ("SKU-B", "wh_a"): "only 3 days of demand history since its first order on 2026-03-13 "
        "(needs 7)",
        ("SKU-B", "wh_b"): "only 3 days of demand history since its first order on 2026-03-13 "
        "(needs 7)",
    }
    assert [i["sku"] for i in report["suggestions"]] == ["SKU-A"]


def test_a_larger_position_is_above_the_reorder_point(ledger: Ledger, tmp_path: Path) -> None:
    """Receiving 30 more SKU-A lifts the position to 68 > ROP 61.92: no order, same figures."""
    build(ledger, tmp_path)
    extra = "record,tenant,document,location,sku,quantity,date\nreceipt,acme,R-X,wh_a,SKU-A,30,2026-03-15\n"
    assert import_procurement(ledger, scenario.write_csv(tmp_path, extra, "x.csv")).applied == 1
    data = report_json(evaluate(ledger, POLICY, scenario.AS_OF))
    item = _item(data, "SKU-A", "wh_a", "above_reorder_point")
    assert item["inventory_position"] == 68
    assert item["quantity"] is None
    assert item["reorder_point"] == pytest.approx(61.916273, abs=1e-4)


def test_eoq_raises_the_quantity_when_costs_are_configured(ledger: Ledger, tmp_path: Path) -> None:
    """EOQ = sqrt(2 * 365 * d * K / h) = sqrt(2 * 365 * 4.007820 * 50 / 2) = sqrt(73142.72)
    = 270.45; ceil 271 > the 52 the order-up-to level asks for."""
    build(ledger, tmp_path)
    policy = ReplenishmentPolicy(history_days=14, order_cost=50, holding_cost=2)
    data = report_json(evaluate(ledger, policy, scenario.AS_OF))
    assert _item(data, "SKU-A", "wh_a", "suggestions")["quantity"] == 271


def test_cli_suggest_json_prints_the_same_figures(ledger_url: str, tmp_path: Path) -> None:
    Ledger.migrate(ledger_url)
    with Ledger(ledger_url) as ledger:
        build(ledger, tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["replenish", "suggest", "--ledger", ledger_url, "--json", "--history-days", "14",
         "--as-of", "2026-03-16T09:00:00+00:00"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    item = _item(data, "SKU-A", "wh_a", "suggestions")
    assert item["quantity"] == 52
    assert item["reorder_point"] == pytest.approx(61.916273, abs=1e-4)
    human = runner.invoke(
        app,
        ["replenish", "suggest", "--ledger", ledger_url, "--history-days", "14",
         "--as-of", "2026-03-16T09:00:00+00:00"],
    )  # fmt: skip
    assert human.exit_code == 0, human.output
    assert "no suggestion for SKU-N at wh_a: no demand history" in human.output
    assert "inbound delay (late_notice): PO-4 from beta_parts" in human.output
    supplier_row = next(line for line in human.output.splitlines() if "acme_supply" in line)
    assert "33%" in supplier_row
    assert "67%" in supplier_row
