"""``hub demo``: a day of every vendor through the embedded hub, checked against the ledger it
leaves and against what the scenario did."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulation import generate

ORDERS, SEED = 300, 7


def _hub(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_HOME": str(home)}
    env.pop("HUB_LEDGER_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    place = tmp_path_factory.mktemp("demo")
    home = place / "home"
    started = time.monotonic()
    done = _hub("demo", "--orders", str(ORDERS), "--seed", str(SEED), "--json",
                home=home, cwd=place)  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    db = sqlite3.connect(home / "ledger.sqlite3")
    yield {"summary": summary, "elapsed": elapsed, "home": home, "place": place, "db": db}
    db.close()


@pytest.fixture(scope="module")
def scenario():
    return generate(SEED, ORDERS)


def test_it_finishes_well_under_a_minute_with_the_promised_figures(run) -> None:
    summary = run["summary"]
    assert run["elapsed"] < 60
    for key in ("orders_total", "oversold_units", "dead_letters", "reviews", "exceptions"):
        assert isinstance(summary[key], int)
    latency = summary["latency_ms"]
    for key in ("webhook_to_ledger", "webhook_to_channel_push"):
        assert 0 < latency[f"{key}_p50"] <= latency[f"{key}_p99"]


def test_no_unit_is_oversold_while_the_flash_sale_sells_out_everywhere(run, scenario) -> None:
    summary = run["summary"]
    assert summary["oversold_units"] == 0
    for product in scenario.catalogue.flash:
        row = summary["flash_sale"][product.sku]
        assert row["demand"] > row["stock"] == row["sold"]
        assert set(row["available_to_promise"].values()) == {0}
        assert set(row["last_pushed"].values()) == {0}  # each channel was told: sold out


def test_forgeries_are_refused_and_never_reach_the_ledger(run, scenario) -> None:
    webhooks = run["summary"]["webhooks"]
    assert webhooks["forged_sent"] == webhooks["forged_refused"] == len(scenario.facts.forged)
    real = {key for keys in scenario.facts.orders.values() for key in keys}
    stored = {key for (key,) in run["db"].execute("SELECT order_key FROM orders")}
    assert stored <= real


def test_each_duplicate_counts_once(run, scenario) -> None:
    webhooks = run["summary"]["webhooks"]
    assert webhooks["duplicates_delivered"] == len(scenario.facts.duplicates)
    assert webhooks["late_delivered"] == len(scenario.facts.late) > 0
    assert run["summary"]["orders_total"] == scenario.facts.orders_total
    # a payment delivered twice is captured once: nothing captured more than the order's total
    doubled = (
        run["db"]
        .execute("SELECT COUNT(*) FROM orders WHERE captured_minor > total_minor")
        .fetchone()[0]
    )
    assert doubled == 0
    captured = (
        run["db"]
        .execute(
            "SELECT COUNT(*) FROM orders WHERE channel = 'woo_us' AND captured_minor = total_minor"
        )
        .fetchone()[0]
    )
    assert captured > 0


def test_the_summary_agrees_with_the_ledger_it_leaves(run, scenario) -> None:
    db, summary = run["db"], run["summary"]
    stored = {k for (k,) in db.execute("SELECT order_key FROM orders")}
    held = {k for (k,) in db.execute(
        "SELECT order_key FROM held_messages WHERE status = 'open' AND order_key IS NOT NULL")}  # fmt: skip
    assert summary["orders_total"] == len(stored | held)
    queues = dict(db.execute(
        "SELECT queue, COUNT(*) FROM held_messages WHERE status = 'open' GROUP BY queue"))  # fmt: skip
    assert summary["reviews"] == queues.get("review", 0) > 0
    assert summary["exceptions"] == queues.get("exception", 0) > 0
    dead = db.execute("SELECT COUNT(*) FROM dead_letters WHERE status = 'open'").fetchone()[0]
    assert summary["dead_letters"] == dead
    for sku, reserved, shipped in db.execute(
        "SELECT sku, SUM(reserved), SUM(shipped) FROM order_lines WHERE sku IS NOT NULL GROUP BY sku"
    ):
        assert reserved + shipped <= scenario.catalogue.total_stock(sku)
    released = db.execute("SELECT COUNT(*) FROM orders WHERE released = 1").fetchone()[0]
    assert 0 < summary["released_to_3pl"] <= released  # each released order at most once
    states = dict(db.execute("SELECT state, COUNT(*) FROM orders GROUP BY state"))
    assert {k: v for k, v in summary["orders_by_state"].items() if k != "held"} == states
    # the rule-breaking orders wait for a person instead of reaching the ledger
    rule_breakers = set(scenario.facts.price_mismatch + scenario.facts.high_value
                        + scenario.facts.unknown_sku)  # fmt: skip
    assert rule_breakers <= held
    assert not rule_breakers & stored


def test_operator_commands_find_the_demo_ledger_without_being_told(run, scenario) -> None:
    positions = _hub("ledger", "positions", "--json", home=run["home"], cwd=run["place"])
    assert positions.returncode == 0, positions.stderr
    skus = {p["sku"] for p in json.loads(positions.stdout)["positions"]}
    assert {p.sku for p in scenario.catalogue.products} <= skus
    key = scenario.facts.shipped[0]
    order = _hub("orders", "show", key, "--json", home=run["home"], cwd=run["place"])
    assert order.returncode == 0, order.stderr
    assert key in order.stdout
    held = _hub("review", "list", "--json", home=run["home"], cwd=run["place"])
    summary = run["summary"]
    assert len(json.loads(held.stdout)) == summary["reviews"] + summary["exceptions"]
    dead = _hub("dlq", "list", "--json", home=run["home"], cwd=run["place"])
    assert len(json.loads(dead.stdout)) == summary["dead_letters"]
    (message,) = (
        run["db"]
        .execute(
            "SELECT message_id FROM audit_log WHERE stage = 'deliver' AND order_key = ? LIMIT 1",
            (key,),
        )
        .fetchone()
    )
    trace = _hub("trace", message, "--json", home=run["home"], cwd=run["place"])
    stages = [s["stage"] for s in json.loads(trace.stdout)["stages"]]
    assert stages[0] == "translate"
    assert "deliver" in stages


def test_the_deployment_it_writes_is_valid_and_holds_no_secret(run) -> None:
    folder = run["place"] / ".hub-demo"
    deployment = (folder / "deploy.yaml").read_text()
    values = [p.read_text().strip() for p in (folder / "secrets").iterdir()]
    assert len(values) >= 10
    assert not [v for v in values if v in deployment]
    checked = _hub("validate", str(folder / "deploy.yaml"), home=run["home"], cwd=run["place"])
    assert checked.returncode == 0, checked.stderr


def test_a_ledger_the_demo_did_not_make_is_left_alone(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ledger.sqlite3").write_bytes(b"precious")
    done = _hub("demo", "--orders", "10", "--json", home=home, cwd=tmp_path)
    assert done.returncode == 1
    assert "did not make" in done.stderr
    assert (home / "ledger.sqlite3").read_bytes() == b"precious"


def test_the_warehouses_mistakes_become_fulfilment_exceptions(run, scenario) -> None:
    """Each mis-pick ships another SKU (an extra item; the ordered line stays open) and each
    untracked parcel is a missing_tracking exception; the summary counts them as the ledger does."""
    db, summary = run["db"], run["summary"]
    assert scenario.facts.mispicked
    assert scenario.facts.untracked
    found: dict[str, set[str]] = {}
    for kind, order_key in db.execute(
        "SELECT kind, order_key FROM fulfilment_exceptions WHERE status = 'open'"
    ):
        found.setdefault(kind, set()).add(order_key)
    assert found.get("extra_item", set()) == set(scenario.facts.mispicked)
    assert found.get("missing_tracking", set()) == set(scenario.facts.untracked)
    assert summary["fulfilment_exceptions"] == {kind: len(keys) for kind, keys in found.items()}
    for key in scenario.facts.mispicked:
        (state,) = db.execute("SELECT state FROM orders WHERE order_key = ?", (key,)).fetchone()
        assert state != "shipped"  # the ordered item never left


def test_the_summary_shows_the_dashboards_kpis(run, scenario) -> None:
    """The KPIs an operations leader reads on the dashboard, as the demo left the ledger."""
    from hub.reports import Reports

    kpis = run["summary"]["kpis"]
    reports = Reports(str(run["home"] / "ledger.sqlite3"))
    try:
        report = reports.overview(scenario.catalogue.tenant)
    finally:
        reports.close()
    assert kpis == {
        "clean_order_rate": report.clean_order_rate,
        "fill_rate": report.fill_rate,
        "perfect_order_rate": report.perfect_order_rate,
        "allocation_accuracy": report.allocation_accuracy,
        "on_time_release_rate": report.on_time_release_rate,
    }
    assert kpis["allocation_accuracy"] is not None  # ShipBob shipped released orders
    assert kpis["on_time_release_rate"] is not None  # the waves carry commitments
    assert 0 < kpis["perfect_order_rate"] < 1  # the untracked parcels are not perfect
