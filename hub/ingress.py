"""The HTTP ingress: where vendors deliver webhooks, answered within their timeouts.

``POST /webhooks/{tenant}/{instance}`` runs the cheap, safe checks in an order that never does work
for an unauthenticated caller and never stores anything it refuses:

1. size: the body is read as a stream and cut off at the cap (413), before it is all in memory;
2. media type: JSON only (415);
3. tenant and connector instance exist (404);
4. signature: the connector's scheme, on the raw bytes, constant-time (401); a header sent on
   several lines is checked as one combined value, so a second signature line is never ignored;
5. parse: strict UTF-8 JSON with a nesting cap, checked without recursion (400);
6. load: when the backlog is above its limit the hub sheds load with 503 and ``Retry-After``;
7. store: the raw message is written durably (inbox or stream) *before* the 200 answer.

Processing (translation, rules, ledger) happens later in the workers, so the answer is fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canonical import new_message_id
from router.ports import RawMessage
from router.tracing import traceparent_of

__all__ = [
    "IngressLimits",
    "RawSink",
    "Receiver",
    "ReceiverLookup",
    "create_ingress_app",
    "json_too_deep",
]


class Receiver(Protocol):
    """One connector instance's webhook endpoint: verification and the vendor's event name."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise any exception when the delivery is not genuine (missing, wrong, stale signature)."""
        ...

    def event_name(self, headers: Mapping[str, str], payload: Any) -> str:
        """The vendor's name for what the payload is (``orders/create``, ``charge.refunded``)."""
        ...

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether this is the vendor's unsigned endpoint check (answered 200, stored nowhere)."""
        ...


#: ``(tenant, instance) -> Receiver``, or None when either does not exist.
ReceiverLookup = Callable[[str, str], Receiver | None]


class RawSink(Protocol):
    """Durable storage of accepted raw messages (the embedded inbox or the broker publisher)."""

    async def put(self, raws: Sequence[RawMessage]) -> None: ...

    async def backlog(self) -> int: ...


@dataclass(frozen=True)
class IngressLimits:
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    shed_backlog: int = 100_000
    retry_after_seconds: int = 5


_tracer = trace.get_tracer("commerce_hub.ingress")
_propagator = TraceContextTextMapPropagator()

#: Headers kept with a raw message (for translation and diagnosis); signatures are not kept.
_KEPT_HEADERS = (
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "x-shopify-api-version",
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-delivery-id",
    "x-amz-sns-message-type",
    "content-type",
    "user-agent",
)


def json_too_deep(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _header_fields(request: Request) -> dict[str, str]:
    """One value per header name, repeated lines joined with ", " as RFC 9110 (5.3) combines them.

    A signature or topic header sent twice is then checked as the whole it is, never reduced to
    whichever line happens to come first (a genuine signature next to a forged one is refused).
    """
    fields: dict[str, str] = {}
    for name, value in request.headers.items():
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


def _problem(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


class _BodyTooLargeError(Exception):
    pass


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def create_ingress_app(
    receivers: ReceiverLookup,
    sink: RawSink,
    *,
    limits: IngressLimits | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ready: Callable[[], Awaitable[bool]] | None = None,
    extra_routes: Sequence[Route] = (),
) -> Starlette:
    """The ingress ASGI app; the hub adds its admin, metrics and dashboard routes beside it."""
    limits = limits or IngressLimits()

    async def webhook(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        instance = request.path_params["instance"]
        parent = _propagator.extract(dict(request.headers))
        with _tracer.start_as_current_span(
            "hub.ingress POST /webhooks/{tenant}/{instance}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "POST",
                "http.route": "/webhooks/{tenant}/{instance}",
                "hub.tenant": tenant,
                "hub.connector_instance": instance,
            },
        ) as span:
            response = await receive(request, tenant, instance, span)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    async def receive(request: Request, tenant: str, instance: str, span: Any) -> Response:
        try:
            body = await _read_capped(request, limits.max_body_bytes)
        except _BodyTooLargeError:
            return _problem(413, f"body larger than {limits.max_body_bytes} bytes")
        fields = _header_fields(request)
        pinged = receivers(tenant, instance)
        if pinged is not None and pinged.is_ping(fields, body):
            # WooCommerce checks a new webhook's URL with an unsigned form post before it signs
            # anything; refusing it (415) makes creating the webhook fail. Nothing is stored.
            span.set_attribute("hub.ping", True)
            return JSONResponse({"status": "ping acknowledged"})
        media_type = fields.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            return _problem(415, "webhook bodies must be application/json")
        receiver = receivers(tenant, instance)
        if receiver is None:
            return _problem(404, "no such tenant or connector instance")
        try:
            receiver.verify(fields, body)
        except Exception:  # noqa: BLE001 - any failure to verify is the same answer
            return _problem(401, "signature verification failed")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _problem(400, "body is not valid UTF-8 JSON")
        if json_too_deep(payload, limits.max_json_depth):
            return _problem(400, f"JSON nests deeper than {limits.max_json_depth} levels")
        try:
            event = receiver.event_name(fields, payload)
        except Exception:  # noqa: BLE001 - an unknown event is the sender's problem
            return _problem(400, "cannot tell which event this delivery is")
        if await sink.backlog() >= limits.shed_backlog:
            return _problem(
                503,
                "the hub is shedding load; retry later",
                {"Retry-After": str(limits.retry_after_seconds)},
            )
        headers = {name: fields[name] for name in _KEPT_HEADERS if name in fields}
        raw = RawMessage(
            id=str(new_message_id()),
            tenant=tenant,
            instance=instance,
            event=event,
            body=body,
            received_at=clock(),
            headers=headers,
            traceparent=traceparent_of(span),
        )
        span.set_attribute("messaging.message.id", raw.id)
        span.set_attribute("hub.vendor_event", event)
        await sink.put([raw])
        return JSONResponse({"id": raw.id, "event": event}, status_code=200)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readiness(_: Request) -> Response:
        ok = await ready() if ready is not None else True
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    routes = [
        Route("/webhooks/{tenant}/{instance}", webhook, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", readiness, methods=["GET"]),
        *extra_routes,
    ]
    return Starlette(routes=routes)


class InboxSink:
    """The embedded sink: the SQLite inbox, written from a thread so the event loop stays free."""

    def __init__(self, inbox: Any) -> None:
        self._inbox = inbox

    async def put(self, raws: Sequence[RawMessage]) -> None:
        await asyncio.to_thread(self._inbox.put, raws)

    async def backlog(self) -> int:
        stats = await asyncio.to_thread(self._inbox.stats)
        return int(stats.pending)
