"""End-to-end router throughput on Redis Streams and PostgreSQL, next to the floor.

    python -m bench.throughput [--messages 20000] [--json] [--ledger-only]

The hub: a mixed workload (orders from three channels, stock receipts, shipments, tracking,
payments) is preloaded on Redis Streams as raw messages, then one worker drains it through the full
router (translate and validate, govern, pipelined Redis fast path, the PostgreSQL ledger, dead
letters, holds and audit) with FastStream consumers. The floor (bench/floor.py) does only the
unavoidable work on the same messages in the same run. Both are messages per second of wall time.
``--ledger-only`` applies the same workload straight to the PostgreSQL ledger instead (no router,
no transport, no floor): the ledger's own rate, for telling its time from the router's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
from faststream.redis import RedisBroker
from psycopg import sql
from redis.asyncio import Redis

from bench.cpu import CpuMeter, CpuUse
from bench.floor import run_floor
from bench.workload import load_master_data, mixed_workload
from canonical import Envelope
from router.idempotency import RedisFastPath
from router.pipeline import Router, RouterConfig
from router.ports import RawMessage
from router.transport.redis_streams import (
    RedisStreamsConfig,
    RedisStreamsPublisher,
    attach_consumers,
    ensure_groups,
)

ADMIN_URL = os.environ.get(
    "HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class CanonicalTranslator:
    """The benchmark's connector: raw bodies are canonical envelopes already."""

    def translate(self, raw: RawMessage) -> list[Envelope]:
        return [Envelope.model_validate_json(raw.body)]


def _database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


async def run_hub(
    envelopes: list[Envelope],
    *,
    postgres_url: str,
    redis_url: str,
    batch: int,
    meter: CpuMeter | None = None,
) -> float:
    from hub.catalog import LedgerCatalog
    from hub.ledger.dialect import PostgresDialect
    from hub.ledger.store import Ledger
    from hub.operations import OperationsStore

    Ledger.migrate(postgres_url)
    ledger = Ledger(postgres_url)
    load_master_data(ledger)
    catalog_db = PostgresDialect(postgres_url)
    ops = OperationsStore(PostgresDialect(postgres_url))
    client = Redis.from_url(redis_url, max_connections=50)
    tag = uuid.uuid4().hex[:8]
    config = RedisStreamsConfig(
        prefix=f"bench:{tag}:raw",
        partitions=2,
        group="bench",
        batch_size=batch,
        # The transport's default: a reader's XREADGROUP returns as soon as entries arrive
        # whatever this is, but each partition's claimer polls XAUTOCLAIM at this interval, and
        # at 5 ms those polls (and FastStream's per-poll deepcopy of its subscription) took a
        # fifth of the worker's CPU from the messages.
        polling_interval_ms=RedisStreamsConfig.polling_interval_ms,
    )
    router = Router(
        translator=CanonicalTranslator(),
        ledger=ledger,
        catalog=LedgerCatalog(catalog_db.query),
        fast_path=RedisFastPath(client, prefix=f"bench:{tag}:idem"),
        dead_letters=ops,
        holds=ops,
        audit=ops,
        config=RouterConfig(),
    )
    raws = [
        RawMessage(
            id=str(e.message_id),
            tenant=e.tenant,
            instance="bench",
            event=e.event_type,
            body=e.model_dump_json().encode(),
            received_at=datetime.now(UTC),
        )
        for e in envelopes
    ]
    await ensure_groups(client, config)
    publisher = RedisStreamsPublisher(client, config)
    for start in range(0, len(raws), 1000):
        chunk = raws[start : start + 1000]
        await publisher.publish(chunk, keys=[r.id for r in chunk])

    done = asyncio.Event()
    processed = 0

    async def handler(batch_raws: list[RawMessage]) -> list:  # type: ignore[type-arg]
        nonlocal processed
        results = await router.process(batch_raws)
        processed += sum(1 for r in results if r.terminal)
        if processed >= len(raws):
            done.set()
        return results

    broker = RedisBroker(redis_url, logger=None)
    attach_consumers(broker, config, consumer="w1", handler=handler, dead_letters=ops)
    meter = meter or CpuMeter()
    meter.start()
    started = time.perf_counter()
    await broker.start()
    await done.wait()
    elapsed = time.perf_counter() - started
    meter.stop()
    await broker.stop()
    for key in [k async for k in client.scan_iter(f"bench:{tag}:*", count=1000)]:
        await client.delete(key)
    await client.aclose()
    ledger.close()
    catalog_db.close()
    return len(raws) / elapsed


async def run_embedded(
    envelopes: list[Envelope], *, directory: str, batch: int, meter: CpuMeter | None = None
) -> float:
    """The same workload on the embedded default: SQLite inbox, in-process worker, SQLite ledger."""
    from hub.catalog import LedgerCatalog
    from hub.ledger.dialect import SqliteDialect
    from hub.ledger.store import Ledger
    from hub.operations import OperationsStore
    from router.idempotency import LocalFastPath
    from router.retry import RetryPolicy
    from router.transport.inbox import SqliteInbox, run_inbox_worker

    path = f"{directory}/ledger.sqlite3"
    ledger = Ledger(path, auto_migrate=True)
    load_master_data(ledger)
    ops = OperationsStore(SqliteDialect(path))
    catalog_db = SqliteDialect(path)
    router = Router(
        translator=CanonicalTranslator(),
        ledger=ledger,
        catalog=LedgerCatalog(catalog_db.query),
        fast_path=LocalFastPath(),
        dead_letters=ops,
        holds=ops,
        audit=ops,
    )
    inbox = SqliteInbox(f"{directory}/inbox.sqlite3")
    for start in range(0, len(envelopes), 1000):
        inbox.put(
            [
                RawMessage(
                    id=str(e.message_id),
                    tenant=e.tenant,
                    instance="bench",
                    event=e.event_type,
                    body=e.model_dump_json().encode(),
                    received_at=datetime.now(UTC),
                )
                for e in envelopes[start : start + 1000]
            ]
        )
    stop = asyncio.Event()
    meter = meter or CpuMeter()
    meter.start()
    started = time.perf_counter()
    worker = asyncio.create_task(
        run_inbox_worker(
            inbox, router.process, ops, policy=RetryPolicy(), batch_size=batch, stop=stop
        )
    )
    while inbox.stats().pending:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    meter.stop()
    stop.set()
    await worker
    inbox.close()
    ledger.close()
    catalog_db.close()
    return len(envelopes) / elapsed


def run_ledger_only(
    envelopes: list[Envelope], *, postgres_url: str, batch: int, meter: CpuMeter | None = None
) -> float:
    """The same workload applied straight to the PostgreSQL ledger (``Ledger.apply`` per batch,
    one thread, no router, no transport): what the ledger alone takes."""
    from hub.ledger.store import Ledger

    Ledger.migrate(postgres_url)
    meter = meter or CpuMeter()
    with Ledger(postgres_url) as ledger:
        load_master_data(ledger)
        meter.start()
        started = time.perf_counter()
        for start in range(0, len(envelopes), batch):
            ledger.apply(envelopes[start : start + batch])
        elapsed = time.perf_counter() - started
        meter.stop()
    return len(envelopes) / elapsed


def _cpu_report(uses: dict[str, CpuUse], messages: int, cores: int) -> dict[str, object]:
    """CPU microseconds per message by party, and the rate each run's CPU would allow on
    ``cores`` cores with its work perfectly overlapped (see ``bench.cpu``)."""
    return {
        "cores": cores,
        "cpu_us_per_msg": {run: use.per_message_us(messages) for run, use in uses.items()},
        "cpu_ceiling_msgs_per_s": {
            run: round(use.ceiling(messages, cores), 1) for run, use in uses.items()
        },
    }


def _print_cpu(report: dict[str, object]) -> None:
    per_message = report["cpu_us_per_msg"]
    ceilings = report["cpu_ceiling_msgs_per_s"]
    assert isinstance(per_message, dict)
    assert isinstance(ceilings, dict)
    print(
        f"\nCPU per message (us)  python  postgres  redis   total  "
        f"ceiling on {report['cores']} cores"
    )
    for run, figures in per_message.items():
        print(
            f"  {run:<18} {figures['python']:7.1f} {figures['postgres']:9.1f} "
            f"{figures['redis']:6.1f} {figures['total']:7.1f}  {ceilings[run]:9.1f} msg/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--ledger-only",
        action="store_true",
        help="only apply the workload straight to the PostgreSQL ledger (no router, no floor)",
    )
    args = parser.parse_args()

    envelopes = list(mixed_workload(args.messages))
    cores = os.cpu_count() or 1
    if args.ledger_only:
        name = f"bench_throughput_{os.getpid()}_ledger"
        meter = CpuMeter()
        try:
            rate = run_ledger_only(
                envelopes, postgres_url=_database(ADMIN_URL, name), batch=args.batch, meter=meter
            )
        finally:
            _drop(ADMIN_URL, name)
        assert meter.use is not None
        report = _cpu_report({"ledger": meter.use}, args.messages, cores)
        if args.json:
            print(
                json.dumps(
                    {
                        "messages": args.messages,
                        "batch": args.batch,
                        "ledger_msgs_per_s": round(rate, 1),
                        **report,
                    }
                )
            )
        else:
            print(f"ledger: {rate:8.1f} msg/s  (the workload applied straight to Ledger.apply)")
            _print_cpu(report)
        return
    encoded = [e.model_dump_json().encode() for e in envelopes]
    name = f"bench_throughput_{os.getpid()}"
    floor_db = _database(ADMIN_URL, name + "_floor")
    hub_db = _database(ADMIN_URL, name + "_hub")
    meters = {"floor": CpuMeter(), "hub": CpuMeter(), "embedded": CpuMeter()}
    try:
        floor = run_floor(
            encoded,
            redis_url=REDIS_URL,
            postgres_url=floor_db,
            batch=args.batch,
            meter=meters["floor"],
        )
        hub = asyncio.run(
            run_hub(
                envelopes,
                postgres_url=hub_db,
                redis_url=REDIS_URL,
                batch=args.batch,
                meter=meters["hub"],
            )
        )
        with tempfile.TemporaryDirectory() as directory:
            embedded = asyncio.run(
                run_embedded(
                    envelopes, directory=directory, batch=args.batch, meter=meters["embedded"]
                )
            )
    finally:
        _drop(ADMIN_URL, name + "_floor")
        _drop(ADMIN_URL, name + "_hub")
    result = {
        "messages": args.messages,
        "batch": args.batch,
        "hub_msgs_per_s": round(hub, 1),
        "floor_msgs_per_s": round(floor, 1),
        "ratio": round(hub / floor, 3),
        "transport": "redis-streams",
        "ledger": "postgresql",
        "embedded_msgs_per_s": round(embedded, 1),
        **_cpu_report(
            {run: meter.use for run, meter in meters.items() if meter.use is not None},
            args.messages,
            cores,
        ),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"floor : {floor:9.1f} msg/s  (validate, pipelined SET NX, batched insert)")
        print(
            f"hub   : {hub:9.1f} msg/s  (full router on Redis Streams into the PostgreSQL ledger)"
        )
        print(f"ratio : {hub / floor:9.3f}")
        print(f"embedded: {embedded:7.1f} msg/s  (SQLite inbox, in-process worker, SQLite ledger)")
        _print_cpu(result)


if __name__ == "__main__":
    main()
