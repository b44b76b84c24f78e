"""Signatures at the door of a running hub: Stripe's timestamped scheme and Shopify's HMAC.

Pass criteria: through ``hub run`` (real HTTP), a genuine Stripe delivery is accepted; the same
body signed ten minutes ago (stale), signed with another secret (forged), with its body changed
after signing (tampered) or without the header (missing) is refused with 401 and leaves nothing in
the inbox, the ledger or the audit log; a delivery signed with the secret being rotated in is
accepted too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.webhooks import StripeSignatureVerifier
from hub.config.model import Deployment
from hub.runtime import HubRuntime, embedded_inbox_path, open_runtime
from router.transport.inbox import SqliteInbox
from tests.support import ROOT, serving

EVENT = (
    ROOT / "tests" / "connectors" / "stripe" / "fixtures" / "payment_intent_succeeded.json"
).read_bytes()
ENV = {"STRIPE_KEY": "sk_test_x", "WHSEC": "whsec_current", "WHSEC_NEXT": "whsec_next"}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[HubRuntime, str]]:
    deployment = Deployment.model_validate(
        {
            "tenants": {
                "acme": {
                    "connectors": {
                        "stripe_main": {
                            "type": "stripe",
                            "secrets": {
                                "api_key": "env:STRIPE_KEY",
                                "webhook_secrets": ["env:WHSEC", "env:WHSEC_NEXT"],
                            },
                        }
                    }
                }
            }
        }
    )
    runtime = open_runtime(
        deployment, ledger_url=str(tmp_path / "l.sqlite3"), environ=ENV, auto_migrate=True
    )
    try:
        async with serving(runtime) as base:
            yield runtime, base
    finally:
        runtime.close()


def _signed(body: bytes, secret: str, *, age: int = 0) -> dict[str, str]:
    headers = StripeSignatureVerifier().sign(body, secret, timestamp=int(time.time()) - age)
    return {"content-type": "application/json", **headers}


async def test_only_genuine_fresh_deliveries_get_in(hub: tuple[HubRuntime, str]) -> None:
    runtime, base = hub
    url = "/webhooks/acme/stripe_main"
    refused = {
        "stale": (EVENT, _signed(EVENT, "whsec_current", age=600)),
        "forged": (EVENT, _signed(EVENT, "whsec_attacker")),
        "tampered": (EVENT.replace(b"succeeded", b"succeedeX"), _signed(EVENT, "whsec_current")),
        "missing": (EVENT, {"content-type": "application/json"}),
    }
    async with httpx.AsyncClient(base_url=base) as client:
        for name, (body, headers) in refused.items():
            response = await client.post(url, content=body, headers=headers)
            assert response.status_code == 401, name
        inbox = SqliteInbox(embedded_inbox_path(runtime.ledger_url))
        assert inbox.stats().pending == 0
        assert runtime.ledger.processed_count() == 0
        assert runtime.operations.tenants_with_audit() == []

        for secret in ("whsec_current", "whsec_next"):
            response = await client.post(url, content=EVENT, headers=_signed(EVENT, secret))
            assert response.status_code == 200, secret
            assert response.json()["event"] == "payment_intent.succeeded"
    inbox.close()
