"""The simulated vendors' APIs as one ASGI app (starlette), served by uvicorn on 127.0.0.1.

Each vendor lives under its own path prefix (``/shopify``, ``/woocommerce``, ``/amazon``,
``/stripe``, ``/easypost``, ``/avalara``, ``/shipbob``), so a connector or an SDK is pointed at it by
changing only its base URL. Every call goes through :func:`endpoint`, which applies the fault plan
(429 with the vendor's own error body, or a slow answer) and writes the journal; the vendor modules
only say what a healthy vendor would answer. ``GET /_simulation/journal`` serves the journal to
other processes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulation.journal import Call, FaultPlan, Journal
from simulation.scenario import DAY, AmazonOrder, Delivery, Scenario

__all__ = ["SimulationServer", "World", "create_app", "endpoint", "read_body"]

Handler = Callable[[Request, Any], Awaitable[Response]]


@dataclass
class World:
    """The vendors' state: what they know and remember between calls.

    ``clock`` gives the simulated second of the day, so that Amazon shows an order only once it has
    been placed; it defaults to the end of the day (everything visible), which is what an SDK test
    wants.
    """

    amazon_orders: list[AmazonOrder] = field(default_factory=list)
    asins: dict[str, str] = field(default_factory=dict)  # sku -> ASIN
    woo_products: dict[int, tuple[str, str, Decimal]] = field(default_factory=dict)
    #: Shopify variant id -> (inventory item id, sku, price)
    shopify_variants: dict[int, tuple[int, str, Decimal]] = field(default_factory=dict)
    #: every version of every Shopify order, with the simulated second it came to exist
    shopify_orders: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    clock: Callable[[], float] = lambda: DAY
    faults: FaultPlan = field(default_factory=FaultPlan.none)
    journal: Journal = field(default_factory=Journal)
    #: remembered answers and created resources, per vendor
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_scenario(
        cls, scenario: Scenario, *, clock: Callable[[], float] | None = None,
        faults: FaultPlan | None = None,
    ) -> World:  # fmt: skip
        """The vendors of one scenario: its Amazon orders and its products' channel ids."""
        products = scenario.catalogue.products
        return cls(
            amazon_orders=scenario.amazon_orders,
            asins={p.sku: p.asin for p in products},
            woo_products={p.woo_product_id: (p.sku, p.title, p.price) for p in products},
            shopify_variants={
                p.shopify_variant_id: (p.shopify_inventory_item_id, p.sku, p.price)
                for p in products
            },
            shopify_orders=[
                (d.at, json.loads(d.body))
                for d in scenario.deliveries
                if d.vendor == "shopify" and d.topic.startswith("orders/") and d.kind != "forged"
            ],
            clock=clock or (lambda: DAY),
            faults=faults or FaultPlan.none(),
        )

    def next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def remember(self, vendor: str) -> dict[str, Any]:
        return self.memory.setdefault(vendor, {})

    def as_sent(self, delivery: Delivery) -> Delivery:
        """``delivery`` as the vendor sends it now, from what it knows: a ShipBob shipment webhook
        carries the ``reference_id`` and ``tags`` of the ShipBob order the hub created for it
        (:func:`simulation.vendors.shipbob.shipped_from`). Forged deliveries are left alone."""
        from simulation.vendors import shipbob

        if delivery.vendor != "shipbob" or delivery.kind == "forged":
            return delivery
        body = json.loads(delivery.body)
        if not isinstance(body, dict) or "reference_id" not in body:
            return delivery
        with self._lock:
            orders = list(self.remember("shipbob").values())
        sent = shipbob.shipped_from(body, orders)
        if sent is body:
            return delivery
        dumped = json.dumps(sent, separators=(",", ":"), ensure_ascii=False).encode()
        return replace(delivery, body=dumped)


#: What each vendor answers when it rate-limits a caller.
_LIMITED: dict[str, tuple[Any, Callable[[float], dict[str, str]]]] = {
    "shopify": (
        {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                   "uninterrupted service."},
        lambda wait: {"Retry-After": f"{wait:.1f}"},
    ),
    "amazon": (
        {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the "
                     "requested resource.", "details": ""}]},
        lambda wait: {"x-amzn-RateLimit-Limit": "5.0", "Retry-After": f"{wait:.1f}"},
    ),
    "stripe": (
        {"error": {"type": "rate_limit_error", "code": "rate_limit",
                   "message": "Too many requests hit the API too quickly."}},
        lambda wait: {"Retry-After": f"{wait:.1f}"},
    ),
    "easypost": (
        {"error": {"code": "RATE_LIMITED", "message": "Rate limit exceeded", "errors": []}},
        lambda wait: {"Retry-After": f"{wait:.1f}"},
    ),
    "shipbob": (
        {"title": "Too Many Requests", "status": 429},
        lambda wait: {"Retry-After": f"{wait:.1f}"},
    ),
}  # fmt: skip


async def read_body(request: Request) -> Any:
    """The request body as the vendor would read it: JSON, a form (Stripe, LWA), or nothing."""
    raw = await request.body()
    if not raw:
        return None
    kind = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in kind:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def endpoint(
    world: World, vendor: str, operation: str, handler: Handler, *, limited: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a vendor handler with the fault plan and the journal."""

    async def serve(request: Request) -> Response:
        arrived = time.time()
        body = await read_body(request)
        rate_limited, delay, _ = world.faults.draw()
        if delay:
            await asyncio.sleep(delay)
        if rate_limited and limited and vendor in _LIMITED:
            error, headers = _LIMITED[vendor]
            response: Response = JSONResponse(
                error, status_code=429, headers=headers(world.faults.retry_after)
            )
        else:
            response = await handler(request, body)
        world.journal.record(
            Call(arrived, vendor, operation, request.method, request.url.path,
                 response.status_code, body)
        )  # fmt: skip
        return response

    return serve


def create_app(world: World) -> Starlette:
    """The ASGI app of every simulated vendor over one shared :class:`World`."""
    from simulation.api import channels, services

    async def journal(_: Request) -> Response:
        return JSONResponse([c.as_json() for c in world.journal.calls()])

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "simulated_second": world.clock()})

    routes = [
        *channels.routes(world),
        *services.routes(world),
        Route("/_simulation/journal", journal, methods=["GET"]),
        Route("/_simulation/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes)


class SimulationServer:
    """The app on uvicorn in a thread of its own, on a free port of 127.0.0.1.

    A thread (with its own event loop) keeps the vendors answering while the caller's loop is busy,
    as separate companies' servers would; ``with SimulationServer(world) as sim:`` starts it and
    stops it.
    """

    def __init__(self, world: World, *, host: str = "127.0.0.1") -> None:
        self.world = world
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(world), log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])),
            name="vendor-simulation",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimulationServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the vendor simulation did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> SimulationServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
