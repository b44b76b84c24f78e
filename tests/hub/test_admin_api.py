"""The admin API: bearer tokens with roles, tenant isolation, and the operator actions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from hub.admin import AdminToken, admin_routes
from hub.config.model import Deployment
from hub.reports import Reports
from hub.runtime import HubRuntime, open_runtime
from hub.serve import admin_api
from router.ports import RawMessage
from tests.support import acme_tenant, paid_order, receipt

ENV = {
    "SHOPIFY_TOKEN": "shpat",
    "SHOPIFY_SECRET": "s",
    "VIEW": "view-token",
    "OPS": "ops-token",
    "OTHER": "globex-token",
}


def _raw(raw_id: str, body: bytes, event: str = "orders/create") -> RawMessage:
    return RawMessage(
        id=raw_id,
        tenant="acme",
        instance="shopify_us",
        event=event,
        body=body,
        received_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, HubRuntime]]:
    deployment = Deployment.model_validate(
        {
            "tenants": {"acme": acme_tenant(), "globex": {}},
            "admin": {
                "tokens": [
                    {
                        "name": "viewer@acme",
                        "token": "env:VIEW",
                        "role": "viewer",
                        "tenants": ["acme"],
                    },
                    {
                        "name": "ops@acme",
                        "token": "env:OPS",
                        "role": "operator",
                        "tenants": ["acme"],
                    },
                    {
                        "name": "ops@globex",
                        "token": "env:OTHER",
                        "role": "operator",
                        "tenants": ["globex"],
                    },
                ]
            },
        }
    )
    runtime = open_runtime(
        deployment, ledger_url=str(tmp_path / "l.sqlite3"), environ=ENV, auto_migrate=True
    )
    runtime.ledger.upsert_sku("acme", "TSHIRT-RED-M")
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 10)])
    runtime.catalog.reload()
    app = Starlette(routes=admin_routes(admin_api(runtime, ENV)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as client:
        yield client, runtime
    runtime.close()


def _as(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_tokens_are_required_and_roles_are_enforced(
    admin: tuple[httpx.AsyncClient, HubRuntime],
) -> None:
    client, runtime = admin
    await runtime.router.process([_raw("bad", b'{"id": 1}', event="no/such-topic")])
    url = "/admin/v1/tenants/acme/dead-letters"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=_as("guess"))).status_code == 401
    listed = await client.get(url, headers=_as("view-token"))
    assert listed.status_code == 200
    [letter] = listed.json()
    assert letter["stage"] == "translate"
    replay = f"{url}/{letter['id']}/replay"
    denied = await client.post(replay, headers=_as("view-token"))
    assert denied.status_code == 403
    assert "operator role" in denied.json()["error"]
    allowed = await client.post(replay, headers=_as("ops-token"))
    assert allowed.status_code == 200
    assert allowed.json()["by"] == "ops@acme"
    assert allowed.json()["outcome"] == ["dead_lettered"]  # still not a known topic


async def test_an_operator_resolves_a_dead_letter_by_hand(
    admin: tuple[httpx.AsyncClient, HubRuntime], tmp_path: Path
) -> None:
    client, runtime = admin
    await runtime.router.process([_raw("test-shop", b'{"id": 1}', event="no/such-topic")])
    [letter] = runtime.operations.dead_letters()
    url = f"/admin/v1/tenants/acme/dead-letters/{letter.id}"
    note = {"content-type": "application/json"}
    body = json.dumps({"note": "webhook from the test shop"})
    reports = Reports(str(tmp_path / "l.sqlite3"))
    assert reports.overview("acme").dead_letters_open == 1

    assert (await client.post(f"{url}/resolve", content=body)).status_code == 401
    viewer = await client.post(f"{url}/resolve", headers=_as("view-token") | note, content=body)
    assert viewer.status_code == 403
    assert "operator role" in viewer.json()["error"]
    other = await client.post(
        f"/admin/v1/tenants/globex/dead-letters/{letter.id}/resolve",
        headers=_as("globex-token") | note,
        content=body,
    )
    assert other.status_code == 404  # acme's letter through globex's path
    no_note = await client.post(f"{url}/resolve", headers=_as("ops-token"))
    assert no_note.status_code == 400
    assert runtime.operations.dead_letter(letter.id).status == "open"  # type: ignore[union-attr]

    done = await client.post(f"{url}/resolve", headers=_as("ops-token") | note, content=body)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["resolved_by"]) == ("resolved", "ops@acme")
    assert done.json()["resolution_note"] == "webhook from the test shop"
    # out of the open listing and the dashboard's count; still readable by id, with who and why
    listed = await client.get("/admin/v1/tenants/acme/dead-letters", headers=_as("view-token"))
    assert listed.json() == []
    resolved = await client.get(
        "/admin/v1/tenants/acme/dead-letters?status=resolved", headers=_as("view-token")
    )
    assert [r["id"] for r in resolved.json()] == [letter.id]
    overview = reports.overview("acme")
    assert (overview.dead_letters_open, overview.recent_dead_letters) == (0, [])
    reports.close()
    trail = await client.get(
        "/admin/v1/tenants/acme/messages/test-shop/audit", headers=_as("view-token")
    )
    assert ("translate", "resolved", "ops@acme", "webhook from the test shop") in {
        (r["stage"], r["outcome"], r["actor"], r["reason"]) for r in trail.json()
    }

    again = await client.post(f"{url}/resolve", headers=_as("ops-token") | note, content=body)
    assert again.status_code == 409
    assert "already resolved by ops@acme" in again.json()["error"]
    refused = await client.post(f"{url}/replay", headers=_as("ops-token"))
    assert refused.status_code == 409
    assert "force=true" in refused.json()["error"]
    assert runtime.operations.dead_letter(letter.id).replay_count == 0  # type: ignore[union-attr]
    forced = await client.post(f"{url}/replay?force=true", headers=_as("ops-token"))
    assert forced.status_code == 200
    assert forced.json()["outcome"] == ["dead_lettered"]  # still not a known topic
    after = runtime.operations.dead_letter(letter.id)
    assert after is not None
    # it failed again during the replay: counted as replayed, and open again with its new failure
    assert (after.status, after.replay_count) == ("open", 1)


async def test_a_token_never_sees_another_tenant(
    admin: tuple[httpx.AsyncClient, HubRuntime],
) -> None:
    client, runtime = admin
    await runtime.router.process([_raw("bad", b'{"id": 1}', event="no/such-topic")])
    [letter] = runtime.operations.dead_letters()
    for path in (
        "/admin/v1/tenants/acme/dead-letters",
        f"/admin/v1/tenants/acme/dead-letters/{letter.id}",
        "/admin/v1/tenants/acme/positions",
    ):
        response = await client.get(path, headers=_as("globex-token"))
        assert response.status_code == 404, path
    unknown = await client.get("/admin/v1/tenants/nope/dead-letters", headers=_as("globex-token"))
    assert unknown.status_code == 404  # indistinguishable from a tenant it may not see
    own = await client.get("/admin/v1/tenants/globex/dead-letters", headers=_as("globex-token"))
    assert own.json() == []
    replay = await client.post(
        f"/admin/v1/tenants/globex/dead-letters/{letter.id}/replay", headers=_as("globex-token")
    )
    assert replay.status_code == 404  # acme's letter through globex's path


async def test_review_approval_resumes_and_is_audited(
    admin: tuple[httpx.AsyncClient, HubRuntime],
) -> None:
    client, runtime = admin
    runtime.ledger.upsert_sku("acme", "MUG-WHITE")
    runtime.catalog.reload()
    order = paid_order(4242)
    order["financial_status"] = "pending"
    await runtime.router.process([_raw("p", json.dumps(order).encode())])
    [held] = (await client.get("/admin/v1/tenants/acme/held", headers=_as("view-token"))).json()
    assert (held["queue"], held["rule"]) == ("review", "payment")
    queues = (await client.get("/admin/v1/queues", headers=_as("globex-token"))).json()
    assert queues == []
    approved = await client.post(
        f"/admin/v1/tenants/acme/held/{held['id']}/approve",
        headers=_as("ops-token") | {"content-type": "application/json"},
        content=json.dumps({"note": "customer called"}),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == ["applied"]
    again = await client.post(
        f"/admin/v1/tenants/acme/held/{held['id']}/approve", headers=_as("ops-token")
    )
    assert again.status_code == 409
    view = (
        await client.get("/admin/v1/tenants/acme/orders/shopify_us:4242", headers=_as("view-token"))
    ).json()
    assert view["order"] is not None
    assert ("review", "approved", "ops@acme") in {
        (r["stage"], r["outcome"], r["actor"]) for r in view["audit"]
    }
    positions = (
        await client.get(
            "/admin/v1/tenants/acme/positions?sku=TSHIRT-RED-M", headers=_as("view-token")
        )
    ).json()
    assert positions[0]["allocated"] == 2


async def test_the_api_is_described_by_openapi(admin: tuple[httpx.AsyncClient, HubRuntime]) -> None:
    client, _ = admin
    schema = (await client.get("/admin/v1/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    assert "/admin/v1/tenants/{tenant}/dead-letters/{id}/replay" in schema["paths"]
    assert "post" in schema["paths"]["/admin/v1/tenants/{tenant}/dead-letters/{id}/resolve"]
    assert "post" in schema["paths"]["/admin/v1/tenants/{tenant}/held/{id}/approve"]


def test_token_comparison_uses_digests() -> None:
    token = AdminToken.from_secret("a", "secret", "viewer", ["*"])
    assert b"secret" not in token.digest
    assert token.sees("any")
    scoped = AdminToken.from_secret("b", "x", "viewer", ["acme"])
    assert scoped.sees("acme")
    assert not scoped.sees("globex")
