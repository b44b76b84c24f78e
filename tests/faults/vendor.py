"""A vendor API on loopback for outbound fault scenarios: Shopify's ``inventory_levels/set.json``.

A real HTTP server (a thread), so the connector's own timeouts fire on a slow answer; respx stands
in front of the transport and cannot make a request slow. The scenario switches the server between
answering at once, slowly, or with 429 and ``Retry-After``, and reads back every call and the level
it holds per inventory item.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.faults.harness import free_port

__all__ = ["Call", "FakeShopify"]


@dataclass(frozen=True)
class Call:
    at: float  # monotonic time the request arrived
    item: int
    available: int
    status: int
    answered_at: float  # monotonic time the answer was written (or the write failed)


@dataclass
class FakeShopify:
    """``POST /admin/api/2025-01/inventory_levels/set.json`` as Shopify documents it.

    ``delay`` seconds before answering (a slow vendor); ``apply_late`` applies the level only then
    (a vendor that finishes the work after the client gave up) rather than on arrival.
    ``throttle_until`` (monotonic) answers 429 with ``Retry-After: retry_after`` until then;
    ``refuse_items`` are answered 422 (an inventory item Shopify does not know).
    """

    delay: float = 0.0
    apply_late: bool = False
    throttle_until: float = 0.0
    retry_after: str = "1"
    refuse_items: set[int] = field(default_factory=set)
    levels: dict[int, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                vendor._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeShopify:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        length = int(request.headers.get("content-length", "0"))
        body = json.loads(request.rfile.read(length))
        item, available = int(body["inventory_item_id"]), int(body["available"])
        if not request.path.endswith("/inventory_levels/set.json"):
            self._answer(request, 404, {"errors": "Not Found"}, arrived, item, available)
            return
        if arrived < self.throttle_until:
            headers = {"Retry-After": self.retry_after}
            self._answer(request, 429, {"errors": "Exceeded 2 calls per second"}, arrived, item,
                         available, headers)  # fmt: skip
            return
        if item in self.refuse_items:
            refusal = {"errors": {"inventory_item_id": ["Inventory item does not exist"]}}
            self._answer(request, 422, refusal, arrived, item, available)
            return
        if not self.apply_late:
            with self._lock:
                self.levels[item] = available
        delay = self.delay
        if delay:
            time.sleep(delay)
        if self.apply_late:
            with self._lock:
                self.levels[item] = available
        level = {
            "inventory_item_id": item,
            "location_id": int(body["location_id"]),
            "available": available,
            "updated_at": "2026-03-02T10:00:00-05:00",
        }
        self._answer(request, 200, {"inventory_level": level}, arrived, item, available,
                     {"X-Shopify-Shop-Api-Call-Limit": "1/40"})  # fmt: skip

    def _answer(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        payload: Any,
        arrived: float,
        item: int,
        available: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except OSError:  # the client timed out and hung up
            pass
        with self._lock:
            self.calls.append(Call(arrived, item, available, status, time.monotonic()))

    def snapshot(self) -> tuple[dict[int, int], list[Call]]:
        with self._lock:
            return dict(self.levels), list(self.calls)
