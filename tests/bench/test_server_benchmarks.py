"""``bench.ingress`` and ``bench.scale`` run end to end at a tiny size on real Redis and PostgreSQL.

Pass criterion: each prints one JSON object with the keys the issue names, and its figures agree
with each other (never with a speed): the ingress's rate is its accepted answers over the measured
window and it refused none of the correctly signed webhooks; every worker count drains the whole
workload into a ledger of its own, and nothing of a run is left on the servers.
"""

from __future__ import annotations

import psycopg
import pytest
import redis

from bench.wrk import available as wrk_available
from tests.bench.runner import run_bench


def _servers(postgres_admin_url: str, redis_url: str) -> dict[str, str]:
    return {"HUB_BENCH_POSTGRES_URL": postgres_admin_url, "HUB_BENCH_REDIS_URL": redis_url}


@pytest.mark.parametrize(
    "generator",
    [
        "httpx",
        pytest.param(
            "wrk", marks=pytest.mark.skipif(not wrk_available(), reason="wrk is not installed")
        ),
    ],
)
def test_ingress_accepts_every_signed_webhook_and_reports_its_rate(
    generator: str, postgres_admin_url: str, redis_url: str
) -> None:
    result = run_bench("ingress", "--seconds", "1", "--warmup", "0", "--bodies", "40",
                       "--concurrency", "4", "--generator", generator,
                       env=_servers(postgres_admin_url, redis_url))  # fmt: skip
    assert result["generator"] == generator
    assert result["refused"] == result["errors"] == 0
    assert result["count"] == result["accepted"] > 0
    # the window is printed to 3 decimals, the rate to 1
    assert result["requests_per_s"] == pytest.approx(result["accepted"] / result["seconds"], 0.01)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["transport"] == "redis-streams"


def _leftovers(postgres_admin_url: str, redis_url: str) -> tuple[int, int]:
    """Databases and Redis keys named as ``bench.scale`` names its own."""
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'bench\\_scale\\_%'"
        ).fetchone()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = sum(1 for _ in client.scan_iter("bench-scale-*", count=1000))
    finally:
        client.close()
    return (int(row[0]) if row else 0), keys


def test_scale_drains_the_same_workload_with_one_and_two_workers(
    postgres_admin_url: str, redis_url: str
) -> None:
    before = _leftovers(postgres_admin_url, redis_url)
    result = run_bench("scale", "--messages", "200", "--workers", "1", "2",
                       env=_servers(postgres_admin_url, redis_url), timeout=400)  # fmt: skip
    # each run made its own database and key prefix, and removed them
    assert _leftovers(postgres_admin_url, redis_url) == before
    assert set(result["msgs_per_s"]) == {"1", "2"}
    assert result["speedup"]["1"] == 1.0
    runs = {run["workers"]: run for run in result["runs"]}
    assert set(runs) == {1, 2}
    for run in runs.values():
        # which shipments find their stock depends on the order the workers happen to apply in
        assert 0 < run["applied_to_ledger"] <= 200
        assert result["msgs_per_s"][str(run["workers"])] == run["msgs_per_s"] > 0
        postgres = run["postgres"]
        assert postgres["samples"] > 0
        assert 0 <= postgres["lock_wait_share"] <= 1
        assert postgres["deadlocks"] >= 0
