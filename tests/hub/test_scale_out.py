"""Scale-out: one ``hub ingress`` and two ``hub worker`` processes on Redis and PostgreSQL.

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
ORDERS = 2000


def _deployment(prefix: str, ledger_url: str, port: int) -> dict[str, Any]:
    return {
        "version": 1,
        "tenants": {"acme": acme_tenant()},
        "broker": {"kind": "redis", "url": REDIS_URL, "partitions": 4, "prefix": prefix},
        "ledger": {"url": ledger_url},
        "ingress": {"host": "127.0.0.1", "port": port},
    }


def _orders() -> list[bytes]:
    return [json.dumps(paid_order(7_000_000_000_000_000_000 + n)).encode() for n in range(ORDERS)]


def _headers(body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        "x-shopify-hmac-sha256": digest,
    }


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[str, str, str]]:
    prefix = f"hub-test:{uuid.uuid4().hex[:8]}"
    port = free_port()
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(_deployment(prefix, postgres_url, port)))
    Ledger.migrate(postgres_url)
    with Ledger(postgres_url) as ledger:
        ledger.upsert_location("acme", "wh_east")
        for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
            ledger.upsert_sku("acme", sku)
        ledger.apply([receipt("TSHIRT-RED-M", 2 * ORDERS), receipt("MUG-WHITE", ORDERS)])
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
        yield f"http://127.0.0.1:{port}", postgres_url, prefix
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


def test_one_ingress_and_two_workers_apply_every_webhook_once(
    cluster: tuple[str, str, str],
) -> None:
    base, ledger_url, prefix = cluster
    statuses = asyncio.run(_post_all(base, _orders()))
    assert statuses == [200] * ORDERS
    deadline = time.monotonic() + 180
    with Ledger(ledger_url) as ledger:
        while time.monotonic() < deadline and ledger.processed_count() < ORDERS + 2:
            time.sleep(0.5)
        assert ledger.processed_count() == ORDERS + 2  # the orders and the two receipts
        positions = {p.sku: p for p in ledger.positions(tenant="acme")}
    assert positions["TSHIRT-RED-M"].allocated == 2 * ORDERS
    assert positions["MUG-WHITE"].allocated == ORDERS
    client = redis.Redis.from_url(REDIS_URL)
    pending = sum(client.xpending(f"{prefix}:raw:{p}", "hub-router")["pending"] for p in range(4))
    client.close()
    assert pending == 0
