"""The embedded hub between simulated channels, for benchmarks that follow stock from sale to push.

One business (tenant ``demo``) sells on Shopify, WooCommerce and Amazon, as in ``hub demo``: the
vendor simulation serves the channels' APIs on loopback, the hub runs as ``hub run`` runs it
(:func:`hub.serve.serve_embedded`: ingress, worker, outbox relay) on a SQLite ledger in a temporary
folder, and unmodified connectors push every change of available-to-promise back to the channels.
The simulation is fault-free here (no 429s, no slow answers), so what is measured is the hub.

Every push a channel accepts is reported, as it arrives, to the listeners of :class:`PushTap`; the
benchmarks time pushes there and model what each channel shows its buyers from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.orders import amazon_polled, delivery
from bench.services import free_port
from simulation.catalogue import Catalogue, build_catalogue
from simulation.journal import Call, FaultPlan, Journal
from simulation.orders import DAY_START, OrderSpec
from simulation.scenario import SHOPIFY_DOMAIN
from simulation.sender import Attempt, WebhookSender
from simulation.server import SimulationServer, World

__all__ = ["CHANNELS", "Push", "PushTap", "Shop", "deployment", "fresh_secrets"]

TENANT = "demo"
CHANNELS = ("shopify_us", "woo_us", "amazon_us")
LOCATION = "shipbob_6"

#: (time.time() it reached the channel, channel, sku, level the channel was told)
Push = tuple[float, str, str, int]


class PushTap(Journal):
    """The vendors' journal, which also tells listeners of each stock push as the channel gets it.

    Called from the simulation's server thread: listeners must be thread-safe and quick.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__()
        self._holder = _CatalogueHolder(catalogue)
        self.listeners: list[Callable[[Push], None]] = []

    def record(self, call: Call) -> None:
        super().record(call)
        from hub.demo_summary import pushes_by_channel

        for push in pushes_by_channel([call], self._holder):  # type: ignore[arg-type]
            for listener in self.listeners:
                listener(push)

    def pushes(self) -> list[Push]:
        """Every accepted push so far, in arrival order."""
        from hub.demo_summary import pushes_by_channel

        return pushes_by_channel(self.calls(), self._holder)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _CatalogueHolder:
    """What :func:`hub.demo_summary.pushes_by_channel` reads of a scenario: its catalogue."""

    catalogue: Catalogue


def deployment(
    catalogue: Catalogue,
    sim: str,
    ledger: Path,
    port: int,
    push_to: Sequence[str] = CHANNELS,
) -> dict[str, Any]:
    """The demo's business with only its sales channels: orders in, availability out (to the
    channels in ``push_to``)."""
    return {
        "version": 1,
        "tenants": {
            TENANT: {
                "channels": {
                    "shopify_us": {"kind": "shopify"},
                    "woo_us": {"kind": "woocommerce"},
                    "amazon_us": {"kind": "amazon"},
                },
                "locations": {
                    LOCATION: {
                        "kind": "3pl",
                        "priority": 1,
                        "region": "US-CENTRAL",
                        "country": "US",
                    }
                },
                "connectors": {
                    "shopify_us": {
                        "type": "shopify",
                        "channel": "shopify_us",
                        "settings": {
                            "shop_domain": SHOPIFY_DOMAIN,
                            "location_id": str(catalogue.shopify_location_id),
                            "api_base": f"{sim}/shopify",
                        },
                        "secrets": {
                            "access_token": "env:BENCH_SHOPIFY_TOKEN",
                            "webhook_secrets": ["env:BENCH_SHOPIFY_SECRET"],
                        },
                    },
                    "woo_us": {
                        "type": "woocommerce",
                        "channel": "woo_us",
                        "settings": {
                            "store_url": "https://shop.demo.example",
                            "api_base": f"{sim}/woocommerce",
                        },
                        "secrets": {
                            "consumer_key": "env:BENCH_WOO_KEY",
                            "consumer_secret": "env:BENCH_WOO_SECRET",
                            "webhook_secrets": ["env:BENCH_WOO_WEBHOOK"],
                        },
                    },
                    "amazon_us": {
                        "type": "amazon",
                        "channel": "amazon_us",
                        "settings": {
                            "seller_id": "A2DEMOSELLER01",
                            "marketplace_ids": ["ATVPDKIKX0DER"],
                            "endpoint": "https://sellingpartnerapi-na.amazon.com",
                            "client_id": "amzn1.application-oa2-client.bench",
                            "api_base": f"{sim}/amazon",
                            "lwa_endpoint": f"{sim}/amazon",
                        },
                        "secrets": {
                            "client_secret": "env:BENCH_AMAZON_SECRET",
                            "refresh_token": "env:BENCH_AMAZON_REFRESH",
                        },
                    },
                },
                "routes": [
                    {"from": "*", "events": ["*"], "to": ["ledger"]},
                    {
                        "from": "ledger",
                        "events": ["availability.changed"],
                        "to": list(push_to),
                    },
                ],
            }
        },
        "broker": {"kind": "embedded"},
        "ledger": {"url": str(ledger)},
        "ingress": {"host": "127.0.0.1", "port": port},
    }


def fresh_secrets() -> dict[str, str]:
    """Fresh secrets for one run, resolved from this mapping (never from the real environment)."""
    names = ("SHOPIFY_TOKEN", "SHOPIFY_SECRET", "WOO_KEY", "WOO_SECRET", "WOO_WEBHOOK",
             "AMAZON_SECRET", "AMAZON_REFRESH")  # fmt: skip
    return {f"BENCH_{name}": secrets.token_urlsafe(24) for name in names}


def _receipts(stock: dict[str, int]) -> list[Any]:
    """The opening stock, as a warehouse system reports it: one receipt per SKU."""
    from canonical import Envelope, MovementKind, SourceRef, StockMovement

    envelopes = []
    for sku, units in sorted(stock.items()):
        movement = StockMovement(
            tenant=TENANT, movement_id=f"bench-opening-{sku}", kind=MovementKind.RECEIPT,
            sku=sku, location=LOCATION, quantity=units,
            occurred_at=DAY_START - timedelta(hours=6), reason="opening stock",
        )  # fmt: skip
        envelopes.append(
            Envelope.wrap(movement, event_type="stock.moved",
                          source=SourceRef(connector="wms", instance="wms"),
                          source_ids=(movement.movement_id,), occurred_at=movement.occurred_at)
        )  # fmt: skip
    return envelopes


class Shop:
    """``async with Shop(stock) as shop:`` the hub and its channels, running, with ``stock`` (SKU ->
    units) received at the fulfilment centre; ``shop.catalogue`` names the SKUs (the simulation's
    ten regular and three flash-sale products). ``push_to`` leaves channels out of the pushes, to
    see what one channel's quota costs the others."""

    def __init__(self, stock: dict[str, int] | Callable[[Catalogue], dict[str, int]],
                 *, seed: int = 7, push_to: Sequence[str] = CHANNELS) -> None:  # fmt: skip
        self.push_to = tuple(push_to)
        self.catalogue = self.catalogue_for(seed)
        self.stock = stock(self.catalogue) if callable(stock) else dict(stock)
        self.tap = PushTap(self.catalogue)
        self._folder = tempfile.TemporaryDirectory(prefix="hub-bench-")
        self._exit = contextlib.AsyncExitStack()
        self.runtime: Any = None
        self.sender: WebhookSender | None = None
        self._inbox: Any = None

    @staticmethod
    def catalogue_for(seed: int) -> Catalogue:
        """The simulation's catalogue for ``seed`` (the ids every channel knows the SKUs by)."""
        return build_catalogue(random.Random(seed))

    async def __aenter__(self) -> Shop:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        from hub.config.model import Deployment
        from hub.ledger.catalog import import_catalog
        from hub.runtime import embedded_inbox_path, open_runtime
        from hub.serve import serve_embedded
        from router.transport.inbox import SqliteInbox

        folder = Path(self._folder.name)
        world = World.for_scenario(_EmptyScenario(self.catalogue), faults=FaultPlan.none())  # type: ignore[arg-type]
        world.journal = self.tap
        sim = SimulationServer(world).start()
        self._exit.callback(sim.stop)
        port = free_port()
        environ = fresh_secrets()
        config = Deployment.model_validate(
            deployment(self.catalogue, sim.url, folder / "ledger.sqlite3", port, self.push_to)
        )
        self.runtime = open_runtime(config, environ=environ, auto_migrate=True)
        self._exit.callback(self.runtime.close)
        for name, text in (("locations.csv", self.catalogue.locations_csv()),
                           ("skus.csv", self.catalogue.skus_csv())):  # fmt: skip
            (folder / name).write_text(text, encoding="utf-8")
            import_catalog(self.runtime.ledger, folder / name)
        self.runtime.catalog.reload()
        refused = [r for r in self.runtime.ledger.apply(_receipts(self.stock))
                   if r.outcome == "rejected"]  # fmt: skip
        if refused:
            raise RuntimeError(f"the opening stock was refused: {refused[0].reason}")
        self._inbox = SqliteInbox(embedded_inbox_path(self.runtime.ledger_url))
        self._exit.callback(self._inbox.close)
        started, stop = asyncio.Event(), asyncio.Event()
        server = asyncio.create_task(
            serve_embedded(self.runtime, host="127.0.0.1", port=port, on_started=started.set,
                           should_exit=stop, environ=environ)
        )  # fmt: skip

        async def stop_hub() -> None:
            stop.set()
            await asyncio.wait_for(server, 30)

        self._exit.push_async_callback(stop_hub)
        await asyncio.wait_for(started.wait(), 20)
        secret = {"shopify_us": environ["BENCH_SHOPIFY_SECRET"],
                  "woo_us": environ["BENCH_WOO_WEBHOOK"]}  # fmt: skip
        self.sender = WebhookSender(f"http://127.0.0.1:{port}", TENANT, secret,
                                    compression=1e6)  # fmt: skip
        self._exit.push_async_callback(self.sender.aclose)
        await self.drained()  # the opening stock's pushes are not part of any measurement

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._exit.aclose()
        finally:
            self._folder.cleanup()

    async def send(self, order: OrderSpec) -> Attempt:
        """Deliver a Shopify or WooCommerce order's webhook, signed as the vendor signs it (and
        retried on the vendor's schedule, compressed to nothing); the answer to the last attempt,
        with ``sent_at`` the moment of the first, where any latency starts."""
        assert self.sender is not None
        first = time.time()
        attempt = await self.sender.send(delivery(order))
        return dataclasses.replace(attempt, sent_at=first)

    async def store_polled(self, orders: Sequence[OrderSpec]) -> None:
        """Amazon orders as the hub's poller stores what ``getOrders`` returned (the HTTP polls
        themselves are not made: the benchmark decides when a poll happens)."""
        from canonical import new_message_id
        from router.ports import RawMessage

        asins = {p.sku: p.asin for p in self.catalogue.products}
        raws = [
            RawMessage(id=str(new_message_id()), tenant=TENANT, instance="amazon_us",
                       event="getOrder", body=amazon_polled(order, asins),
                       received_at=datetime.now(UTC), headers={"x-hub-polled": "getOrders"})
            for order in orders
        ]  # fmt: skip
        if raws:
            await asyncio.to_thread(self._inbox.put, raws)

    async def drained(self, timeout: float = 120.0) -> None:
        """Wait until the inbox is empty and the outbox relayed (every push answered)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise TimeoutError("the hub did not drain in time")
            pending = (await asyncio.to_thread(self._inbox.stats)).pending
            unpublished = await asyncio.to_thread(self.runtime.ledger.unpublished, 1)
            quiet = quiet + 1 if pending == 0 and not unpublished else 0
            await asyncio.sleep(0.1)

    def available(self, sku: str, channel: str) -> int:
        """The ledger's available-to-promise for ``sku`` on ``channel`` now."""
        rows = self.runtime.ledger.availability(TENANT, sku=sku, channel=channel)
        return int(rows[0].available) if rows else 0


@dataclass(frozen=True)
class _EmptyScenario:
    """A scenario with no traffic of its own: the benchmark sends every order itself."""

    catalogue: Catalogue
    deliveries: tuple[()] = ()
    amazon_orders: tuple[()] = ()
