"""`hub admin`: the admin API, dashboard and metrics of a scaled deployment, as a process of its
own on the shared PostgreSQL ledger.

Pass criteria: a real `hub admin` process answers /metrics and the dashboard's sign-in; a message
a worker held for review is listed and, approved through this process, applied to the shared
ledger exactly once (a second approval is refused); its overview counts the order.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from hub.config.model import Deployment
from hub.runtime import open_runtime
from router.ports import RawMessage
from tests.faults.harness import free_port
from tests.support import acme_tenant, paid_order, receipt

ENV = {"SHOPIFY_TOKEN": "shpat", "SHOPIFY_SECRET": "s", "OPS": "ops-token"}


def _document(ledger_url: str) -> dict[str, object]:
    return {
        "version": 1,
        "tenants": {"acme": acme_tenant()},
        "ledger": {"url": ledger_url},
        "admin": {
            "tokens": [
                {"name": "ops@acme", "token": "env:OPS", "role": "operator", "tenants": ["acme"]}
            ]
        },
    }


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(200):
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_hub_admin_serves_the_shared_ledger_and_applies_an_approval_once(
    tmp_path: Path, postgres_url: str
) -> None:
    document = _document(postgres_url)
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    # a worker's runtime on the shared ledger: it holds an unpaid order for review
    worker = open_runtime(
        Deployment.model_validate(document), ledger_url=postgres_url, environ=ENV, auto_migrate=True
    )
    try:
        for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
            worker.ledger.upsert_sku("acme", sku)
        worker.ledger.apply([receipt("TSHIRT-RED-M", 10), receipt("MUG-WHITE", 10)])
        worker.catalog.reload()
        order = paid_order(7301)
        order["financial_status"] = "pending"
        raw = RawMessage(
            id="w-1",
            tenant="acme",
            instance="shopify_us",
            event="orders/create",
            body=json.dumps(order).encode(),
            received_at=datetime(2026, 3, 2, tzinfo=UTC),
        )
        asyncio.run(worker.router.process([raw]))
        assert worker.ledger.order("shopify_us:7301", tenant="acme") is None  # held

        port = free_port()
        log = (tmp_path / "admin.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "admin", "--config", str(config), "--port", str(port)],
            env={**os.environ, **ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for(f"{base}/metrics", process, tmp_path / "admin.log")
            auth = {"authorization": "Bearer ops-token"}
            with httpx.Client(base_url=base, timeout=10) as client:
                assert "hub_held_messages" in client.get("/metrics").text
                page = client.get("/dashboard")  # no cookie yet: the sign-in form
                assert page.status_code == 200
                assert "/dashboard/sign-in" in page.text
                [held] = client.get("/admin/v1/tenants/acme/held", headers=auth).json()
                assert held["queue"] == "review"
                approved = client.post(
                    f"/admin/v1/tenants/acme/held/{held['id']}/approve", headers=auth
                )
                assert approved.status_code == 200, approved.text
                assert approved.json()["outcome"] == ["applied"]
                again = client.post(
                    f"/admin/v1/tenants/acme/held/{held['id']}/approve", headers=auth
                )
                assert again.status_code == 409
                overview = client.get("/admin/v1/tenants/acme/overview", headers=auth).json()
                assert overview["orders_total"] == 1
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()
        view = worker.ledger.order("shopify_us:7301", tenant="acme")
        assert view is not None  # applied to the shared ledger, seen by the worker
    finally:
        worker.close()
