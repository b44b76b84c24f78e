"""Ledger throughput on this machine: stock movements per second, batched, on SQLite and PostgreSQL.

Run ``python -m bench.ledger`` (``--json`` prints one JSON object). Envelopes are built before the
clock starts, so the figures are the ledger's own: validation is the router's cost, not the
ledger's. Scenarios: receipts in batches (the headline figure), receipts one message per
transaction (what batching buys), and orders of one line each (a reservation with sourcing, the
per-channel ATP recomputation and the outbox events).

PostgreSQL: ``--postgres-url`` (default ``$HUB_TEST_POSTGRES_URL`` or the local server) must be an
admin URL; the benchmark creates a scratch database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from canonical import (
    Envelope,
    Money,
    MovementKind,
    Order,
    OrderLine,
    OrderTotals,
    SourceRef,
    StockMovement,
)
from hub.ledger import Ledger

TENANT = "bench"
SOURCE = SourceRef(connector="bench", instance="bench_1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SKUS = [f"SKU-{i:03d}" for i in range(50)]
LOCATIONS = ["wh_east", "wh_west"]


def _receipts(count: int, offset: int = 0) -> list[Envelope]:
    envelopes = []
    for i in range(offset, offset + count):
        movement = StockMovement(
            tenant=TENANT,
            movement_id=f"m{i}",
            kind=MovementKind.RECEIPT,
            sku=SKUS[i % len(SKUS)],
            location=LOCATIONS[i % len(LOCATIONS)],
            quantity=10,
            occurred_at=T0 + timedelta(seconds=i),
        )
        envelopes.append(
            Envelope.wrap(
                movement,
                event_type="stock.moved",
                source=SOURCE,
                source_ids=(f"m{i}",),
                occurred_at=movement.occurred_at,
            )
        )
    return envelopes


def _orders(count: int) -> list[Envelope]:
    envelopes = []
    for i in range(count):
        line = OrderLine(
            line_id="1",
            sku=SKUS[i % len(SKUS)],
            title="bench",
            quantity=1,
            unit_price=Money(amount=Decimal("5.00"), currency="USD"),
        )
        order = Order(
            tenant=TENANT,
            channel="web",
            external_id=f"o{i}",
            currency="USD",
            placed_at=T0,
            updated_at=T0,
            lines=[line],
            totals=OrderTotals.compute([line], [], currency="USD", taxes_included=False),
        )
        envelopes.append(
            Envelope.wrap(
                order,
                event_type="order.created",
                source=SOURCE,
                source_ids=(f"o{i}",),
                occurred_at=T0,
            )
        )
    return envelopes


def _setup(ledger: Ledger) -> None:
    for sku in SKUS:
        ledger.upsert_sku(TENANT, sku)
    for priority, location in enumerate(LOCATIONS):
        ledger.upsert_location(TENANT, location, priority=priority)
    for channel in ("web", "market"):
        ledger.upsert_channel(TENANT, channel)


def _timed(apply: Callable[[list[Envelope]], Any], envelopes: list[Envelope], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(envelopes), batch):
        results = apply(envelopes[start : start + batch])
        assert all(r.outcome == "applied" for r in results), results
    return len(envelopes) / (time.perf_counter() - started)


def run_store(url: str, messages: int, batch: int) -> dict[str, float]:
    """The three scenarios against one fresh ledger; messages (movements) per second."""
    Ledger.migrate(url)
    with Ledger(url) as ledger:
        _setup(ledger)
        batched = _timed(ledger.apply, _receipts(messages), batch)
        single_count = max(1, messages // 10)
        single = _timed(ledger.apply, _receipts(single_count, offset=messages), 1)
        orders = _timed(ledger.apply, _orders(messages // 2), batch)
    return {
        "receipts_batched_per_s": round(batched, 1),
        "receipts_unbatched_per_s": round(single, 1),
        "orders_batched_per_s": round(orders, 1),
    }


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"hub_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    conninfo = make_conninfo(**params)
    parsed = conninfo_to_dict(conninfo)
    url = (
        f"postgresql://{parsed.get('user', 'postgres')}@{parsed.get('host', '127.0.0.1')}:"
        f"{parsed.get('port', 5432)}/{name}"
    )
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--messages", type=int, default=4000, help="receipts per run (default 4000)"
    )
    parser.add_argument("--batch", type=int, default=200, help="messages per batch (default 200)")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "messages": args.messages,
        "batch": args.batch,
        "cpus": os.cpu_count(),
    }
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            report["sqlite"] = run_store(
                str(Path(folder) / "bench.sqlite3"), args.messages, args.batch
            )
    if args.store in ("postgres", "both"):
        with _postgres_database(args.postgres_url) as url:
            report["postgres"] = run_store(url, args.messages, args.batch)
    if args.json:
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
        return 0
    print(
        f"ledger throughput, {args.messages} receipts in batches of {args.batch}, {report['cpus']} CPUs"
    )
    for store in ("sqlite", "postgres"):
        if store in report:
            figures = report[store]
            print(
                f"  {store:<9} receipts batched {figures['receipts_batched_per_s']:>9,.0f}/s   "
                f"unbatched {figures['receipts_unbatched_per_s']:>8,.0f}/s   "
                f"orders (reserve) batched {figures['orders_batched_per_s']:>8,.0f}/s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
