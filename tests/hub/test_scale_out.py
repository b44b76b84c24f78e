"""Scale-out: one ``hub ingress`` and two ``hub worker`` processes on PostgreSQL, over Redis Streams
and over NATS JetStream (the same code, chosen by the deployment's ``broker.kind``).

Pass criterion: 2,000 signed Shopify order webhooks posted concurrently to the ingress are each
applied exactly once to the PostgreSQL ledger by the two workers together: 2,000 processed
messages, the allocations they imply, and no entry left pending in any stream.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from hub.ledger.store import Ledger
from tests.conftest import REDIS_URL
from tests.faults.harness import free_port
from tests.support import ROOT, acme_tenant, paid_order, receipt

SECRET = "scale-secret"
ORDERS = {"redis": 2000, "nats": 500}  # the 2,000 on Redis; NATS proves the same path


NATS_URL = os.environ.get("HUB_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _deployment(kind: str, prefix: str, ledger_url: str, port: int) -> dict[str, Any]:
    url = REDIS_URL if kind == "redis" else NATS_URL
    return {
        "version": 1,
        "tenants": {"acme": acme_tenant()},
        "broker": {"kind": kind, "url": url, "partitions": 4, "prefix": prefix},
        "ledger": {"url": ledger_url},
        "ingress": {"host": "127.0.0.1", "port": port},
    }


def _orders(count: int) -> list[bytes]:
    return [json.dumps(paid_order(7_000_000_000_000_000_000 + n)).encode() for n in range(count)]


def _headers(body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        "x-shopify-hmac-sha256": digest,
    }


@pytest.fixture(params=["redis", "nats"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, redis_url: str
) -> Iterator[tuple[str, str, str, str]]:
    kind = request.param
    prefix = f"hub-test:{uuid.uuid4().hex[:8]}"
    port = free_port()
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(_deployment(kind, prefix, postgres_url, port)))
    Ledger.migrate(postgres_url)
    with Ledger(postgres_url) as ledger:
        ledger.upsert_location("acme", "wh_east")
        for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
            ledger.upsert_sku("acme", sku)
        ledger.apply([receipt("TSHIRT-RED-M", 4000), receipt("MUG-WHITE", 2000)])
    env = {
        **os.environ,
        "SHOPIFY_TOKEN": "shpat_x",
        "SHOPIFY_SECRET": SECRET,
        "PYTHONPATH": str(ROOT),
    }
    hub = [sys.executable, "-m", "hub"]
    processes = [
        subprocess.Popen([*hub, "ingress", "--config", str(config)], env=env),
        *(
            subprocess.Popen(
                [*hub, "worker", "--config", str(config), "--consumer", f"w{n}"], env=env
            )
            for n in (1, 2)
        ),
    ]
    try:
        yield kind, f"http://127.0.0.1:{port}", postgres_url, prefix
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def _post_all(base: str, bodies: list[bytes]) -> list[int]:
    for _ in range(200):  # while the ingress starts
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                await client.get("/healthz")
            break
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def post(body: bytes) -> int:
            async with limit:
                response = await client.post(
                    "/webhooks/acme/shopify_us", content=body, headers=_headers(body)
                )
                return response.status_code

        return await asyncio.gather(*(post(body) for body in bodies))


def _pending(kind: str, prefix: str) -> int:
    if kind == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        pending = sum(
            client.xpending(f"{prefix}:raw:{p}", "hub-router")["pending"] for p in range(4)
        )
        client.close()
        return int(pending)
    from hub.config.model import Deployment
    from hub.scale import nats_config

    config = nats_config(
        Deployment.model_validate({"broker": {"kind": "nats", "url": NATS_URL, "prefix": prefix}})
    )

    async def query() -> int:
        import nats

        connection = await nats.connect(NATS_URL)
        jetstream = connection.jetstream()
        info = await jetstream.consumer_info(config.stream, config.durable)
        await jetstream.delete_stream(config.stream)
        await connection.close()
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    return asyncio.run(query())


def test_one_ingress_and_two_workers_apply_every_webhook_once(
    cluster: tuple[str, str, str, str],
) -> None:
    kind, base, ledger_url, prefix = cluster
    orders = ORDERS[kind]
    statuses = asyncio.run(_post_all(base, _orders(orders)))
    assert statuses == [200] * orders
    deadline = time.monotonic() + 180
    with Ledger(ledger_url) as ledger:
        while time.monotonic() < deadline and ledger.processed_count() < orders + 2:
            time.sleep(0.5)
        assert ledger.processed_count() == orders + 2  # the orders and the two receipts
        positions = {p.sku: p for p in ledger.positions(tenant="acme")}
    assert positions["TSHIRT-RED-M"].allocated == 2 * orders
    assert positions["MUG-WHITE"].allocated == orders
    assert _pending(kind, prefix) == 0
