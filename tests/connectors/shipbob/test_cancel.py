"""Cancelling at ShipBob what the hub released there: the order created for the request.

Payloads are shaped as ShipBob API 1.0 documents them: ``GET /1.0/order?ReferenceIds=`` answers an
array of ``Order`` (with its ``tags`` and ``shipments``), ``POST /1.0/order/{orderId}/cancel``
answers ``{order_id, order, status, canceled_shipment_results[]}``. Orders are looked up by the
request id (their ``reference_id`` since request ids are sent), then by the order key (orders
created before that).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from canonical.fulfillment import FulfillmentCancellation
from canonical.order import OrderRef
from connectors.errors import RateLimited, RetriableError, TooLateToCancel
from connectors.shipbob import ShipBobConnector
from tests.connectors.shipbob.test_conformance import API, CONFIG

REQUEST_ID = "release/shipbob_cicero/20260302-w1/shopify_us:5829371929123456789"
KEY = "shopify_us:5829371929123456789"
LIST = f"{API}/1.0/order"


def cancellation() -> FulfillmentCancellation:
    return FulfillmentCancellation(
        tenant="acme",
        request_id=REQUEST_ID,
        order=OrderRef(channel="shopify_us", external_id="5829371929123456789"),
        location="shipbob_cicero",
        reason="order cancelled: open requests cancelled",
        requested_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
        cancelled_at=datetime(2026, 3, 2, 16, tzinfo=UTC),
    )


def shipment(status: str, *, tracking: str | None = None) -> dict[str, Any]:
    return {
        "id": 99110021,
        "order_id": 200345678,
        "reference_id": KEY,
        "created_date": "2026-03-02T15:01:00+00:00",
        "last_update_at": "2026-03-02T18:30:00+00:00",
        "status": status,
        "status_details": [],
        "location": {"id": 6, "name": "Cicero (IL)"},
        "tracking": None
        if tracking is None
        else {
            "carrier": "USPS",
            "tracking_number": tracking,
            "carrier_service": "Priority",
            "shipping_date": "2026-03-02T18:30:00+00:00",
        },
        "products": [],
    }


def order(
    status: str = "Processing",
    *,
    request_id: str = REQUEST_ID,
    shipments: list[dict[str, Any]] | None = None,
    order_id: int = 200345678,
    reference: str = REQUEST_ID,
) -> dict[str, Any]:
    """An ``Order`` as ``GET /1.0/order`` lists it (``reference`` KEY: created before request ids
    were sent as the reference)."""
    return {
        "id": order_id,
        "created_date": "2026-03-02T15:00:05+00:00",
        "purchase_date": None,
        "reference_id": reference,
        "order_number": "5829371929123456789",
        "status": status,
        "type": "DTC",
        "channel": {"id": 104729, "name": "hub"},
        "shipping_method": "standard",
        "recipient": {"name": "Jane Doe", "address": {"city": "Albany", "country": "US"}},
        "products": [{"id": 1, "reference_id": "TSHIRT-RED-M", "quantity": 2}],
        "tags": [
            {"name": "hub_request_id", "value": request_id},
            *([{"name": "hub_order_key", "value": KEY}] if reference != KEY else []),
        ],
        "shipments": [shipment("Processing")] if shipments is None else shipments,
    }


def cancelled(order_id: int = 200345678, *, ok: bool = True) -> dict[str, Any]:
    """ShipBob's answer to ``POST /1.0/order/{orderId}/cancel``."""
    return {
        "order_id": order_id,
        "order": {**order("Cancelled" if ok else "Processing"), "id": order_id},
        "status": "Success" if ok else "Failure",
        "canceled_shipment_results": [
            {
                "action": "Cancel",
                "shipment_id": 99110021,
                "is_success": ok,
                "reason": None if ok else "Shipment is already picked",
            }
        ],
    }


def connector() -> ShipBobConnector:
    return ShipBobConnector(CONFIG, sleep=lambda _s: None)


def test_cancels_the_order_created_for_the_request() -> None:
    with respx.mock(assert_all_called=False) as mock:
        by_request = mock.get(LIST, params={"ReferenceIds": REQUEST_ID}).mock(
            return_value=httpx.Response(200, json=[order()])
        )
        by_key = mock.get(LIST, params={"ReferenceIds": KEY}).mock(
            return_value=httpx.Response(200, json=[])
        )
        cancel = mock.post(f"{API}/1.0/order/200345678/cancel").mock(
            return_value=httpx.Response(200, json=cancelled())
        )
        answer = connector().cancel_fulfillment(cancellation())
    assert answer == "cancelled ShipBob order 200345678"
    assert by_request.call_count == 1
    assert by_request.calls.last.request.headers["shipbob_channel_id"] == "104729"
    assert not by_key.called  # found by the request's own reference: no second look-up
    assert cancel.call_count == 1


def test_an_order_created_before_request_references_is_found_by_its_order_key() -> None:
    """Orders created when the order key was the reference: none under the request id, so the
    order key is looked up, still keeping only the order tagged with this request."""
    old = order(reference=KEY)
    other = order(request_id="release/other/20260301-w1/x", reference=KEY, order_id=200345600)
    with respx.mock(assert_all_called=False) as mock:
        by_request = mock.get(LIST, params={"ReferenceIds": REQUEST_ID}).mock(
            return_value=httpx.Response(200, json=[])
        )
        by_key = mock.get(LIST, params={"ReferenceIds": KEY}).mock(
            return_value=httpx.Response(200, json=[other, old])
        )
        cancel = mock.post(f"{API}/1.0/order/200345678/cancel").mock(
            return_value=httpx.Response(200, json=cancelled())
        )
        wrong = mock.post(f"{API}/1.0/order/200345600/cancel")
        answer = connector().cancel_fulfillment(cancellation())
    assert answer == "cancelled ShipBob order 200345678"
    assert by_request.call_count == 1
    assert by_key.call_count == 1
    assert cancel.call_count == 1
    assert not wrong.called


def test_an_already_cancelled_order_is_not_cancelled_again() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=httpx.Response(200, json=[order("Cancelled")]))
        cancel = mock.post(f"{API}/1.0/order/200345678/cancel")
        answer = connector().cancel_fulfillment(cancellation())
    assert "already cancelled" in answer
    assert not cancel.called


@pytest.mark.parametrize(
    "listed",
    [[], [order(request_id="release/shipbob_cicero/20260301-w4/shopify_us:5829371929123456789")]],
    ids=["no order", "only an order of another request"],
)
def test_no_order_for_the_request_is_nothing_to_cancel(listed: list[Any]) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=httpx.Response(200, json=listed))
        cancel = mock.post(url__regex=rf"{API}/1\.0/order/\d+/cancel")
        answer = connector().cancel_fulfillment(cancellation())
    assert "nothing to cancel" in answer
    assert not cancel.called


def test_a_shipped_order_is_too_late_and_tells_the_operator_to_intercept() -> None:
    shipped = order(
        "Fulfilled", shipments=[shipment("Completed", tracking="9400111899223197428490")]
    )
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=httpx.Response(200, json=[shipped]))
        cancel = mock.post(f"{API}/1.0/order/200345678/cancel")
        with pytest.raises(TooLateToCancel) as caught:
            connector().cancel_fulfillment(cancellation())
    assert not cancel.called
    message = str(caught.value)
    assert "ShipBob order 200345678" in message
    assert "shipment 99110021, USPS tracking 9400111899223197428490" in message
    assert "intercept" in message
    assert caught.value.code == "too_late_to_cancel"


def test_a_cancel_shipbob_refuses_is_too_late() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=httpx.Response(200, json=[order()]))
        mock.post(f"{API}/1.0/order/200345678/cancel").mock(
            return_value=httpx.Response(
                422, json={"": ["Order cannot be cancelled in its current status"]}
            )
        )
        with pytest.raises(TooLateToCancel) as caught:
            connector().cancel_fulfillment(cancellation())
    assert caught.value.status_code == 422
    assert "ShipBob order 200345678" in str(caught.value)


def test_a_shipment_shipbob_could_not_cancel_is_too_late() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=httpx.Response(200, json=[order()]))
        mock.post(f"{API}/1.0/order/200345678/cancel").mock(
            return_value=httpx.Response(200, json=cancelled(ok=False))
        )
        with pytest.raises(TooLateToCancel, match="shipment 99110021: Shipment is already picked"):
            connector().cancel_fulfillment(cancellation())


@pytest.mark.parametrize(
    ("status", "error"), [(503, RetriableError), (429, RateLimited)], ids=["5xx", "429"]
)
def test_vendor_trouble_is_transient(status: int, error: type[Exception]) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=httpx.Response(200, json=[order()]))
        cancel = mock.post(f"{API}/1.0/order/200345678/cancel").mock(
            return_value=httpx.Response(status, headers={"Retry-After": "0"})
        )
        with pytest.raises(error):
            connector().cancel_fulfillment(cancellation())
    assert cancel.call_count == CONFIG["max_attempts"]
