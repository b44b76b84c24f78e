"""``bench.throughput`` at a tiny size on real Redis and PostgreSQL: the hub, the floor and the
embedded default each drain the workload, ``--ledger-only`` applies it straight to a PostgreSQL
ledger of its own, and each run's CPU per message adds up and gives its ceiling. The figures are
checked against each other, never against a speed."""

from __future__ import annotations

import psycopg
import pytest

from tests.bench.runner import run_bench


def _bench_databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bench_throughput_%'"
        ).fetchall()
    return {row[0] for row in rows}


def test_ledger_only_reports_the_ledgers_rate_and_cleans_up(postgres_admin_url: str) -> None:
    before = _bench_databases(postgres_admin_url)
    result = run_bench(
        "throughput",
        "--messages",
        "120",
        "--batch",
        "50",
        "--ledger-only",
        env={"HUB_BENCH_POSTGRES_URL": postgres_admin_url},
    )
    assert result["messages"] == 120
    assert result["batch"] == 50
    assert result["ledger_msgs_per_s"] > 0
    assert "hub_msgs_per_s" not in result  # no router, no floor
    _assert_cpu_figures(result, ["ledger"])
    assert result["cpu_us_per_msg"]["ledger"]["postgres"] > 0
    assert _bench_databases(postgres_admin_url) == before


def _assert_cpu_figures(result: dict, runs: list[str]) -> None:  # type: ignore[type-arg]
    assert sorted(result["cpu_us_per_msg"]) == sorted(runs)
    for run in runs:
        figures = result["cpu_us_per_msg"][run]
        assert figures["python"] > 0
        parts = figures["python"] + figures["postgres"] + figures["redis"]
        assert figures["total"] == pytest.approx(parts, abs=0.2)
        # the ceiling is the cores' CPU per second over the CPU per message
        expected = result["cores"] * 1e6 / figures["total"]
        assert result["cpu_ceiling_msgs_per_s"][run] == pytest.approx(expected, rel=0.01)


def test_the_hub_the_floor_and_the_embedded_default_each_drain_the_workload(
    postgres_admin_url: str, redis_url: str
) -> None:
    before = _bench_databases(postgres_admin_url)
    result = run_bench(
        "throughput",
        "--messages",
        "150",
        "--batch",
        "50",
        env={"HUB_BENCH_POSTGRES_URL": postgres_admin_url, "HUB_BENCH_REDIS_URL": redis_url},
    )
    assert result["messages"] == 150
    assert result["hub_msgs_per_s"] > 0
    assert result["floor_msgs_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["hub_msgs_per_s"] / result["floor_msgs_per_s"], abs=0.002
    )
    assert result["embedded_msgs_per_s"] > 0
    _assert_cpu_figures(result, ["floor", "hub", "embedded"])
    # the hub's ledger and the floor's insert run on PostgreSQL, the embedded default on SQLite
    assert result["cpu_us_per_msg"]["hub"]["postgres"] > 0
    assert result["cpu_us_per_msg"]["embedded"]["postgres"] == 0
    assert _bench_databases(postgres_admin_url) == before
