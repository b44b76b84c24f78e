"""``bench.ingress`` and ``bench.scale`` run end to end at a tiny size on real Redis and PostgreSQL.

Pass criterion: each prints one JSON object with the keys the issue names, and its figures agree
with each other (never with a speed): the ingress's rate is its accepted answers over the measured
window and it refused none of the correctly signed webhooks; every worker count drains the same
workload and applies the same messages to its own ledger.
"""

from __future__ import annotations

from tests.bench.runner import run_bench


def _servers(postgres_admin_url: str, redis_url: str) -> dict[str, str]:
    return {"HUB_BENCH_POSTGRES_URL": postgres_admin_url, "HUB_BENCH_REDIS_URL": redis_url}


def test_ingress_accepts_every_signed_webhook_and_reports_its_rate(
    postgres_admin_url: str, redis_url: str
) -> None:
    result = run_bench("ingress", "--seconds", "1.5", "--warmup", "0.5", "--bodies", "40",
                       "--concurrency", "4", env=_servers(postgres_admin_url, redis_url))  # fmt: skip
    assert set(result["statuses"]) == {"200"}
    assert result["count"] == result["statuses"]["200"] > 0
    assert result["requests_per_s"] == round(result["count"] / 1.5, 1)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["transport"] == "redis-streams"


def test_scale_drains_the_same_workload_with_one_and_two_workers(
    postgres_admin_url: str, redis_url: str
) -> None:
    result = run_bench("scale", "--messages", "200", "--workers", "1", "2",
                       env=_servers(postgres_admin_url, redis_url), timeout=400)  # fmt: skip
    assert set(result["msgs_per_s"]) == {"1", "2"}
    assert result["speedup"]["1"] == 1.0
    runs = {run["workers"]: run for run in result["runs"]}
    assert set(runs) == {1, 2}
    assert 0 < runs[1]["applied_to_ledger"] == runs[2]["applied_to_ledger"] <= 200
    for run in runs.values():
        assert result["msgs_per_s"][str(run["workers"])] == run["msgs_per_s"] > 0
