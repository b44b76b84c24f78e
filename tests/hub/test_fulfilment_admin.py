"""The admin API's fulfilment endpoints over the hand-computed day of tests/ledger/fulfilment_day.py:
perfect-order status, exceptions (listing, resolving with the operator role), lot trace, and the
overview's new KPIs; the same token and tenant rules as every other endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from hub.admin import admin_routes
from hub.config.model import Deployment
from hub.reports import Reports
from hub.runtime import open_runtime
from hub.serve import admin_api
from tests.ledger import fulfilment_day as day
from tests.support import acme_tenant

ENV = {
    "SHOPIFY_TOKEN": "shpat",
    "SHOPIFY_SECRET": "s",
    "VIEW": "view-token",
    "OPS": "ops-token",
    "OTHER": "globex-token",
}
BASE = "/admin/v1/tenants/acme"


def _token(name: str, env: str, role: str, tenant: str) -> dict[str, object]:
    return {"name": name, "token": f"env:{env}", "role": role, "tenants": [tenant]}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    deployment = Deployment.model_validate(
        {
            "tenants": {"acme": acme_tenant(), "globex": {}},
            "admin": {
                "tokens": [
                    _token("viewer@acme", "VIEW", "viewer", "acme"),
                    _token("ops@acme", "OPS", "operator", "acme"),
                    _token("ops@globex", "OTHER", "operator", "globex"),
                ]
            },
        }
    )
    runtime = open_runtime(
        deployment, ledger_url=str(tmp_path / "l.sqlite3"), environ=ENV, auto_migrate=True
    )
    day.seed_day(runtime.ledger.db)
    reports = Reports(runtime.ledger_url)
    app = Starlette(routes=admin_routes(admin_api(runtime, ENV, reports=reports)))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub"
        ) as opened:
            yield opened
    finally:
        reports.close()
        runtime.close()


def _as(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_order_fulfilment_status(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{BASE}/orders/web:D/fulfilment", headers=_as("view-token"))
    assert answer.status_code == 200
    status = answer.json()
    assert status["perfect"] is False
    assert status["components"] == {
        "complete": True,
        "on_time": False,
        "undamaged": True,
        "accurate": True,
        "documents": False,
    }
    assert "Shipment sD1 has no tracking number." in status["reasons"]
    assert [s["shipment_id"] for s in status["shipments"]] == ["sD1"]
    perfect = await client.get(f"{BASE}/orders/web:A/fulfilment", headers=_as("view-token"))
    assert perfect.json()["perfect"] is True
    assert perfect.json()["reasons"] == []
    missing = await client.get(f"{BASE}/orders/web:nope/fulfilment", headers=_as("view-token"))
    assert missing.status_code == 404
    assert (await client.get(f"{BASE}/orders/web:A/fulfilment")).status_code == 401


async def test_exceptions_listed_and_resolved_by_an_operator(client: httpx.AsyncClient) -> None:
    url = f"{BASE}/fulfilment/exceptions"
    listed = (await client.get(url, headers=_as("view-token"))).json()
    assert [(e["order_key"], e["kind"]) for e in listed] == [
        ("web:B", "short_ship"),
        ("web:J", "duplicate_serial"),
        ("web:J", "extra_item"),
    ]
    resolved = await client.get(url, params={"status": "resolved"}, headers=_as("view-token"))
    assert [e["kind"] for e in resolved.json()] == ["missing_tracking", "lot_mismatch"]
    by_kind = await client.get(
        url, params={"status": "all", "kind": "lot_mismatch"}, headers=_as("view-token")
    )
    assert [e["order_key"] for e in by_kind.json()] == ["web:K"]
    wrong = await client.get(url, params={"status": "closed"}, headers=_as("view-token"))
    assert wrong.status_code == 400

    resolve = f"{url}/{listed[0]['id']}/resolve"
    body = {"resolution": "refunded the missing unit"}
    denied = await client.post(resolve, json=body, headers=_as("view-token"))
    assert denied.status_code == 403
    assert "operator role" in denied.json()["error"]
    empty = await client.post(resolve, json={"resolution": " "}, headers=_as("ops-token"))
    assert empty.status_code == 422
    done = await client.post(resolve, json=body, headers=_as("ops-token"))
    assert done.status_code == 200
    assert done.json()["status"] == "resolved"
    assert done.json()["actor"] == "ops@acme"
    assert done.json()["resolution"] == "refunded the missing unit"
    again = await client.post(resolve, json=body, headers=_as("ops-token"))
    assert again.status_code == 409
    assert "already resolved" in again.json()["error"]
    unknown = await client.post(f"{url}/999999/resolve", json=body, headers=_as("ops-token"))
    assert unknown.status_code == 404
    still_open = (await client.get(url, headers=_as("view-token"))).json()
    assert [e["kind"] for e in still_open] == ["duplicate_serial", "extra_item"]


async def test_another_tenants_token_sees_and_resolves_nothing(
    client: httpx.AsyncClient,
) -> None:
    listed = (await client.get(f"{BASE}/fulfilment/exceptions", headers=_as("view-token"))).json()
    for path in (
        f"{BASE}/fulfilment/exceptions",
        f"{BASE}/orders/web:A/fulfilment",
        f"{BASE}/lots/L1",
    ):
        assert (await client.get(path, headers=_as("globex-token"))).status_code == 404
    theirs = await client.post(
        f"{BASE}/fulfilment/exceptions/{listed[0]['id']}/resolve",
        json={"resolution": "not mine"},
        headers=_as("globex-token"),
    )
    assert theirs.status_code == 404
    # globex resolving acme's exception id under its own tenant: unknown there
    crossed = await client.post(
        f"/admin/v1/tenants/globex/fulfilment/exceptions/{listed[0]['id']}/resolve",
        json={"resolution": "not mine"},
        headers=_as("globex-token"),
    )
    assert crossed.status_code == 404
    after = (await client.get(f"{BASE}/fulfilment/exceptions", headers=_as("view-token"))).json()
    assert after == listed


async def test_lot_trace(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{BASE}/lots/L1", params={"sku": "SKU-L"}, headers=_as("view-token"))
    assert answer.status_code == 200
    trace = answer.json()
    assert [(s["order_key"], s["quantity"]) for s in trace["shipped"]] == [
        ("web:M", 2),
        ("web:N", 4),
        ("web:P", None),
    ]
    assert trace["totals"]["on_hand"] == 8
    assert [s["expired"] for s in trace["stock"]] == [True, False]  # 1 March passed; 30 June not
    unknown = await client.get(f"{BASE}/lots/NOPE", headers=_as("view-token"))
    assert unknown.status_code == 404


async def test_overview_carries_the_fulfilment_kpis(client: httpx.AsyncClient) -> None:
    report = (await client.get(f"{BASE}/overview", headers=_as("view-token"))).json()
    assert report["allocation_accuracy"] == day.ALLOCATION_ACCURACY
    assert report["on_time_release_rate"] == day.ON_TIME_RELEASE_RATE
    assert report["perfect_order_rate"] == day.PERFECT_ORDER_RATE
    assert report["fulfilment_exceptions_open"] == day.OPEN_BY_KIND
    assert len(report["recent_fulfilment_exceptions"]) == 3


async def test_the_openapi_document_describes_the_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/admin/v1/openapi.json")).json()["paths"]
    assert "get" in paths["/admin/v1/tenants/{tenant}/orders/{order_key}/fulfilment"]
    assert "get" in paths["/admin/v1/tenants/{tenant}/fulfilment/exceptions"]
    resolve = paths["/admin/v1/tenants/{tenant}/fulfilment/exceptions/{id}/resolve"]["post"]
    assert '"resolution"' in resolve["description"]
    assert "get" in paths["/admin/v1/tenants/{tenant}/lots/{lot}"]
