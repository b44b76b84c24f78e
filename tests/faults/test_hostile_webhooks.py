"""Hostile webhooks at the hub's door: nothing crashes it, nothing it refuses is stored.

The ingress is the one ``hub run`` serves (:func:`hub.ingress.create_ingress_app` with the
runtime's receivers, the SQLite inbox sink and the deployment's limits, as
:func:`hub.serve.serve_embedded` builds it), for tenant ``acme`` with a Shopify (HMAC of the body)
and a Stripe (timestamped ``Stripe-Signature``) instance.

``test_fuzzed_deliveries_without_the_secret_are_refused`` (hypothesis, 300 examples): any body
(binary, JSON, deep nesting, invalid UTF-8, sizes around the 1 MiB cap), any content type, any or
no signature header, any topic. Pass criterion: the answer is 413 (larger than the cap), else 415
(not JSON), else 401 (signature); never a 5xx, never 200, and the inbox stays empty.

``test_fuzzed_deliveries_with_a_genuine_signature_get_the_documented_status`` (hypothesis, 300
examples): the same junk signed with the real secret (a compromised or buggy sender). Pass
criterion: the status is the one the ingress documents for the first check that fails (413 size,
415 media type, 400 not UTF-8 JSON / nested deeper than 64 / unknown topic), 200 only for a valid
JSON delivery of a known topic; a refused delivery adds nothing to the inbox, a 200 exactly one.

``test_hostile_deliveries_to_a_served_hub`` (real HTTP through uvicorn, the embedded worker
running): forged signatures, replayed signatures (a genuine signature on another body; Stripe
timestamps 302 s old and 302 s ahead), JSON nesting bombs (signed and not), a 10 MiB body (with a
length and chunked), invalid UTF-8, CR/LF/NUL injected into header values on the wire, and
duplicated signature headers in both orders. Pass criterion: each gets its status (401, 400, 413,
or 400 from the HTTP server for a malformed header), the server still answers ``/healthz``, and
afterwards the inbox is empty, the ledger holds nothing, there is no dead letter, no audit record;
a genuine delivery sent last is still accepted and applied.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.shopify.connector import ShopifyConnector
from connectors.webhooks import HmacBodyVerifier, StripeSignatureVerifier
from hub.ingress import InboxSink, IngressLimits, create_ingress_app, json_too_deep
from hub.runtime import HubRuntime, embedded_inbox_path
from router.transport.inbox import SqliteInbox
from tests.faults.hubkit import ENV, open_hub, order_body, stripe_capture
from tests.support import serving

SHOPIFY = "/webhooks/acme/shopify_us"
STRIPE = "/webhooks/acme/stripe"
CAP = 1024 * 1024  # the deployment's default ingress.max_body_bytes
DEPTH = 64  # and max_json_depth
SHOPIFY_SIGNER = HmacBodyVerifier("X-Shopify-Hmac-Sha256", encoding="base64")
STRIPE_SIGNER = StripeSignatureVerifier()


def _shopify_headers(body: bytes, *, secret: str = ENV["SHOPIFY_SECRET"]) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        **SHOPIFY_SIGNER.sign(body, secret),
    }


def _stripe_headers(
    body: bytes, *, secret: str = ENV["STRIPE_SECRET"], age: int = 0
) -> dict[str, str]:
    stamp = int(time.time()) - age
    return {"content-type": "application/json", **STRIPE_SIGNER.sign(body, secret, timestamp=stamp)}


def _ingress(runtime: HubRuntime, inbox: SqliteInbox) -> Any:
    """The ingress app exactly as ``hub run`` builds it (receivers, inbox sink, limits)."""
    limits = IngressLimits(
        max_body_bytes=runtime.deployment.ingress.max_body_bytes,
        max_json_depth=runtime.deployment.ingress.max_json_depth,
    )
    assert (limits.max_body_bytes, limits.max_json_depth) == (CAP, DEPTH)
    return create_ingress_app(runtime.receiver, InboxSink(inbox), limits=limits)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[HubRuntime]:
    hub = open_hub(str(tmp_path / "ledger.sqlite3"))
    try:
        yield hub
    finally:
        hub.close()


class _Door:
    """The ingress app behind an in-process ASGI client, driven from a synchronous test (the
    hypothesis examples), each request on the same event loop."""

    def __init__(self, runtime: HubRuntime, inbox: SqliteInbox) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_ingress(runtime, inbox)), base_url="http://hub"
        )
        self.inbox = inbox

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(path, content=body, headers=headers))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
        self.inbox.close()


@pytest.fixture
def door(runtime: HubRuntime, tmp_path: Path) -> Iterator[_Door]:
    door = _Door(runtime, SqliteInbox(tmp_path / "fuzz-inbox.sqlite3"))
    try:
        yield door
    finally:
        door.close()


# -- strategies ----------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_bodies = st.one_of(
    st.binary(max_size=512),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 20_000)),  # nesting bombs
    st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, st.integers(1, 200)),
    st.builds(lambda junk: b'{"note": "' + junk + b'"}', st.binary(min_size=1, max_size=16)),
    st.builds(lambda n: b" " * n + b"{}", st.sampled_from([CAP - 2, CAP - 1, CAP, CAP + 1])),
    st.just(json.dumps(order_body(1)).encode()),
)
_content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/vnd.shopify+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            "application/jsonx",
            "json",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
_topics = st.one_of(st.sampled_from(sorted(ShopifyConnector.events)), _header_text)
_extra_headers = st.dictionaries(
    st.sampled_from(
        ["x-shopify-shop-domain", "x-shopify-event-id", "user-agent", "traceparent", "x-anything"]
    ),
    _header_text,
    max_size=3,
)


def _media_is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _expected_for_signed(body: bytes, content_type: str, topic: str) -> int:
    """The status the ingress documents for a genuinely signed Shopify delivery."""
    if len(body) > CAP:
        return 413
    if not _media_is_json(content_type):
        return 415
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 400
    if json_too_deep(payload, DEPTH) or topic not in ShopifyConnector.events:
        return 400
    return 200


_FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@_FUZZ
@given(
    body=_bodies,
    content_type=_content_types,
    signature=st.one_of(st.none(), _header_text, st.just("forged")),
    topic=st.one_of(st.none(), _topics),
    extra=_extra_headers,
    path=st.sampled_from([SHOPIFY, STRIPE]),
)
def test_fuzzed_deliveries_without_the_secret_are_refused(
    door: _Door,
    body: bytes,
    content_type: str,
    signature: str | None,
    topic: str | None,
    extra: dict[str, str],
    path: str,
) -> None:
    """Pass criterion: see the module docstring (first scenario)."""
    headers = {**extra, "content-type": content_type}
    if topic is not None:
        headers["x-shopify-topic"] = topic
    if signature is not None:
        if signature == "forged":  # a well-formed signature made with another secret
            forged = {
                **_shopify_headers(body, secret="attacker"),
                **_stripe_headers(body, secret="x"),
            }
            headers.update({k: v for k, v in forged.items() if k != "content-type"})
        else:
            headers["x-shopify-hmac-sha256" if path == SHOPIFY else "stripe-signature"] = signature
    answer = door.post(path, body, headers)
    if len(body) > CAP:
        expected = 413
    elif not _media_is_json(content_type):
        expected = 415
    else:
        expected = 401
    assert answer.status_code == expected, (answer.status_code, answer.text)
    assert door.inbox.stats().pending == 0


@_FUZZ
@given(body=_bodies, content_type=_content_types, topic=_topics, extra=_extra_headers)
def test_fuzzed_deliveries_with_a_genuine_signature_get_the_documented_status(
    door: _Door, body: bytes, content_type: str, topic: str, extra: dict[str, str]
) -> None:
    """Pass criterion: see the module docstring (second scenario)."""
    headers = {
        **extra,
        **_shopify_headers(body),
        "content-type": content_type,
        "x-shopify-topic": topic,
    }
    before = door.inbox.stats().pending
    answer = door.post(SHOPIFY, body, headers)
    expected = _expected_for_signed(body, content_type, topic)
    assert answer.status_code == expected, (answer.status_code, answer.text)
    assert door.inbox.stats().pending == before + (1 if expected == 200 else 0)


# -- concrete hostile deliveries over real HTTP --------------------------------------------------


async def _raw_http(port: int, request: bytes) -> int:
    """Send bytes as they are on the wire (no client library to tidy them up); the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(line.split()[1])


def _wire(path: str, body: bytes, header_lines: list[bytes]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        f"Content-Length: {len(body)}".encode(),
        b"Connection: close",
        *header_lines,
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


@pytest.fixture
async def served(runtime: HubRuntime) -> AsyncIterator[tuple[HubRuntime, str]]:
    async with serving(runtime, ENV) as base:
        yield runtime, base


async def test_hostile_deliveries_to_a_served_hub(served: tuple[HubRuntime, str]) -> None:
    """Pass criterion: see the module docstring (third scenario)."""
    runtime, base = served
    port = int(base.rsplit(":", 1)[1])
    order = json.dumps(order_body(7001)).encode()
    other = json.dumps(order_body(7002)).encode()
    capture = json.dumps(stripe_capture(7001)).encode()
    bomb = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 65 + b"1" + b"}" * 65
    invalid_utf8 = order.replace(b'"Jane"', b'"J\xff\xfene"', 1)
    assert invalid_utf8 != order
    big = b" " * (10 * 1024 * 1024) + b"{}"
    forged_hmac = _shopify_headers(order, secret="attacker")["X-Shopify-Hmac-Sha256"]
    genuine_hmac = _shopify_headers(order)["X-Shopify-Hmac-Sha256"]

    cases: dict[str, tuple[str, bytes, dict[str, str] | list[tuple[str, str]], int]] = {
        "forged shopify signature": (SHOPIFY, order, _shopify_headers(order, secret="x"), 401),
        "forged stripe signature": (STRIPE, capture, _stripe_headers(capture, secret="x"), 401),
        "no signature": (SHOPIFY, order, {"content-type": "application/json"}, 401),
        "empty signature": (
            SHOPIFY,
            order,
            {**_shopify_headers(order), "X-Shopify-Hmac-Sha256": ""},
            401,
        ),
        "shopify signature of another body": (SHOPIFY, other, _shopify_headers(order), 401),
        "stripe signature of another body": (
            STRIPE,
            capture.replace(b"succeeded", b"succeedeX"),
            _stripe_headers(capture),
            401,
        ),
        # the tolerance is 300 s; 302 s stays outside it whatever the sub-second clock
        "stripe signature 302 s old": (STRIPE, capture, _stripe_headers(capture, age=302), 401),
        "stripe signature 302 s ahead": (STRIPE, capture, _stripe_headers(capture, age=-302), 401),
        "stripe signature a day old": (STRIPE, capture, _stripe_headers(capture, age=86_400), 401),
        "unsigned nesting bomb": (SHOPIFY, bomb, {"content-type": "application/json"}, 401),
        "signed nesting bomb": (SHOPIFY, bomb, _shopify_headers(bomb), 400),
        "signed object nested 65 deep": (SHOPIFY, deep_object, _shopify_headers(deep_object), 400),
        "signed stripe nesting bomb": (STRIPE, bomb, _stripe_headers(bomb), 400),
        "signed invalid UTF-8": (SHOPIFY, invalid_utf8, _shopify_headers(invalid_utf8), 400),
        "10 MiB body": (SHOPIFY, big, _shopify_headers(big), 413),
        "10 MiB form body": (
            SHOPIFY,
            big,
            {**_shopify_headers(big), "content-type": "application/x-www-form-urlencoded"},
            413,
        ),
        "signed, not JSON": (
            SHOPIFY,
            order,
            {**_shopify_headers(order), "content-type": "text/plain"},
            415,
        ),
        "signed, unknown topic": (
            SHOPIFY,
            order,
            {**_shopify_headers(order), "x-shopify-topic": "orders/explode"},
            400,
        ),
        "duplicate signature headers, forged first": (
            SHOPIFY,
            order,
            [
                ("content-type", "application/json"),
                ("x-shopify-topic", "orders/create"),
                ("x-shopify-hmac-sha256", forged_hmac),
                ("x-shopify-hmac-sha256", genuine_hmac),
            ],
            401,
        ),
        "duplicate signature headers, forged last": (
            SHOPIFY,
            order,
            [
                ("content-type", "application/json"),
                ("x-shopify-topic", "orders/create"),
                ("x-shopify-hmac-sha256", genuine_hmac),
                ("x-shopify-hmac-sha256", forged_hmac),
            ],
            401,
        ),
        "duplicate topic headers": (
            SHOPIFY,
            order,
            [*_shopify_headers(order).items(), ("x-shopify-topic", "orders/cancelled")],
            400,
        ),
        "duplicate content types": (
            SHOPIFY,
            order,
            [*_shopify_headers(order).items(), ("content-type", "text/plain")],
            415,
        ),
        "duplicate stripe signatures, the genuine one stale": (
            STRIPE,
            capture,
            [
                ("content-type", "application/json"),
                ("stripe-signature", _stripe_headers(capture, age=600)["Stripe-Signature"]),
                ("stripe-signature", _stripe_headers(capture, secret="x")["Stripe-Signature"]),
            ],
            401,
        ),
    }
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for name, (path, body, headers, _) in cases.items():
            answer = await client.post(path, content=body, headers=headers)
            statuses[name] = answer.status_code

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10 * 16):
                yield b" " * 65_536

        chunked = await client.post(SHOPIFY, content=chunks(), headers=_shopify_headers(big))
        statuses["10 MiB chunked body"] = chunked.status_code

        # Header injection, as raw bytes on the wire: CR, LF and NUL inside header values, a
        # folded (obsolete) continuation line carrying a second signature.
        signed = [b"Content-Type: application/json", b"X-Shopify-Topic: orders/create"]
        injections = {
            "CR in a header value": [
                *signed,
                b"X-Shopify-Hmac-Sha256: " + forged_hmac.encode() + b"\rX-Evil: 1",
            ],
            "LF in a header value": [
                b"Content-Type: application/json",
                b"X-Shopify-Topic: orders/create\nX-Shopify-Hmac-Sha256: " + forged_hmac.encode(),
            ],
            "NUL in a header value": [
                *signed,
                b"X-Shopify-Hmac-Sha256: " + forged_hmac.encode() + b"\x00" + genuine_hmac.encode(),
            ],
            "folded header": [
                *signed,
                b"X-Shopify-Hmac-Sha256: " + forged_hmac.encode(),
                b" " + genuine_hmac.encode(),
            ],
            "CRLF in a topic adds a signature": [
                b"Content-Type: application/json",
                b"X-Shopify-Topic: orders/create\r\nX-Shopify-Hmac-Sha256: " + forged_hmac.encode(),
            ],
        }
        for name, lines in injections.items():
            statuses[name] = await _raw_http(port, _wire(SHOPIFY, order, lines))
        health = await client.get("/healthz")
        assert health.status_code == 200  # the process lives on

        expected = {name: case[3] for name, case in cases.items()}
        expected["10 MiB chunked body"] = 413
        # malformed header lines are refused by the HTTP server itself (400), or, where the
        # bytes still form valid header lines, by the signature check (401)
        for name in injections:
            expected[name] = statuses[name] if statuses[name] in (400, 401) else 400
        assert statuses == expected

        inbox = SqliteInbox(embedded_inbox_path(runtime.ledger_url))
        try:
            assert inbox.stats().pending == 0
        finally:
            inbox.close()
        await asyncio.sleep(0.5)  # anything wrongly accepted would reach the worker by now
        assert runtime.ledger.processed_count() == 0
        assert runtime.operations.dead_letters(tenant="acme") == []
        assert runtime.operations.tenants_with_audit() == []

        # the door still works for a genuine delivery
        answer = await client.post(SHOPIFY, content=order, headers=_shopify_headers(order))
        assert answer.status_code == 200
        for _ in range(200):
            if runtime.ledger.processed_count() == 1:
                break
            await asyncio.sleep(0.05)
        assert runtime.ledger.processed_count() == 1
