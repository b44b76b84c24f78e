"""A worker killed with SIGKILL mid-run, then restarted: nothing lost, nothing applied twice.

``test_sigkill_mid_run_loses_and_duplicates_nothing``: 10,000 Shopify order messages are preloaded
on Redis Streams; a ``hub worker`` process is killed with SIGKILL when a random share (20 to 80 %)
of them is applied, and started again under the same consumer name. Pass criteria: when the run
completes, the PostgreSQL ledger has applied every message exactly once (the processed count, the
allocations of the orders and the journal agree with the expected figures), and no entry is left
pending.

``test_sigkill_at_20_random_points`` (notes CR-1, 20 seeds): the same with 300 messages a seed, in
batches of 25 so the kill lands inside a batch, and the kill point drawn from the seed (5 to 67 %
of the run applied, then 0 to 80 ms more, so it falls anywhere between reading, committing and
acknowledging). Pass criteria, for every seed: the same as above, and the invariant checker passes
(every message has a terminal outcome in the audit log, exactly one processed row per audited
effect, the journal sums to the positions). No effect may lack its ``deliver`` record: the ledger
writes a batch's audit records in the transaction of its effects, so a kill between the ledger's
commit and the router's acknowledgement loses none (before, the router wrote them after the commit
and a kill there lost the records of the batches in flight). The runs are smaller than the notes'
10,000 messages so that the 20 seeds fit in about three minutes on two cores; each still kills a
worker mid-batch.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis.asyncio import Redis

from hub.ledger.store import Ledger
from router.ports import RawMessage
from router.transport.redis_streams import RedisStreamsConfig, RedisStreamsPublisher, ensure_groups
from tests.conftest import REDIS_URL
from tests.faults.invariants import check_invariants
from tests.support import ROOT, acme_tenant, paid_order, receipt

MESSAGES = int(os.environ.get("HUB_CRASH_MESSAGES", "10000"))
SEED_MESSAGES = 300


def _deployment(prefix: str, ledger_url: str, batch_size: int = 200) -> dict[str, Any]:
    return {
        "version": 1,
        "tenants": {"acme": acme_tenant(token_env="T", secret_env="S")},
        "broker": {
            "kind": "redis",
            "url": REDIS_URL,
            "partitions": 4,
            "prefix": prefix,
            "claim_idle_ms": 1500,
            "batch_size": batch_size,
        },
        "ledger": {"url": ledger_url},
    }


def _raws(messages: int) -> list[RawMessage]:
    return [
        RawMessage(
            id=f"crash-{number}",
            tenant="acme",
            instance="shopify_us",
            event="orders/create",
            body=json.dumps(paid_order(8_000_000_000_000_000_000 + number)).encode(),
            received_at=datetime(2026, 3, 2, tzinfo=UTC),
        )
        for number in range(messages)
    ]


def _stock(ledger: Ledger, messages: int) -> None:
    ledger.upsert_location("acme", "wh_east")
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        ledger.upsert_sku("acme", sku)
    ledger.apply([receipt("TSHIRT-RED-M", 2 * messages), receipt("MUG-WHITE", messages)])


async def _preload(prefix: str, messages: int) -> None:
    client = Redis.from_url(REDIS_URL)
    config = RedisStreamsConfig(prefix=f"{prefix}:raw", partitions=4)
    await ensure_groups(client, config)
    publisher = RedisStreamsPublisher(client, config)
    raws = _raws(messages)
    for start in range(0, len(raws), 1000):
        chunk = raws[start : start + 1000]
        await publisher.publish(chunk, keys=[r.id for r in chunk])
    await client.aclose()


def test_sigkill_mid_run_loses_and_duplicates_nothing(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """Pass criteria: see the module docstring (first scenario)."""
    rng = random.Random(os.environ.get("HUB_CRASH_SEED"))
    _crash_run(
        tmp_path,
        postgres_url,
        messages=MESSAGES,
        kill_at=rng.randint(MESSAGES // 5, MESSAGES * 4 // 5),
    )


@pytest.mark.parametrize("seed", range(20))
def test_sigkill_at_20_random_points(
    tmp_path: Path,
    postgres_url: str,
    redis_url: str,
    seed: int,
) -> None:
    """Pass criteria: see the module docstring (second scenario)."""
    rng = random.Random(seed)
    ids = _crash_run(
        tmp_path,
        postgres_url,
        messages=SEED_MESSAGES,
        # at most two thirds: with up to 90 % and the 80 ms below, the worker sometimes applied
        # the last messages before the kill once the ledger got faster (the kill missed the run)
        kill_at=rng.randint(SEED_MESSAGES // 20, SEED_MESSAGES * 2 // 3),
        kill_delay=rng.uniform(0, 0.08),
        batch_size=25,
    )
    with Ledger(postgres_url) as ledger:
        # every effect has its deliver record, whenever the kill fell: it commits with the effect
        report = check_invariants(ledger, accepted=ids, direct=2)
    assert report.unaudited_effects == 0
    assert report.final["applied"] + report.final["duplicate"] == SEED_MESSAGES
    assert report.dead_letters == 0


def _crash_run(
    tmp_path: Path,
    postgres_url: str,
    *,
    messages: int,
    kill_at: int,
    kill_delay: float = 0.0,
    batch_size: int = 200,
) -> list[str]:
    """Preload ``messages`` orders, SIGKILL the worker once ``kill_at`` (+ ``kill_delay`` s) are
    applied, restart it under the same name, and assert the run's figures; the raw ids."""
    # not under hub-test:*, which any other test session's redis fixture sweeps when it ends
    prefix = f"hub-crash:{uuid.uuid4().hex[:8]}"
    try:
        return _crash_run_on(
            tmp_path, postgres_url, prefix, messages, kill_at, kill_delay, batch_size
        )
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()


def _crash_run_on(
    tmp_path: Path,
    postgres_url: str,
    prefix: str,
    messages: int,
    kill_at: int,
    kill_delay: float,
    batch_size: int,
) -> list[str]:
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(_deployment(prefix, postgres_url, batch_size)))
    Ledger.migrate(postgres_url)
    with Ledger(postgres_url) as ledger:
        _stock(ledger, messages)
    asyncio.run(_preload(prefix, messages))
    env = {**os.environ, "T": "t", "S": "s", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "hub", "worker", "--config", str(config), "--consumer", "w1"]

    with Ledger(postgres_url) as ledger:
        worker = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 240
        while ledger.processed_count() < kill_at + 2 and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker exited by itself"
            time.sleep(0.02)
        time.sleep(kill_delay)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        applied_at_kill = ledger.processed_count() - 2
        assert 0 < applied_at_kill < messages, applied_at_kill

        worker = subprocess.Popen(command, env=env)
        pending = -1
        try:
            while ledger.processed_count() < messages + 2 and time.monotonic() < deadline:
                assert worker.poll() is None, "the restarted worker exited by itself"
                time.sleep(0.1)
            client = redis.Redis.from_url(REDIS_URL)
            streams = [f"{prefix}:raw:{p}" for p in range(4)]
            while time.monotonic() < deadline + 30:
                pending = sum(client.xpending(s, "hub-router")["pending"] for s in streams)
                if pending == 0:
                    break
                time.sleep(0.1)
            client.close()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

        assert pending == 0
        assert ledger.processed_count() == messages + 2
        positions = {p.sku: p for p in ledger.positions(tenant="acme")}
        assert positions["TSHIRT-RED-M"].allocated == 2 * messages
        assert positions["MUG-WHITE"].allocated == messages
        journal = ledger.journal_totals()
        for position in positions.values():
            totals = journal[(position.tenant, position.sku, position.location)]
            assert totals["on_hand"] == position.on_hand
            assert totals["allocated"] == position.allocated
    return [f"crash-{number}" for number in range(messages)]
