"""The operations dashboard in a real headless browser (Debian's chromium, driven by playwright).

A known ledger state is built through the real ingress (three allocated orders, one order held as
an exception for an unknown SKU, one schema-violating order dead-lettered), plus two closed
fulfilment requests written with SQL (allocation accuracy 2 of 3 lines, on-time release 1 of 2, one
open short-ship exception); the dashboard must show exactly those figures, refresh itself when a fourth order arrives, refuse a bad token, and keep a
token of another tenant out. A screenshot is kept in test-artifacts/dashboard.png.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub import dashboard
from hub.config.model import Deployment
from hub.ledger.dialect import SqliteDialect
from hub.runtime import HubRuntime, open_runtime
from tests.conftest import server_missing
from tests.ledger.fulfilment_day import Seeder, t
from tests.support import ROOT, acme_tenant, paid_order, receipt, serving, shopify_webhook_headers

SECRET = "shopify-app-secret"
ENV = {
    "SHOPIFY_TOKEN": "shpat_test",
    "SHOPIFY_SECRET": SECRET,
    "VIEW": "viewer-secret-acme",
    "GLOBEX": "viewer-secret-globex",
}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


def _signed(body: bytes) -> dict[str, str]:
    return shopify_webhook_headers(body, SECRET)


def _token(name: str, env: str, tenant: str) -> dict[str, Any]:
    return {"name": name, "token": f"env:{env}", "role": "viewer", "tenants": [tenant]}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[HubRuntime, str]]:
    deployment = Deployment.model_validate(
        {
            "tenants": {"acme": acme_tenant(), "globex": {}},
            "admin": {
                "tokens": [
                    _token("viewer@acme", "VIEW", "acme"),
                    _token("viewer@globex", "GLOBEX", "globex"),
                ]
            },
        }
    )
    runtime = open_runtime(
        deployment, ledger_url=str(tmp_path / "ledger.sqlite3"), environ=ENV, auto_migrate=True
    )
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        runtime.ledger.upsert_sku("acme", sku)
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 20), receipt("MUG-WHITE", 20)])
    runtime.catalog.reload()
    try:
        async with serving(runtime, ENV) as url:
            yield runtime, url
    finally:
        runtime.close()


async def _post(client: httpx.AsyncClient, order: dict[str, Any]) -> None:
    body = json.dumps(order).encode()
    answer = await client.post("/webhooks/acme/shopify_us", content=body, headers=_signed(body))
    assert answer.status_code == 200, answer.text


async def _overview(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    answer = await client.get(
        "/admin/v1/tenants/acme/overview",
        params=params,
        headers={"authorization": f"Bearer {ENV['VIEW']}"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _until(client: httpx.AsyncClient, done: Any, what: str) -> dict[str, Any]:
    for _ in range(200):
        report = await _overview(client)
        if done(report):
            return report
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {report}")


def _fulfilment(runtime: HubRuntime) -> None:
    """rA shipped both lines by its commitment; rB was released past its commitment and closed
    short, with a short_ship exception: allocation accuracy 2/3, on-time release 1/2."""
    db = SqliteDialect(runtime.ledger_url)
    try:
        seed = Seeder(db)
        seed.request(
            "rA",
            "shopify_us:7001",
            "shipped",
            [("1", "TSHIRT-RED-M", 2, 2, None), ("2", "MUG-WHITE", 1, 1, None)],
            ship_by=t(16),
            commit_by=t(17),
        )
        seed.request(
            "rB",
            "shopify_us:7002",
            "short_closed",
            [("1", "TSHIRT-RED-M", 2, 1, None)],
            ship_by=t(18),
            commit_by=t(17),
        )
        seed.exception(
            "shopify_us:7002",
            "short_ship",
            "request rB asked for 2 x TSHIRT-RED-M (line 1); 1 shipped and the node closed it",
            request_id="rB",
            shipment_id="sB1",
            line_id="1",
            sku="TSHIRT-RED-M",
        )
    finally:
        db.close()


async def _known_state(client: httpx.AsyncClient) -> dict[str, Any]:
    for order_id in (7001, 7002, 7003):
        await _post(client, paid_order(order_id))
    unknown = paid_order(7004)
    unknown["line_items"][0]["sku"] = "NOT-IN-CATALOGUE"
    await _post(client, unknown)
    broken = paid_order(7005)
    broken["line_items"] = "not a list"
    await _post(client, broken)
    return await _until(
        client,
        lambda r: r["orders_total"] == 3 and r["dead_letters_open"] == 1 and r["held"],
        "the known state",
    )


async def test_overview_endpoint_reports_the_known_state(hub: tuple[HubRuntime, str]) -> None:
    _, url = hub
    async with httpx.AsyncClient(base_url=url) as client:
        report = await _known_state(client)
        assert report["orders_by_state"] == {"allocated": 3}
        assert report["backlog_aging"]["allocated"]["<1h"] == 3
        assert report["queues"]["exception"]["open"] == 1
        assert report["held"][0]["rule"] == "master_data"
        assert report["recent_dead_letters"][0]["stage"] in {"translate", "validate"}
        assert report["fill_rate"] is None  # nothing shipped yet
        assert report["clean_order_rate"] == 0.75  # 3 went straight through; 7004 waits, held
        assert report["returns_open"] == 0
        assert report["allocation_accuracy"] is None  # nothing released through the hub yet
        _fulfilment(hub[0])
        report = await _overview(client)
        assert report["allocation_accuracy"] == round(2 / 3, 4)
        assert report["on_time_release_rate"] == 0.5
        assert report["fulfilment_exceptions_open"] == {"short_ship": 1}
        sku = await _overview(client, sku="TSHIRT-RED-M")
        assert sku["sku_availability"] == {"shopify_us": 20 - 3 * 2}
        assert {p["location"]: p["allocated"] for p in sku["sku_positions"]} == {"wh_east": 6}
        other = await client.get(
            "/admin/v1/tenants/acme/overview",
            headers={"authorization": f"Bearer {ENV['GLOBEX']}"},
        )
        assert other.status_code == 404


async def _browser() -> Any:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:  # pragma: no cover - dev extra missing
        server_missing("playwright", exc)
    if not Path(CHROMIUM).exists():
        server_missing("chromium", FileNotFoundError(CHROMIUM))
    return async_playwright()


async def test_dashboard_in_a_headless_browser(
    hub: tuple[HubRuntime, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "REFRESH_SECONDS", 1)
    runtime, url = hub
    manager = await _browser()
    async with httpx.AsyncClient(base_url=url) as client, manager as playwright:
        await _known_state(client)
        _fulfilment(runtime)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(f"{url}/dashboard")
            await page.fill("#token", "not-a-token")
            await page.click("button[type=submit]")
            assert "not valid" in await page.inner_text("[role=alert]")

            await page.fill("#token", ENV["VIEW"])
            await page.click("button[type=submit]")
            await page.wait_for_selector("[data-kpi=orders_total]")
            assert await page.inner_text("[data-kpi=orders_total]") == "3"
            assert await page.inner_text("[data-kpi=exception]") == "1"
            assert await page.inner_text("[data-kpi=dead_letters]") == "1"
            assert await page.inner_text("[data-kpi=allocation_accuracy]") == "66.7%"
            assert await page.inner_text("[data-kpi=on_time_release_rate]") == "50.0%"
            exceptions = await page.inner_text("[aria-label='open fulfilment exceptions']")
            assert "exceptions (1)" in exceptions.lower()
            row = await page.inner_text("[data-fulfilment-exception]")
            assert "short_ship" in row
            assert "shopify_us:7002" in row
            assert "master_data" in await page.inner_text("[aria-label='exceptions by rule']")
            assert "allocated" in await page.inner_text("[data-state=allocated]")

            await page.select_option("#sku", "TSHIRT-RED-M")
            await page.wait_for_selector("[data-channel=shopify_us]")
            assert "14" in await page.inner_text("[data-channel=shopify_us]")

            await page.fill("#order", "shopify_us:7001")
            await page.click("header button[type=submit] >> nth=0")
            flow = await page.inner_text("[aria-label='message flow']")
            assert "deliver" in flow
            assert "applied" in flow

            # the page refreshes itself: a fourth order appears without a reload
            await _post(client, paid_order(7006))
            await page.wait_for_function(
                "document.querySelector('[data-kpi=orders_total]').textContent === '4'",
                timeout=15_000,
            )
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            # another tenant's viewer sees only its own tenant
            other = await browser.new_page()
            await other.goto(f"{url}/dashboard")
            await other.fill("#token", ENV["GLOBEX"])
            await other.click("button[type=submit]")
            await other.wait_for_load_state()
            assert "7001" not in await other.content()
            answer = await other.goto(f"{url}/dashboard?tenant=acme")
            assert answer is not None
            assert answer.status == 404
        finally:
            await browser.close()
