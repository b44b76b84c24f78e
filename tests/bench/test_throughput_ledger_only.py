"""``bench.throughput --ledger-only`` applies the benchmark's workload straight to a PostgreSQL
ledger of its own and removes it afterwards (a tiny size; its figure is never compared with a
speed)."""

from __future__ import annotations

import psycopg

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
    assert _bench_databases(postgres_admin_url) == before
