"""Scale-out: router throughput with 1 and 2 worker processes on Redis Streams and PostgreSQL.

    python -m bench.scale [--messages 6000] [--workers 1 2] [--json]

For each worker count, on a fresh PostgreSQL database and a fresh Redis prefix: the mixed workload
of ``bench.throughput`` (:mod:`bench.workload`: orders from three channels, receipts, shipments,
tracking, payments) is preloaded on the deployment's partitioned streams, then N worker processes
(:mod:`bench.scale_worker`: ``hub worker`` with canonical bodies) start together and drain it
through the full router into the ledger. Messages per second of wall time, from the start signal
until the consumer group has acknowledged every entry, as ``bench.throughput`` measures one
in-process worker. Every process (workers, PostgreSQL, Redis) shares the machine's cores, so the
figures say how far a second process helps on these cores, not on a bigger machine. While a run
drains, the database's sessions are sampled (``pg_stat_activity``: how often one waits on a lock)
and its deadlock count read (``pg_stat_database``), which say why a second process helps or not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis
import yaml
from redis.asyncio import Redis

from bench.services import REDIS_URL, ChildProcesses, redis_prefix, temporary_database
from bench.workload import CHANNELS, LOCATIONS, SKUS, TENANT, mixed_workload
from canonical import Envelope
from router.ports import RawMessage
from router.transport.redis_streams import RedisStreamsConfig, RedisStreamsPublisher, ensure_groups

__all__ = ["drain_with"]

GROUP = "hub-router"


def _deployment(prefix: str, ledger_url: str, partitions: int, batch: int) -> dict[str, Any]:
    """The workload's tenant (channels and locations only: bodies are canonical already) on
    Redis Streams and this run's PostgreSQL ledger."""
    return {
        "version": 1,
        "tenants": {
            TENANT: {
                "channels": {channel: {"kind": "other"} for channel in CHANNELS},
                "locations": {
                    location: {"kind": "warehouse", "priority": n}
                    for n, location in enumerate(LOCATIONS, start=1)
                },
            }
        },
        "broker": {
            "kind": "redis",
            "url": REDIS_URL,
            "partitions": partitions,
            "batch_size": batch,
            "prefix": prefix,
        },
        "ledger": {"url": ledger_url},
    }


async def _preload(envelopes: list[Envelope], prefix: str, partitions: int) -> None:
    """Publish the workload as the ingress would (raw messages keyed by id over the partitions)."""
    client = Redis.from_url(REDIS_URL)
    config = RedisStreamsConfig(prefix=f"{prefix}:raw", partitions=partitions)
    try:
        await ensure_groups(client, config)
        publisher = RedisStreamsPublisher(client, config)
        now = datetime.now(UTC)
        raws = [
            RawMessage(id=str(e.message_id), tenant=e.tenant, instance="bench",
                       event=e.event_type, body=e.model_dump_json().encode(), received_at=now)
            for e in envelopes
        ]  # fmt: skip
        for start in range(0, len(raws), 1000):
            chunk = raws[start : start + 1000]
            await publisher.publish(chunk, keys=[r.id for r in chunk])
    finally:
        await client.aclose()


def _outstanding(client: redis.Redis, prefix: str, partitions: int) -> int:
    """Entries the consumer group has not yet acknowledged (never delivered, or pending)."""
    total = 0
    for partition in range(partitions):
        for group in client.xinfo_groups(f"{prefix}:raw:{partition}"):
            if group["name"] in (GROUP, GROUP.encode()):
                total += int(group.get("lag") or 0) + int(group["pending"])
    return total


class LockWaits:
    """Samples of what the run's PostgreSQL sessions are doing (``pg_stat_activity``), to tell
    whether a second worker waits on the first one's row locks rather than adding work."""

    def __init__(self, database_url: str) -> None:
        self._name = urlsplit(database_url).path.lstrip("/")
        self._conn = psycopg.connect(database_url, autocommit=True)
        self.samples = 0
        self.with_lock_wait = 0
        self.active = 0
        self.deadlocks = 0
        self._deadlocks_before = self._deadlocks()

    def _deadlocks(self) -> int:
        row = self._conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (self._name,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def sample(self) -> None:
        row = self._conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'active'), "
            "count(*) FILTER (WHERE wait_event_type = 'Lock') "
            "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self._name,),
        ).fetchone()
        active, locked = row if row else (0, 0)
        self.samples += 1
        self.active += int(active)
        self.with_lock_wait += 1 if locked else 0

    def close(self) -> None:
        # the statistics collector reports with a delay; give it its moment before the last read
        time.sleep(0.6)
        self._conn.execute("SELECT pg_stat_clear_snapshot()")
        self.deadlocks = self._deadlocks() - self._deadlocks_before
        self._conn.close()

    def as_json(self) -> dict[str, Any]:
        """Share of samples in which some session waited on a lock, the mean number of sessions
        running a statement, and the deadlocks PostgreSQL detected (and broke) during the run."""
        n = max(1, self.samples)
        return {
            "samples": self.samples,
            "lock_wait_share": round(self.with_lock_wait / n, 3),
            "mean_active_sessions": round(self.active / n, 2),
            "deadlocks": self.deadlocks,
        }


def drain_with(
    workers: int, envelopes: list[Envelope], *, partitions: int, batch: int
) -> dict[str, Any]:
    """One measured drain of ``envelopes`` by ``workers`` processes; its figures."""
    from hub.ledger.store import Ledger

    with (
        temporary_database("scale") as ledger_url,
        redis_prefix("scale") as prefix,
        tempfile.TemporaryDirectory(prefix="hub-bench-") as folder,
    ):
        Ledger.migrate(ledger_url)
        with Ledger(ledger_url) as ledger:
            for sku in SKUS:
                ledger.upsert_sku(TENANT, sku, backorder_allowed=True)
        config = Path(folder) / "deploy.yaml"
        deployment = _deployment(prefix, ledger_url, partitions, batch)
        config.write_text(yaml.safe_dump(deployment), encoding="utf-8")
        asyncio.run(_preload(envelopes, prefix, partitions))
        client = redis.Redis.from_url(REDIS_URL)
        with ChildProcesses() as children:
            argv = ["-m", "bench.scale_worker", "--config", str(config)]
            procs = [
                children.start([*argv, "--consumer", f"w{n}"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
                for n in range(1, workers + 1)
            ]  # fmt: skip
            for proc in procs:
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != b"ready":
                    raise RuntimeError("a worker process did not start (see its stderr)")
            started = time.perf_counter()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
                proc.stdin.flush()
            waits = LockWaits(ledger_url)
            while _outstanding(client, prefix, partitions):
                if any(proc.poll() is not None for proc in procs):
                    raise RuntimeError("a worker process died during the run")
                waits.sample()
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            waits.close()
        client.close()
        with Ledger(ledger_url) as ledger:
            applied = ledger.processed_count()
    return {
        "workers": workers,
        "msgs_per_s": round(len(envelopes) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "applied_to_ledger": applied,
        "postgres": waits.as_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    envelopes = list(mixed_workload(args.messages))
    runs = [
        drain_with(n, envelopes, partitions=args.partitions, batch=args.batch) for n in args.workers
    ]
    by_count = {str(r["workers"]): r["msgs_per_s"] for r in runs}
    first = runs[0]["msgs_per_s"]
    result = {
        "messages": args.messages,
        "cores": os.cpu_count(),
        "msgs_per_s": by_count,
        "speedup": {k: round(v / first, 2) for k, v in by_count.items()},
        "runs": runs,
        "transport": "redis-streams",
        "ledger": "postgresql",
    }
    if args.json:
        print(json.dumps(result))
        return
    for run in runs:
        print(f"{run['workers']} worker process(es): {run['msgs_per_s']:8.1f} msg/s "
              f"({run['seconds']} s, x{result['speedup'][str(run['workers'])]})")  # fmt: skip
    print(f"on {result['cores']} cores shared with PostgreSQL and Redis")


if __name__ == "__main__":
    main()
