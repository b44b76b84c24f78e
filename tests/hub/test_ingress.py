"""The webhook ingress: each kind of bad delivery gets its status and leaves nothing stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.ingress import InboxSink, IngressLimits, create_ingress_app, json_too_deep
from router.ports import RawMessage
from router.transport.inbox import SqliteInbox

SECRET = b"whsec_test"


class HmacReceiver:
    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(headers.get("x-signature", ""), expected):
            raise ValueError("bad signature")

    def event_name(self, headers: Mapping[str, str], payload: Any) -> str:
        return headers["x-topic"]

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False


def _signed(body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-signature": signature,
        "x-topic": "orders/create",
    }


class FullSink:
    def __init__(self) -> None:
        self.stored: list[RawMessage] = []

    async def put(self, raws: Sequence[RawMessage]) -> None:
        self.stored.extend(raws)

    async def backlog(self) -> int:
        return 10**9


@pytest.fixture
def inbox(tmp_path: Path) -> SqliteInbox:
    return SqliteInbox(tmp_path / "inbox.sqlite3")


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")  # type: ignore[arg-type]


@pytest.fixture
async def client(inbox: SqliteInbox) -> AsyncIterator[httpx.AsyncClient]:
    app = create_ingress_app(
        lambda tenant, instance: HmacReceiver() if (tenant, instance) == ("acme", "shop") else None,
        InboxSink(inbox),
        limits=IngressLimits(max_body_bytes=4096, max_json_depth=8),
    )
    async with _client(app) as test_client:
        yield test_client


async def test_a_genuine_delivery_is_stored_before_the_answer(
    client: httpx.AsyncClient, inbox: SqliteInbox
) -> None:
    body = json.dumps({"id": 820982911946154508, "total": "10.00"}).encode()
    response = await client.post("/webhooks/acme/shop", content=body, headers=_signed(body))
    assert response.status_code == 200
    assert response.json()["event"] == "orders/create"
    [raw] = inbox.take(10)
    assert raw.body == body  # byte-exact, so big ids survive
    assert raw.event == "orders/create"
    assert raw.tenant == "acme"
    assert "x-signature" not in raw.headers
    assert raw.id == response.json()["id"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/webhooks/acme/shop", b'{"a": 1}', {"content-type": "application/json"}, 401),
        ("/webhooks/acme/shop", b'{"a": 1}', {**_signed(b'{"a": 2}')}, 401),
        ("/webhooks/acme/nope", b'{"a": 1}', _signed(b'{"a": 1}'), 404),
        ("/webhooks/globex/shop", b'{"a": 1}', _signed(b'{"a": 1}'), 404),
        ("/webhooks/acme/shop", b"a=1", {**_signed(b"a=1"), "content-type": "text/plain"}, 415),
        ("/webhooks/acme/shop", b"{not json", _signed(b"{not json"), 400),
        ("/webhooks/acme/shop", b'{"a": "\xff"}', _signed(b'{"a": "\xff"}'), 400),
        ("/webhooks/acme/shop", b"[" * 9 + b"]" * 9, _signed(b"[" * 9 + b"]" * 9), 400),
        (
            "/webhooks/acme/shop",
            b"[" * 3000 + b"]" * 3000,
            {"content-type": "application/json"},
            413,
        ),
        ("/webhooks/acme/shop", b" " * 5000, _signed(b" " * 5000), 413),
    ],
)
async def test_bad_deliveries_are_refused_and_store_nothing(
    client: httpx.AsyncClient,
    inbox: SqliteInbox,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert inbox.stats().pending == 0


async def test_a_nesting_bomb_within_the_size_cap_is_refused(
    client: httpx.AsyncClient, inbox: SqliteInbox
) -> None:
    body = b"[" * 2000 + b"]" * 2000
    response = await client.post("/webhooks/acme/shop", content=body, headers=_signed(body))
    assert response.status_code == 400
    assert inbox.stats().pending == 0


async def test_a_chunked_body_without_length_is_cut_off_at_the_cap(
    client: httpx.AsyncClient, inbox: SqliteInbox
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1000

    response = await client.post("/webhooks/acme/shop", content=chunks(), headers=_signed(b""))
    assert response.status_code == 413
    assert inbox.stats().pending == 0


async def test_load_is_shed_with_retry_after() -> None:
    sink = FullSink()
    app = create_ingress_app(lambda t, i: HmacReceiver(), sink)
    async with _client(app) as client:
        body = b'{"a": 1}'
        response = await client.post("/webhooks/acme/shop", content=body, headers=_signed(body))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert sink.stored == []


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200


def test_depth_check_is_iterative() -> None:
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert json_too_deep(deep, 64)
    assert not json_too_deep({"a": [{"b": 1}]}, 3)
    assert json_too_deep({"a": [{"b": []}]}, 3)


async def test_a_woocommerce_webhook_ping_is_answered_and_stores_nothing(tmp_path: Path) -> None:
    """WooCommerce checks a new webhook URL with an unsigned ``webhook_id=N`` form post and
    refuses to create the webhook unless it gets a 2xx; a signed-looking or JSON body is no ping."""
    from connectors.woocommerce.connector import WooCommerceConnector
    from hub.runtime import ConnectorReceiver

    inbox = SqliteInbox(tmp_path / "inbox.sqlite3")
    connector = WooCommerceConnector.__new__(WooCommerceConnector)  # the ping needs no config
    app = create_ingress_app(
        lambda tenant, instance: ConnectorReceiver(connector) if tenant == "acme" else None,
        InboxSink(inbox),
    )
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with _client(app) as test_client:
        ping = await test_client.post("/webhooks/acme/woo", content=b"webhook_id=17", headers=form)
        assert ping.status_code == 200
        forged = await test_client.post(
            "/webhooks/acme/woo",
            content=b"webhook_id=17",
            headers={**form, "x-wc-webhook-signature": "c2lnbmF0dXJl"},
        )
        assert forged.status_code == 415  # carries a signature: a delivery, and not JSON
        other = await test_client.post("/webhooks/acme/woo", content=b"id=1", headers=form)
        assert other.status_code == 415
    assert inbox.stats().pending == 0
    inbox.close()
