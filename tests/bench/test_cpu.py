"""``bench.cpu`` charges CPU time to the party that spent it: this process, the PostgreSQL server
or the Redis server, so ``bench.throughput``'s per-message CPU and its ceiling mean something."""

from __future__ import annotations

import time

import psycopg
import pytest
import redis

from bench.cpu import CpuMeter, CpuUse


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_busy_loop_here_is_python_time() -> None:
    meter = CpuMeter()
    meter.start()
    _spin(0.3)
    use = meter.stop()
    assert use.python >= 0.25
    assert use.postgres < 0.1
    assert use.redis < 0.1
    assert meter.use == use


def test_a_query_that_burns_is_charged_to_postgres(postgres_admin_url: str) -> None:
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        meter = CpuMeter()
        meter.start()
        conn.execute("SELECT sum(i) FROM generate_series(1, 6000000) AS i").fetchone()
        use = meter.stop()
    assert use.postgres >= 0.2, use
    assert use.python < use.postgres / 2


def test_a_script_that_burns_is_charged_to_redis(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        meter = CpuMeter()
        meter.start()
        client.eval("local x = 0 for i = 1, 100000000 do x = x + i end return 0", 0)
        use = meter.stop()
    finally:
        client.close()
    assert use.redis >= 0.2, use
    assert use.python < use.redis / 2


def test_per_message_figures_and_the_ceiling() -> None:
    use = CpuUse(python=0.6, postgres=0.3, redis=0.1)
    assert use.per_message_us(1000) == {
        "python": 600.0,
        "postgres": 300.0,
        "redis": 100.0,
        "total": 1000.0,
    }
    # 1 ms of CPU per message: two cores can do at most 2,000 a second however it is overlapped
    assert use.ceiling(1000, cores=2) == pytest.approx(2000.0)
