"""``hub release plan|run`` on the day's ledger: --json, --location, the active deployment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.deployments import DeploymentStore
from hub.ledger.dialect import SqliteDialect
from hub.release.cli import release_app
from tests.release.scenario import DEPLOYMENT, MORNING, build_day, write_deployment
from tests.release.test_day import MORNING_PLAN

runner = CliRunner()


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    path = str(tmp_path / "ledger.sqlite3")
    build_day(path)
    return path


def invoke(*args: str) -> Any:
    return runner.invoke(release_app, list(args), catch_exceptions=False)


def as_summary(tenant: dict[str, Any]) -> dict[str, Any]:
    return {
        wave["location"]: {
            "wave": wave["wave"],
            "in": [(d["order"], d["reason"]) for d in wave["released"]],
            "out": {d["order"]: d["reason"] for d in wave["held"]},
        }
        for wave in tenant["waves"]
    }


def test_plan_json_shows_every_order_in_or_out_with_its_reason(ledger: str, tmp_path: Path) -> None:
    config = str(write_deployment(tmp_path))
    result = invoke(
        "plan", "--ledger", ledger, "--config", config, "--at", MORNING.isoformat(), "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["as_of"] == "2026-03-02T15:00:00+00:00"
    [tenant] = data["tenants"]
    assert tenant["tenant"] == "acme"
    assert as_summary(tenant) == {k: {**v, "in": list(v["in"])} for k, v in MORNING_PLAN.items()}
    east = next(w for w in tenant["waves"] if w["location"] == "wh_east")
    assert east["capacity"]["orders_per_wave"] == 3
    assert east["units"] == 4
    first = east["released"][0]
    assert first == {
        "order": "web:E-X1",
        "location": "wh_east",
        "released": True,
        "reason": "due",
        "detail": first["detail"],
        "service_level": "express",
        "units": 1,
        "rank": 1,
        "ship_by": "2026-03-02",
        "at_risk": False,
    }


def test_location_option_shows_one_node(ledger: str, tmp_path: Path) -> None:
    config = str(write_deployment(tmp_path))
    at = MORNING.isoformat()
    result = invoke("plan", "--ledger", ledger, "-c", config, "--at", at, "--location", "shipbob_tx", "--json")  # fmt: skip
    [tenant] = json.loads(result.stdout)["tenants"]
    assert [w["location"] for w in tenant["waves"]] == ["shipbob_tx"]
    human = invoke("plan", "--ledger", ledger, "-c", config, "--at", at, "--location", "shipbob_tx")  # fmt: skip
    assert "acme / shipbob_tx wave 20260302-w1" in human.stdout
    assert "day_capacity" in human.stdout
    assert "web:T-3" in human.stdout


def test_run_releases_the_wave_then_the_next_plan_is_wave_two(ledger: str, tmp_path: Path) -> None:
    config = str(write_deployment(tmp_path))
    at = MORNING.isoformat()
    result = invoke("run", "--ledger", ledger, "-c", config, "--at", at, "--json")
    assert result.exit_code == 0, result.output
    [tenant] = json.loads(result.stdout)["tenants"]
    outcomes = {r["order"]: (r["location"], r["wave"], r["outcome"]) for r in tenant["results"]}
    assert outcomes == {
        key: (location, "20260302-w1", "applied")
        for location, wave in MORNING_PLAN.items()
        for key, _ in wave["in"]
    }
    assert all(r["request_id"].startswith("release/") for r in tenant["results"])
    after = json.loads(
        invoke("plan", "--ledger", ledger, "-c", config, "--at", at, "--json").stdout
    )
    east = next(w for w in after["tenants"][0]["waves"] if w["location"] == "wh_east")
    assert east["wave"] == "20260302-w2"
    assert east["capacity"]["released_today_before"] == {"orders": 3, "units": 4, "waves": 1}
    human = invoke("run", "--ledger", ledger, "-c", config, "--at", at)
    assert human.exit_code == 0
    assert "Released" in human.stdout
    assert "amazon:E-S1" in human.stdout


def test_without_config_the_active_deployment_s_policy_applies(ledger: str) -> None:
    db = SqliteDialect(ledger)
    try:
        DeploymentStore(db).record(DEPLOYMENT, deployed_by="test")
    finally:
        db.close()
    result = invoke("plan", "--ledger", ledger, "--at", MORNING.isoformat(), "--json")
    [tenant] = json.loads(result.stdout)["tenants"]
    assert as_summary(tenant)["wh_west"]["out"] == {"web:W-1": "day_capacity"}


def test_defaults_without_any_deployment(ledger: str) -> None:
    result = invoke("plan", "--ledger", ledger, "--at", MORNING.isoformat(), "--json")
    [tenant] = json.loads(result.stdout)["tenants"]
    east = next(w for w in tenant["waves"] if w["location"] == "wh_east")
    assert east["capacity"]["orders_per_wave"] == 100
    assert len(east["released"]) == 6  # all but the incomplete order


def test_usage_errors_exit_1_with_the_reason(ledger: str, tmp_path: Path) -> None:
    naive = invoke("plan", "--ledger", ledger, "--at", "2026-03-02T10:00:00")
    assert naive.exit_code == 1
    assert "no time zone" in naive.stderr
    missing = invoke("plan", "--ledger", str(tmp_path / "none.sqlite3"))
    assert missing.exit_code == 1
    assert "no ledger at" in missing.stderr
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    unmigrated = invoke("plan", "--ledger", str(empty))
    assert unmigrated.exit_code == 1
    assert "hub ledger migrate" in unmigrated.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        DEPLOYMENT.replace("wh_west:\n          timezone", "wh_wset:\n          timezone")
    )
    invalid = invoke("plan", "--ledger", ledger, "-c", str(broken))
    assert invalid.exit_code == 1
    assert "did you mean 'wh_west'?" in invalid.stderr


def test_hub_release_is_a_command_of_hub(ledger: str) -> None:
    from hub.cli import app

    result = runner.invoke(
        app, ["release", "plan", "--ledger", ledger, "--tenant", "acme", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [t["tenant"] for t in json.loads(result.stdout)["tenants"]] == ["acme"]
