"""WooCommerce refund resources: refunded lines, restock from the order, and fetching them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from canonical.money import Money
from canonical.payment import PaymentEvent
from canonical.returns import ReturnRequest
from connectors.base import dump_payload, load_payload
from connectors.errors import TranslationError
from connectors.woocommerce import WooCommerceConnector
from tests.connectors.woocommerce.test_conformance import API, CONFIG, CTX, FIXTURES

ORDER_ID = "9007199254740993"
JSON = {"Content-Type": "application/json"}


def fixture(name: str) -> Any:
    return load_payload((FIXTURES / name).read_bytes())


def split(payload: Any) -> tuple[list[PaymentEvent], list[ReturnRequest], list[str]]:
    envelopes = WooCommerceConnector.translate("refunds", payload, CTX)
    payments = [e.payload for e in envelopes if isinstance(e.payload, PaymentEvent)]
    returns = [e.payload for e in envelopes if isinstance(e.payload, ReturnRequest)]
    return payments, returns, [e.idempotency_key for e in envelopes]


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def test_restocked_refund_returns_the_line_to_stock() -> None:
    (payment,), (rma,), _ = split(fixture("refunds_restocked.json"))
    assert (payment.transaction_id, payment.amount) == ("10802", eur("12.85"))
    assert payment.payment_id == "pi_3PgcH1B7WZ01zgkW1a2b3c4d"
    assert payment.provider == "woocommerce:stripe"
    assert payment.order.key == f"woo_de:{ORDER_ID}"
    assert rma.rma_id == "refund-10802"
    (line,) = rma.lines
    assert (line.line_id, line.sku, line.quantity, line.restock) == ("8812", "MUG-BLUE", 1, True)
    assert line.refund_amount == eur("10.80")
    assert line.note == "Mug arrived chipped"


def test_refund_without_restock_and_an_amount_only_refund() -> None:
    payments, (rma,), _ = split(fixture("refunds_not_restocked.json"))
    assert [(p.transaction_id, p.amount) for p in payments] == [
        ("10804", eur("25.70")),
        ("10803", eur("4.90")),
    ]
    assert [(line.line_id, line.quantity, line.restock) for line in rma.lines] == [
        ("8812", 2, False)
    ]


def test_the_order_and_its_refund_resources_agree_on_the_payment_key() -> None:
    payload = fixture("refunds_restocked.json")
    from_order = WooCommerceConnector.translate("order.updated", payload["order"], CTX)
    order_refund_keys = {
        e.idempotency_key for e in from_order if e.event_type == "payment.refunded"
    }
    _, _, keys = split(payload)
    assert order_refund_keys
    assert order_refund_keys <= set(keys)


def test_partly_restocked_line_is_refused_not_guessed() -> None:
    payload = fixture("refunds_not_restocked.json")
    payload["order"]["line_items"][0]["meta_data"].append(
        {"id": 90990, "key": "_restock_refunded_items", "value": "1"}
    )
    with pytest.raises(TranslationError, match="1 of the 2 units refunded on line 8812") as caught:
        split(payload)
    assert caught.value.field == "order.line_items[0].meta_data"


def test_refund_line_without_its_order_line_names_the_field() -> None:
    payload = fixture("refunds_restocked.json")
    payload["refunds"][0]["line_items"][0]["meta_data"] = []
    with pytest.raises(TranslationError) as caught:
        split(payload)
    assert caught.value.field == "refunds[0].line_items[0].meta_data"


def test_fetch_refunds_reads_the_order_and_every_refund_page() -> None:
    payload = fixture("refunds_not_restocked.json")
    first, second = payload["refunds"]
    connector = WooCommerceConnector({**CONFIG, "page_size": 1}, sleep=lambda _s: None)
    with respx.mock(assert_all_called=True) as mock:
        order = mock.get(f"{API}/orders/{ORDER_ID}").mock(
            return_value=httpx.Response(200, content=dump_payload(payload["order"]), headers=JSON)
        )
        refunds = mock.get(f"{API}/orders/{ORDER_ID}/refunds").mock(
            side_effect=[
                httpx.Response(
                    200,
                    content=dump_payload([first]),
                    headers={
                        **JSON,
                        "X-WP-Total": "2",
                        "X-WP-TotalPages": "2",
                        "Link": f'<{API}/orders/{ORDER_ID}/refunds?per_page=1&page=2>; rel="next"',
                    },
                ),
                httpx.Response(
                    200, content=dump_payload([second]), headers={**JSON, "X-WP-Total": "2"}
                ),
            ]
        )
        fetched = connector.fetch_refunds(ORDER_ID)
    assert order.call_count == 1
    assert [dict(call.request.url.params) for call in refunds.calls] == [
        {"per_page": "1", "page": "1"},
        {"per_page": "1", "page": "2"},
    ]
    assert fetched == {"order": payload["order"], "refunds": [first, second]}
    assert split(fetched)[2] == split(payload)[2]


def test_a_refund_of_another_order_is_refused() -> None:
    payload = fixture("refunds_restocked.json")
    payload["refunds"][0]["_links"]["up"][0]["href"] = f"{API}/orders/723"
    with pytest.raises(TranslationError, match="another order") as caught:
        split(payload)
    assert caught.value.field == "refunds[0]._links.up[0].href"
