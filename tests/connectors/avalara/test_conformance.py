"""Avalara through the conformance kit; quotes, commits, and no guessed tax when it is down."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from canonical.money import Money
from canonical.order import Order
from canonical.tax import TaxCommit, TaxQuote
from connectors.avalara import AvalaraConnector
from connectors.base import load_payload
from connectors.errors import ConnectorError, RetriableError, TranslationError
from connectors.shopify import ShopifyConnector
from connectors.spec import TranslationContext
from connectors.testing import ConnectorConformance, OutboundCase, Sample, samples_from

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://sandbox-rest.avatax.com/api/v2"
CONFIG: dict[str, Any] = {
    "account_id": "2000123456",
    "license_key": "A1B2C3D4E5F60718",
    "company_code": "ACME",
    "ship_from": {"line1": "1 Warehouse Way", "city": "Albany", "region": "NY",
                  "postal_code": "12207", "country": "US"},
    "max_attempts": 3,
}  # fmt: skip
CTX = TranslationContext(
    tenant="acme", instance="avalara", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)


def shopify_order() -> Order:
    raw = (Path(__file__).parents[1] / "shopify" / "fixtures" / "orders_create.json").read_bytes()
    ctx = TranslationContext(tenant="acme", instance="shopify_us", received_at=CTX.received_at)
    (envelope,) = ShopifyConnector.translate("orders/create", load_payload(raw), ctx)
    assert isinstance(envelope.payload, Order)
    return envelope.payload


def response(name: str) -> httpx.Response:
    return httpx.Response(200, content=(FIXTURES / name).read_bytes())


class TestAvalaraConformance(ConnectorConformance):
    connector = AvalaraConnector
    valid_config = CONFIG
    invalid_configs = [
        {**CONFIG, "environment": "staging"},
        {**CONFIG, "account_id": "acme"},
        {k: v for k, v in CONFIG.items() if k != "license_key"},
    ]
    samples = samples_from(
        FIXTURES,
        {
            "create_transaction_sales_order.json": "CreateTransaction",
            "create_transaction_sales_invoice_committed.json": "CreateOrAdjustTransaction",
        },
    )
    outbound = [
        OutboundCase(
            name="CreateTransaction",
            method="POST",
            url=f"{API}/transactions/create",
            call=lambda c: c.quote(shopify_order(), CTX),  # type: ignore[attr-defined]
            ok=lambda: response("create_transaction_sales_order.json"),
        ),
        OutboundCase(
            name="CreateOrAdjustTransaction",
            method="POST",
            url=f"{API}/transactions/createoradjust",
            call=lambda c: c.commit(shopify_order(), CTX),  # type: ignore[attr-defined]
            ok=lambda: response("create_transaction_sales_invoice_committed.json"),
        ),
    ]
    waivers = {
        "webhooks": "AvaTax answers requests; it does not push",
        "pagination": "the connector reads single transactions",
    }

    def change(self, sample: Sample, payload: Any) -> Any:
        payload["version"] = 2
        return payload


def test_quote_lines_details_and_order_ref() -> None:
    (envelope,) = AvalaraConnector.translate(
        "CreateTransaction",
        load_payload((FIXTURES / "create_transaction_sales_order.json").read_bytes()),
        CTX,
    )
    quote = envelope.payload
    assert isinstance(quote, TaxQuote)
    assert quote.order.key == "shopify_us:5829371929123456789"
    assert quote.total_tax == Money(amount=Decimal("5.00"), currency="USD")
    first = quote.lines[0]
    assert first.line_id == "13572468013579246801"
    assert [(d.jurisdiction, d.rate, d.tax.amount) for d in first.details] == [
        ("NEW YORK", Decimal("0.04"), Decimal("1.80")),
        ("ALBANY", Decimal("0.04"), Decimal("1.80")),
    ]
    assert quote.quoted_at == datetime(2026, 3, 2, 14, 15, 3, 217000, tzinfo=UTC)


def test_committed_invoice_is_a_tax_commit() -> None:
    (envelope,) = AvalaraConnector.translate(
        "CreateOrAdjustTransaction",
        load_payload((FIXTURES / "create_transaction_sales_invoice_committed.json").read_bytes()),
        CTX,
    )
    assert envelope.event_type == "tax.committed"
    assert isinstance(envelope.payload, TaxCommit)


def test_lines_that_do_not_sum_to_total_tax_are_refused() -> None:
    payload = load_payload((FIXTURES / "create_transaction_sales_order.json").read_bytes())
    payload["totalTax"] = Decimal("5.01")
    with pytest.raises(TranslationError) as caught:
        AvalaraConnector.translate("CreateTransaction", payload, CTX)
    assert caught.value.field == "lines"


def test_quote_request_sends_exact_decimal_numbers() -> None:
    connector = AvalaraConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        route = mock.post(f"{API}/transactions/create").mock(
            return_value=response("create_transaction_sales_order.json")
        )
        envelope = connector.quote(shopify_order(), CTX)
    assert envelope.event_type == "tax.quoted"
    sent = load_payload(route.calls.last.request.content)
    assert sent["type"] == "SalesOrder"
    assert sent["commit"] is False
    assert [(line["number"], line["amount"]) for line in sent["lines"]] == [
        ("13572468013579246801", Decimal("45.00")),
        ("13572468013579246802", Decimal("12.50")),
        ("shipping-0", Decimal("5.00")),
    ]
    assert sent["addresses"]["shipTo"]["region"] == "NY"


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.ConnectError("down"), httpx.ReadTimeout("slow")],
    ids=["503", "unreachable", "timeout"],
)
def test_unreachable_engine_raises_instead_of_guessing(failure: Any) -> None:
    connector = AvalaraConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        route = mock.post(f"{API}/transactions/create").mock(side_effect=[failure] * 3)
        with pytest.raises(RetriableError) as caught:
            connector.quote(shopify_order(), CTX)
    assert route.call_count == 3
    assert isinstance(caught.value, ConnectorError)
    assert "A1B2C3D4E5F60718" not in str(caught.value)
