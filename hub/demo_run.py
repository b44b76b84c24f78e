"""What ``hub demo`` does, step by step: fresh ledger, vendors, deployment, master data, the hub,
the day's traffic, the drain; :mod:`hub.demo` is only the command around it.

Everything here composes pieces that exist on their own: the simulation (the outside world), the
embedded hub as ``hub run`` starts it, and the operator's view of the ledger. The Amazon poller is
the demo's own: the hub's scheduled polls (:mod:`hub.polling`) read windows of wall-clock time,
while the simulated day runs on its own compressed clock, so the demo reads ``getOrders`` through
the Amazon connector for windows of simulated time and stores each order in the inbox as any
accepted message, as :func:`hub.polling.poll_once` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

if TYPE_CHECKING:
    from simulation.scenario import Scenario

__all__ = ["MARKER", "DemoError", "DemoRun", "run_demo"]

console = Console(stderr=True, soft_wrap=True)
MARKER = "demo-ledger.json"


class DemoError(Exception):
    """The demo cannot run here (the message says why and what to do)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fresh_ledger() -> Path:
    """The embedded default ledger file, emptied if (and only if) an earlier demo left it."""
    from hub.ledger.url import parse_ledger_url, resolve_ledger_url

    target = parse_ledger_url(resolve_ledger_url(None))
    if target.kind != "sqlite":
        raise DemoError(
            "HUB_LEDGER_URL points at PostgreSQL; the demo runs on the embedded SQLite ledger. "
            "Unset HUB_LEDGER_URL (or set HUB_HOME to an empty folder) and run it again."
        )
    path = Path(target.location).expanduser()
    marker = path.with_name(MARKER)
    if path.exists() and not marker.exists():
        raise DemoError(
            f"{path} holds a ledger that the demo did not make; it is left alone. "
            "Run the demo with HUB_HOME set to another folder (e.g. HUB_HOME=./.hub-demo/home)."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in (path.name, "inbox.sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            (path.with_name(name + suffix)).unlink(missing_ok=True)
    return path


@dataclass
class DemoRun:
    """The live state of one run, for the progress display and the summary."""

    scenario: Scenario
    started: float = field(default_factory=time.monotonic)
    origin: float = field(default_factory=time.monotonic)
    compression: float = 1.0
    finished: int = 0
    polled: int = 0
    released: int = 0
    processed: int = 0
    backlog: int = 0
    outbox: int = 0
    held: int = 0
    dead: int = 0
    rate: float = 0.0

    def simulated_second(self) -> float:
        from simulation.scenario import DAY

        return min(DAY, (time.monotonic() - self.started) * self.compression)

    def quota_clock(self) -> float:
        """Compressed seconds since the run began (monotonic, never capped): the clock the
        vendors' per-second quotas run on, since the day they apply to is compressed."""
        return (time.monotonic() - self.origin) * self.compression


def _quotas_on_the_simulated_clock(runtime: Any, run: DemoRun) -> None:
    """Amazon publishes its quotas per second of real time (``getOrderItems``: 0.5 a second after a
    burst of 30); a day compressed into seconds would otherwise spend minutes waiting on them. The
    connector's limiter takes its clock as a setting, so it is given the compressed one: the quotas
    still hold, per simulated second."""
    for connector in runtime.instances.values():
        limiter = getattr(connector.http, "rate_limit", None)
        if limiter is not None and hasattr(limiter, "clock"):
            limiter.clock = run.quota_clock


def _stock_envelopes(scenario: Scenario) -> list[Any]:
    """The starting stock as the warehouse system would report it: one receipt per position."""
    from canonical import Envelope, MovementKind, SourceRef, StockMovement
    from simulation.orders import DAY_START

    envelopes = []
    for (sku, location), units in sorted(scenario.catalogue.stock.items()):
        movement = StockMovement(
            tenant=scenario.catalogue.tenant, movement_id=f"opening-{sku}-{location}",
            kind=MovementKind.RECEIPT, sku=sku, location=location, quantity=units,
            occurred_at=DAY_START - timedelta(hours=6), reason="opening stock",
        )  # fmt: skip
        envelopes.append(
            Envelope.wrap(
                movement,
                event_type="stock.moved",
                source=SourceRef(connector="wms", instance="wms"),
                source_ids=(movement.movement_id,),
                occurred_at=movement.occurred_at,
            )
        )
    return envelopes


def _load_master_data(runtime: Any, scenario: Scenario, files: Any) -> None:
    """Catalogue (as ``hub catalog import`` loads it), list prices, and the opening stock."""
    from hub.ledger.catalog import import_catalog
    from hub.ledger.dialect import SqliteDialect
    from hub.ledger.url import parse_ledger_url

    import_catalog(runtime.ledger, files.locations_csv)
    import_catalog(runtime.ledger, files.skus_csv)
    # `hub catalog import` has no price column yet; the pricing rule reads catalog_prices.
    db = SqliteDialect(parse_ledger_url(runtime.ledger_url).location)
    try:
        tenant, currency = scenario.catalogue.tenant, scenario.catalogue.currency
        db.begin_write()
        for product in scenario.catalogue.products:
            for channel in scenario.facts.orders:
                db.execute(
                    "INSERT INTO catalog_prices (tenant, channel, sku, currency, amount) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (tenant, channel, product.sku, currency, str(product.price)),
                )
        db.commit()
    finally:
        db.close()
    runtime.catalog.reload()
    results = runtime.ledger.apply(_stock_envelopes(scenario))
    refused = [r for r in results if r.outcome == "rejected"]
    if refused:
        raise DemoError(f"the opening stock was refused: {refused[0].reason}")


async def _poll_amazon(runtime: Any, run: DemoRun, inbox: Any, stop: asyncio.Event) -> None:
    """Poll getOrders as the hub's Amazon poller would, and store each order as it is read."""
    from canonical import new_message_id
    from connectors.base import dump_payload
    from connectors.pagination import TimeWindow
    from router.ports import RawMessage
    from simulation.orders import DAY_START
    from simulation.scenario import DAY

    connector = runtime.instances[(run.scenario.catalogue.tenant, "amazon_us")]
    since = DAY_START
    while True:
        last = stop.is_set()
        until = DAY_START + timedelta(seconds=DAY if last else int(run.simulated_second()))
        if until > since:
            window = TimeWindow(since, until)
            orders: list[Any] = await asyncio.to_thread(_read_orders, connector, window)
            raws = [
                RawMessage(
                    id=str(new_message_id()),
                    tenant=run.scenario.catalogue.tenant,
                    instance="amazon_us",
                    event="getOrder",
                    body=dump_payload(order),
                    received_at=datetime.now(UTC),
                    headers={"x-hub-polled": "getOrders"},
                )
                for order in orders
            ]
            if raws:
                await asyncio.to_thread(inbox.put, raws)
            run.polled += len(raws)
            since = until
        if last:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _read_orders(connector: Any, window: Any) -> list[Any]:
    return list(connector.iter_orders(window))


def _release_wave(runtime: Any, reader: Any, tenant: str, moment: datetime) -> int:
    """Plan and release the next wave, as ``hub release run`` does; returns the orders released."""
    from hub.release.planner import plan_wave
    from hub.release.run import run_wave

    policy = runtime.deployment.tenants[tenant].release
    candidates = reader.candidates(tenant, moment)
    plan = plan_wave(candidates, policy, moment, reader.released_today(tenant, policy, moment))
    outcomes = run_wave(runtime.ledger, tenant, plan, candidates, policy)
    return sum(1 for outcome in outcomes if outcome.outcome == "applied")


async def _release_waves(runtime: Any, run: DemoRun, stop: asyncio.Event) -> None:
    """Release a wave every quarter second of the run (about 36 simulated minutes; the simulated
    time is the planning moment), and a last one once ``stop`` is set: released orders go to the
    ShipBob node through the outbox."""
    from hub.release.candidates import LedgerReader
    from simulation.orders import DAY_START

    tenant = run.scenario.catalogue.tenant
    reader = LedgerReader(runtime.ledger_url)
    try:
        while True:
            last = stop.is_set()
            moment = DAY_START + timedelta(seconds=run.simulated_second())
            run.released += await asyncio.to_thread(_release_wave, runtime, reader, tenant, moment)
            if last:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
    finally:
        reader.close()


async def _deliver_day(run: DemoRun, sender: Any) -> None:
    """Send each delivery when its moment of the compressed day comes (retries run alongside)."""
    limit = asyncio.Semaphore(32)

    async def one(delivery: Any) -> None:
        async with limit:
            await sender.send(delivery)
        run.finished += 1

    tasks = []
    for delivery in run.scenario.deliveries:
        due = run.started + delivery.at / run.compression
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(one(delivery)))
    await asyncio.gather(*tasks)


def _progress(run: DemoRun) -> Table:
    from simulation.orders import DAY_START
    from simulation.scenario import DAY

    second = run.simulated_second()
    clock = (
        "end of day" if second >= DAY else (DAY_START + timedelta(seconds=second)).strftime("%H:%M")
    )
    table = Table(title=f"hub demo: seed {run.scenario.seed}, simulated time {clock}", box=None)
    for column in ("webhooks sent", "amazon polled", "processed", "msgs/s", "inbox backlog",
                   "outbox backlog", "held (review+exception)", "dead letters"):  # fmt: skip
        table.add_column(column, justify="right")
    outbox = f"{run.outbox}+" if run.outbox >= 1000 else str(run.outbox)
    table.add_row(
        f"{run.finished}/{len(run.scenario.deliveries)}", str(run.polled), str(run.processed),
        f"{run.rate:.0f}", str(run.backlog), outbox, str(run.held), str(run.dead),
    )  # fmt: skip
    return table


async def _watch(runtime: Any, run: DemoRun, inbox: Any, stop: asyncio.Event, live: Any) -> None:
    """Refresh the figures four times a second until ``stop``, and once more after it."""
    last_count, last_time = 0, time.monotonic()
    while True:
        finished = stop.is_set()
        run.backlog = (await asyncio.to_thread(inbox.stats)).pending
        run.outbox = len(await asyncio.to_thread(runtime.ledger.unpublished, 1000))
        run.processed = await asyncio.to_thread(runtime.ledger.processed_count)
        now = time.monotonic()
        run.rate = 0.7 * run.rate + 0.3 * (run.processed - last_count) / max(now - last_time, 1e-3)
        last_count, last_time = run.processed, now
        run.held, run.dead = _open_counts(runtime)
        if live is not None:
            live.update(_progress(run))
        if finished:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


def _open_counts(runtime: Any) -> tuple[int, int]:
    """(open held messages, open dead letters), from the operations store the router writes."""
    ops = runtime.operations
    held = sum(depth.open for depth in ops.queue_depths())
    return held, sum(ops.open_dead_letters_by_tenant().values())


async def _drained(runtime: Any, inbox: Any) -> None:
    """Wait until nothing is left: the inbox empty and the outbox relayed (pushes finished)."""
    quiet = 0
    while quiet < 3:
        pending = (await asyncio.to_thread(inbox.stats)).pending
        unpublished = await asyncio.to_thread(runtime.ledger.unpublished, 1)
        quiet = quiet + 1 if pending == 0 and not unpublished else 0
        await asyncio.sleep(0.2)


async def run_demo(
    *, orders: int, seed: int, folder: Path, seconds: float, live: bool
) -> dict[str, Any]:
    """Run the day and return the summary (see :mod:`hub.demo_summary`)."""
    from hub.config import load_deployment
    from hub.demo_files import TENANT, write_demo_files
    from hub.demo_summary import summarize
    from hub.runtime import embedded_inbox_path, open_runtime
    from hub.serve import serve_embedded
    from router.transport.inbox import SqliteInbox
    from simulation import generate
    from simulation.journal import FaultPlan
    from simulation.scenario import DAY
    from simulation.sender import WebhookSender
    from simulation.server import SimulationServer, World

    ledger_path = _fresh_ledger()
    # written before the ledger exists, so an interrupted demo's ledger is still known as the demo's
    ledger_path.with_name(MARKER).write_text(
        json.dumps({"seed": seed, "orders": orders, "folder": str(folder.resolve())}) + "\n"
    )
    scenario = generate(seed, orders)
    run = DemoRun(scenario, compression=DAY / seconds)
    world = World.for_scenario(scenario, clock=run.simulated_second, faults=FaultPlan(seed=seed))
    port = _free_port()
    with SimulationServer(world) as sim:
        files = write_demo_files(folder, scenario.catalogue, sim.url, port)
        runtime = open_runtime(load_deployment(files.deployment), auto_migrate=True)
        inbox = SqliteInbox(embedded_inbox_path(runtime.ledger_url))
        try:
            _load_master_data(runtime, scenario, files)
            _quotas_on_the_simulated_clock(runtime, run)
            started, stop_hub = asyncio.Event(), asyncio.Event()
            stop_poll, stop_watch, stop_release = asyncio.Event(), asyncio.Event(), asyncio.Event()
            hub = asyncio.create_task(
                serve_embedded(runtime, host="127.0.0.1", port=port, on_started=started.set,
                               should_exit=stop_hub)
            )  # fmt: skip
            await asyncio.wait_for(started.wait(), 15)
            sender = WebhookSender(f"http://127.0.0.1:{port}", TENANT, files.webhook_secrets,
                                   compression=run.compression, as_sent=world.as_sent)  # fmt: skip
            run.started = time.monotonic()
            display = Live(_progress(run), console=console, refresh_per_second=4) if live else None
            if display is not None:
                display.start()
            watcher = asyncio.create_task(_watch(runtime, run, inbox, stop_watch, display))
            poller = asyncio.create_task(_poll_amazon(runtime, run, inbox, stop_poll))
            releaser = asyncio.create_task(_release_waves(runtime, run, stop_release))
            try:
                await _deliver_day(run, sender)
                stop_poll.set()
                await poller
                await _drained(runtime, inbox)
                stop_release.set()  # a last wave for what the day's end allocated
                await releaser
                await _drained(runtime, inbox)
            finally:
                stop_poll.set()
                stop_release.set()
                stop_watch.set()
                await asyncio.gather(poller, releaser, watcher, return_exceptions=True)
                if display is not None:
                    display.stop()
                await sender.aclose()
                stop_hub.set()
                await asyncio.wait_for(hub, 30)
            elapsed = time.monotonic() - run.started
        finally:
            inbox.close()
            runtime.close()
        return summarize(str(ledger_path), scenario, sender.attempts, world.journal.calls(),
                         seconds=elapsed, polled=run.polled)  # fmt: skip
