"""A worker killed with SIGKILL mid-run, then restarted: nothing lost, nothing applied twice.

Pass criteria: 10,000 Shopify order messages are preloaded on Redis Streams; a ``hub worker``
process is killed with SIGKILL when a random share (20 to 80 %) of them is applied, and started
again under the same consumer name. When the run completes, the PostgreSQL ledger has applied every
message exactly once (the processed count, the allocations of the orders and the journal agree with
the expected figures), and no entry is left pending.
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

import redis
import yaml
from redis.asyncio import Redis

from hub.ledger.store import Ledger
from router.ports import RawMessage
from router.transport.redis_streams import RedisStreamsConfig, RedisStreamsPublisher, ensure_groups
from tests.conftest import REDIS_URL
from tests.support import ROOT, acme_tenant, paid_order, receipt

MESSAGES = int(os.environ.get("HUB_CRASH_MESSAGES", "10000"))


def _deployment(prefix: str, ledger_url: str) -> dict[str, Any]:
    return {
        "version": 1,
        "tenants": {"acme": acme_tenant(token_env="T", secret_env="S")},
        "broker": {
            "kind": "redis",
            "url": REDIS_URL,
            "partitions": 4,
            "prefix": prefix,
            "claim_idle_ms": 1500,
            "batch_size": 200,
        },
        "ledger": {"url": ledger_url},
    }


def _raws() -> list[RawMessage]:
    return [
        RawMessage(
            id=f"crash-{number}",
            tenant="acme",
            instance="shopify_us",
            event="orders/create",
            body=json.dumps(paid_order(8_000_000_000_000_000_000 + number)).encode(),
            received_at=datetime(2026, 3, 2, tzinfo=UTC),
        )
        for number in range(MESSAGES)
    ]


def _stock(ledger: Ledger) -> None:
    ledger.upsert_location("acme", "wh_east")
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        ledger.upsert_sku("acme", sku)
    ledger.apply([receipt("TSHIRT-RED-M", 2 * MESSAGES), receipt("MUG-WHITE", MESSAGES)])


async def _preload(prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    config = RedisStreamsConfig(prefix=f"{prefix}:raw", partitions=4)
    await ensure_groups(client, config)
    publisher = RedisStreamsPublisher(client, config)
    raws = _raws()
    for start in range(0, len(raws), 1000):
        chunk = raws[start : start + 1000]
        await publisher.publish(chunk, keys=[r.id for r in chunk])
    await client.aclose()


def test_sigkill_mid_run_loses_and_duplicates_nothing(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    prefix = f"hub-test:{uuid.uuid4().hex[:8]}"
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(_deployment(prefix, postgres_url)))
    Ledger.migrate(postgres_url)
    with Ledger(postgres_url) as ledger:
        _stock(ledger)
    asyncio.run(_preload(prefix))
    env = {**os.environ, "T": "t", "S": "s", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "hub", "worker", "--config", str(config), "--consumer", "w1"]
    kill_at = random.Random(os.environ.get("HUB_CRASH_SEED")).randint(
        MESSAGES // 5, MESSAGES * 4 // 5
    )

    with Ledger(postgres_url) as ledger:
        worker = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 240
        while ledger.processed_count() < kill_at + 2 and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker exited by itself"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        applied_at_kill = ledger.processed_count() - 2
        assert 0 < applied_at_kill < MESSAGES, applied_at_kill

        worker = subprocess.Popen(command, env=env)
        pending = -1
        try:
            while ledger.processed_count() < MESSAGES + 2 and time.monotonic() < deadline:
                assert worker.poll() is None, "the restarted worker exited by itself"
                time.sleep(0.2)
            client = redis.Redis.from_url(REDIS_URL)
            streams = [f"{prefix}:raw:{p}" for p in range(4)]
            while time.monotonic() < deadline + 30:
                pending = sum(client.xpending(s, "hub-router")["pending"] for s in streams)
                if pending == 0:
                    break
                time.sleep(0.2)
            client.close()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

        assert pending == 0
        assert ledger.processed_count() == MESSAGES + 2
        positions = {p.sku: p for p in ledger.positions(tenant="acme")}
        assert positions["TSHIRT-RED-M"].allocated == 2 * MESSAGES
        assert positions["MUG-WHITE"].allocated == MESSAGES
        journal = ledger.journal_totals()
        for position in positions.values():
            totals = journal[(position.tenant, position.sku, position.location)]
            assert totals["on_hand"] == position.on_hand
            assert totals["allocated"] == position.allocated
