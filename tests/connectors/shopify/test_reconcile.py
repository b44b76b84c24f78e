"""The Shopify reconciliation poll: finds what webhooks missed, with the webhooks' own keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import respx

from connectors.base import load_payload
from connectors.pagination import TimeWindow
from connectors.shopify import ShopifyConnector
from connectors.spec import TranslationContext

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://acme-test.myshopify.com/admin/api/2025-01"
CTX = TranslationContext(
    tenant="acme", instance="shopify_us", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)
WINDOW = TimeWindow(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
CONFIG = {
    "shop_domain": "acme-test.myshopify.com",
    "access_token": "shpat_test",
    "webhook_secrets": ["s"],
}


def test_reconcile_reports_missing_and_stale_orders_with_webhook_keys() -> None:
    page = json.loads((FIXTURES / "orders_page.json").read_text())  # test data: floats are fine
    first, second = page["orders"]
    connector = ShopifyConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        route = mock.get(f"{API}/orders.json").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={"orders": [first]},
                    headers={"Link": f'<{API}/orders.json?limit=250&page_info=abc>; rel="next"'},
                ),
                httpx.Response(200, json={"orders": [second]}),
            ]
        )
        held = {"shopify_us:5829371929123456789": datetime(2026, 3, 1, tzinfo=UTC)}
        report = connector.reconcile(WINDOW, CTX, held.get)
    assert report.checked == 2
    assert report.stale == ["shopify_us:5829371929123456789"]
    assert report.missing == ["shopify_us:5829371929123456790"]
    assert report.drift == 2
    webhook = ShopifyConnector.translate(
        "orders/create", load_payload((FIXTURES / "orders_create.json").read_bytes()), CTX
    )
    assert report.envelopes[0].idempotency_key == webhook[0].idempotency_key
    first_request, second_request = (call.request for call in route.calls)
    assert first_request.url.params["status"] == "any"
    assert first_request.url.params["updated_at_min"] == "2026-03-02T00:00:00+00:00"
    assert dict(second_request.url.params) == {"limit": "250", "page_info": "abc"}
    assert second_request.headers["X-Shopify-Access-Token"] == "shpat_test"


def test_reconcile_reports_nothing_when_the_ledger_is_current() -> None:
    page = json.loads((FIXTURES / "orders_page.json").read_text())
    connector = ShopifyConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        mock.get(f"{API}/orders.json").mock(return_value=httpx.Response(200, json=page))
        report = connector.reconcile(WINDOW, CTX, lambda _key: datetime(2026, 3, 9, tzinfo=UTC))
    assert (report.checked, report.drift, report.envelopes) == (2, 0, [])
