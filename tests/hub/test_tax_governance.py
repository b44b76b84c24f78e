"""The tax rule against the tenant's tax engine (Avalara, mocked with respx in its documented shape).

Pass criteria: with the rule enabled, an order whose channel tax matches the engine's quote flows on
and allocates; a quote that differs beyond the tolerance holds the order as a tax exception with
both figures; an unreachable engine (HTTP 503 after the client's retries) holds it too ("never
ship with a guessed tax"), and an engine that refuses the order (HTTP 400, an address it cannot place) holds it as a fixable
exception rather than dead-lettering a good order; nothing reaches the ledger for the held orders.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx

from hub.config.model import Deployment
from hub.runtime import HubRuntime, open_runtime
from router.pipeline import Disposition
from router.ports import RawMessage
from tests.support import ROOT, acme_tenant, paid_order, receipt

QUOTE = json.loads(
    (ROOT / "tests/connectors/avalara/fixtures/create_transaction_sales_order.json").read_text()
)
AVATAX = "https://sandbox-rest.avatax.com/api/v2/transactions/create"
ENV = {"SHOPIFY_TOKEN": "shpat", "SHOPIFY_SECRET": "s", "AVALARA_KEY": "license-key"}


def _runtime(tmp_path: Path) -> HubRuntime:
    tenant = acme_tenant()
    tenant["connectors"]["avatax"] = {
        "type": "avalara",
        "settings": {
            "account_id": "1100012345",
            "company_code": "ACME",
            "ship_from": {
                "line1": "1 Dock St",
                "city": "Albany",
                "region": "NY",
                "postal_code": "12207",
                "country": "US",
            },
        },
        "secrets": {"license_key": "env:AVALARA_KEY"},
    }
    tenant["governance"] = {"tax": {"enabled": True, "tolerance": "0.01"}}
    runtime = open_runtime(
        Deployment.model_validate({"tenants": {"acme": tenant}}),
        ledger_url=str(tmp_path / "ledger.sqlite3"),
        environ=ENV,
        auto_migrate=True,
    )
    for sku in ("TSHIRT-RED-M", "MUG-WHITE"):
        runtime.ledger.upsert_sku("acme", sku)
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 10), receipt("MUG-WHITE", 10)])
    runtime.catalog.reload()
    return runtime


def _quote(total_tax: float) -> dict[str, Any]:
    """The documented CreateTransaction answer with this total, all of it on the first line."""
    answer = copy.deepcopy(QUOTE)
    answer["totalTax"] = answer["totalTaxCalculated"] = total_tax
    for number, line in enumerate(answer["lines"]):
        line["tax"] = line["taxCalculated"] = total_tax if number == 0 else 0
        for detail in line.get("details", []):
            detail["tax"] = detail["taxCalculated"] = 0
        if number == 0 and line.get("details"):
            line["details"][0]["tax"] = line["details"][0]["taxCalculated"] = total_tax
    return answer


def _raw(order_id: int) -> RawMessage:
    return RawMessage(
        id=f"r{order_id}",
        tenant="acme",
        instance="shopify_us",
        event="orders/create",
        body=json.dumps(paid_order(order_id)).encode(),
        received_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


async def test_orders_are_checked_against_the_tax_engine(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        with respx.mock(assert_all_called=True) as avatax:
            route = avatax.post(AVATAX)
            route.mock(return_value=httpx.Response(201, json=_quote(2.30)))  # the channel's tax
            [matching] = await runtime.router.process([_raw(8001)])
            route.mock(return_value=httpx.Response(201, json=_quote(5.00)))
            [differing] = await runtime.router.process([_raw(8002)])
            route.mock(return_value=httpx.Response(503, json={"error": {"code": "ServerError"}}))
            [unreachable] = await runtime.router.process([_raw(8003)])
            refusal = {
                "error": {
                    "code": "AddressRangeError",
                    "message": "The address value was incomplete.",
                    "target": "IncorrectData",
                }
            }
            route.mock(return_value=httpx.Response(400, json=refusal))
            [refused] = await runtime.router.process([_raw(8004)])
        sent = json.loads(route.calls[0].request.content)
        assert sent["type"] == "SalesOrder"
        assert sent["commit"] is False
        assert sent["companyCode"] == "ACME"

        assert matching.dispositions == [Disposition.APPLIED]
        assert differing.dispositions == [Disposition.EXCEPTION]
        assert unreachable.dispositions == [Disposition.EXCEPTION]
        assert refused.dispositions == [Disposition.EXCEPTION]
        held = {h.order_key: h for h in runtime.operations.held(tenant="acme")}
        assert held["shopify_us:8002"].rule == "tax"
        assert "2.30" in held["shopify_us:8002"].reason
        assert "5.00" in held["shopify_us:8002"].reason
        assert "unreachable" in held["shopify_us:8003"].reason
        assert "refused the order" in held["shopify_us:8004"].reason
        assert runtime.ledger.order("shopify_us:8001", tenant="acme") is not None
        assert runtime.ledger.order("shopify_us:8002", tenant="acme") is None
        assert runtime.ledger.order("shopify_us:8003", tenant="acme") is None
    finally:
        runtime.close()
