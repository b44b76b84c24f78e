"""``hub deploy`` against a running hub: a switch under load loses and repeats nothing; rollback.

Pass criteria: while 300 signed order webhooks stream in, a new deployment (a lower review
threshold) is deployed; afterwards every order has exactly one outcome (applied or waiting in
review), none twice and none missing, and orders after the switch follow the new rule. A rollback
restores the previous rule, and the history lists every version with who deployed it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.config.model import Deployment
from hub.runtime import HubRuntime, open_runtime
from tests.support import acme_tenant, paid_order, receipt, serving

ENV = {"SHOPIFY_TOKEN": "t", "SHOPIFY_SECRET": "s", "ADMIN": "admin-token"}


def _document(review_above: str) -> str:
    tenant = acme_tenant()
    tenant["governance"] = {"high_value": {"thresholds": {"USD": review_above}}}
    return yaml.safe_dump(
        {
            "version": 1,
            "tenants": {"acme": tenant},
            "admin": {"tokens": [{"name": "release-bot", "token": "env:ADMIN", "role": "admin"}]},
        }
    )


def _headers(body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(b"s", body, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        "x-shopify-hmac-sha256": digest,
    }


@pytest.fixture
async def hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[HubRuntime, str]]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    deployment = Deployment.model_validate(yaml.safe_load(_document("1000000")))
    runtime = open_runtime(
        deployment, ledger_url=str(tmp_path / "l.sqlite3"), environ=ENV, auto_migrate=True
    )
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        runtime.ledger.upsert_sku("acme", sku)
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 1000), receipt("MUG-WHITE", 1000)])
    runtime.catalog.reload()
    try:
        async with serving(runtime, ENV) as base:
            yield runtime, base
    finally:
        runtime.close()


async def _eventually(check: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


async def test_deploy_under_load_then_rollback(hub: tuple[HubRuntime, str]) -> None:
    runtime, base = hub
    admin = {"authorization": "Bearer admin-token"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        first = await client.post(
            "/admin/v1/deployments", content=_document("1000000"), headers=admin
        )
        assert first.status_code == 201, first.text

        async def send(number: int) -> int:
            body = json.dumps(paid_order(9_000_000 + number)).encode()
            response = await client.post(
                "/webhooks/acme/shopify_us", content=body, headers=_headers(body)
            )
            return response.status_code

        stream = [asyncio.create_task(send(n)) for n in range(150)]
        await asyncio.sleep(0.05)
        switched = await client.post(
            "/admin/v1/deployments", content=_document("10"), headers=admin
        )
        assert switched.status_code == 201, switched.text
        stream += [asyncio.create_task(send(n)) for n in range(150, 300)]
        assert await asyncio.gather(*stream) == [200] * 300

        def settled() -> bool:
            held = runtime.operations.held(queue="review", limit=1000)
            return runtime.ledger.processed_count() - 2 + len(held) == 300

        await _eventually(settled)
        held_keys = {h.order_key for h in runtime.operations.held(queue="review", limit=1000)}
        applied = {f"shopify_us:{9_000_000 + n}" for n in range(300)} - held_keys
        assert len(held_keys) + len(applied) == 300
        for key in applied:
            assert runtime.ledger.order(key, tenant="acme") is not None
        for key in held_keys:
            assert runtime.ledger.order(key, tenant="acme") is None
        assert f"shopify_us:{9_000_000 + 299}" in held_keys  # after the switch: the new rule
        assert held_keys  # the switch happened during the stream

        refused = await client.post(
            "/admin/v1/deployments", content="version: 1\ntenants: [", headers=admin
        )
        assert refused.status_code == 422
        assert refused.json()["problems"]

        back = await client.post("/admin/v1/deployments/rollback", headers=admin)
        assert back.status_code == 200, back.text
        late = json.dumps(paid_order(9_999_999)).encode()
        assert (
            await client.post("/webhooks/acme/shopify_us", content=late, headers=_headers(late))
        ).status_code == 200
        await _eventually(
            lambda: runtime.ledger.order("shopify_us:9999999", tenant="acme") is not None
        )

    result = await asyncio.to_thread(  # the CLI is synchronous; the hub runs on this loop
        CliRunner().invoke,
        app,
        ["deploy", "--list", "--hub", base, "--token-env", "ADMIN", "--json"],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    history = json.loads(result.stdout)
    assert [h["deployed_by"] for h in history] == ["release-bot"] * 3
    assert history[0]["active"]
    assert history[0]["note"].startswith("rollback to deployment")
    assert history[0]["digest"] == history[2]["digest"]
