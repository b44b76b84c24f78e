"""EasyPost cancel_fulfillment: an order cancelled after its label was bought refunds the label.

Shapes as EasyPost documents them (https://docs.easypost.com/docs/shipments/shipping-refund):
``GET /v2/shipments`` finds the bought shipment by its ``reference`` (the request id), ``POST
/v2/shipments/{id}/refund`` answers the Shipment with its ``refund_status`` (``submitted``,
``refunded``, ``rejected``, ``not_applicable``).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from canonical.fulfillment import FulfillmentCancellation
from canonical.order import OrderRef
from connectors.easypost import EasyPostConnector
from connectors.errors import RateLimited, RetriableError, TooLateToCancel
from tests.connectors.easypost.test_label_purchase import BOUGHT, CONFIG, LIST, REQUESTED_AT

REQUEST_ID = BOUGHT["reference"]
SHIPMENT_ID = BOUGHT["id"]
REFUND = f"{LIST}/{SHIPMENT_ID}/refund"


def cancellation(**changes: Any) -> FulfillmentCancellation:
    fields: dict[str, Any] = {
        "tenant": "acme",
        "request_id": REQUEST_ID,
        "order": OrderRef(channel="shopify_us", external_id="9101"),
        "location": "wh_east",
        "reason": "order cancelled: open requests cancelled",
        "requested_at": REQUESTED_AT,
        "cancelled_at": datetime(2026, 3, 2, 16, tzinfo=UTC),
    }
    return FulfillmentCancellation(**{**fields, **changes})


def bought(**changes: Any) -> dict[str, Any]:
    shipment = copy.deepcopy(BOUGHT)
    shipment.update(changes)
    return shipment


def listed(*shipments: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"shipments": list(shipments), "has_more": False})


def refunded(status: str) -> httpx.Response:
    return httpx.Response(200, json=bought(refund_status=status))


def connector() -> EasyPostConnector:
    return EasyPostConnector(CONFIG, sleep=lambda _s: None)


def test_refunds_the_label_bought_for_the_request() -> None:
    other = bought(id="shp_other", reference="release/wh_east/20260302-w1/shopify_us:9102")
    with respx.mock() as mock:
        found = mock.get(LIST).mock(return_value=listed(other, bought()))
        refund = mock.post(REFUND).mock(return_value=refunded("submitted"))
        answer = connector().cancel_fulfillment(cancellation())
    assert refund.call_count == 1
    assert answer == f"refund of the label of shipment {SHIPMENT_ID} submitted; do not use it"
    params = found.calls.last.request.url.params
    assert params["start_datetime"] == "2026-03-02T14:45:00Z"  # the release, less the lookback


@pytest.mark.parametrize("status", ["submitted", "refunded"])
def test_a_label_already_refunding_is_not_refunded_again(status: str) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=listed(bought(refund_status=status)))
        refund = mock.post(REFUND)
        answer = connector().cancel_fulfillment(cancellation())
    assert not refund.called
    assert status in answer


def test_no_label_bought_is_nothing_to_refund() -> None:
    unbought = bought(postage_label=None, selected_rate=None)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=listed(unbought))
        refund = mock.post(url__regex=rf"{LIST}/.+/refund")
        answer = connector().cancel_fulfillment(cancellation())
    assert not refund.called
    assert answer == f"no EasyPost label was bought for request {REQUEST_ID}; nothing to refund"


def test_a_scanned_label_is_too_late_and_says_the_parcel_is_moving() -> None:
    moving = bought(status="in_transit")
    moving["tracker"] = {**moving["tracker"], "status": "in_transit"}
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(return_value=listed(moving))
        refund = mock.post(REFUND)
        with pytest.raises(TooLateToCancel) as caught:
            connector().cancel_fulfillment(cancellation())
    assert not refund.called
    message = str(caught.value)
    assert SHIPMENT_ID in message
    assert BOUGHT["tracking_code"] in message
    assert "parcel is moving" in message
    assert "intercept" in message


def test_a_rejected_refund_is_too_late() -> None:
    with respx.mock() as mock:
        mock.get(LIST).mock(return_value=listed(bought()))
        mock.post(REFUND).mock(return_value=refunded("rejected"))
        with pytest.raises(TooLateToCancel, match="rejected the refund"):
            connector().cancel_fulfillment(cancellation())


def test_a_refund_easypost_refuses_is_too_late() -> None:
    with respx.mock() as mock:
        mock.get(LIST).mock(return_value=listed(bought()))
        mock.post(REFUND).mock(
            return_value=httpx.Response(
                422,
                json={
                    "error": {"code": "SHIPMENT.REFUND.UNAVAILABLE", "message": "x", "errors": []}
                },
            )
        )
        with pytest.raises(TooLateToCancel) as caught:
            connector().cancel_fulfillment(cancellation())
    assert caught.value.status_code == 422


def test_a_bill_on_scan_carrier_needs_no_refund() -> None:
    with respx.mock() as mock:
        mock.get(LIST).mock(return_value=listed(bought()))
        mock.post(REFUND).mock(return_value=refunded("not_applicable"))
        answer = connector().cancel_fulfillment(cancellation())
    assert "bills on scan" in answer


@pytest.mark.parametrize(
    ("status", "error"), [(502, RetriableError), (429, RateLimited)], ids=["5xx", "429"]
)
def test_vendor_trouble_is_transient(status: int, error: type[Exception]) -> None:
    with respx.mock() as mock:
        mock.get(LIST).mock(return_value=listed(bought()))
        refund = mock.post(REFUND).mock(
            return_value=httpx.Response(status, headers={"Retry-After": "0"})
        )
        with pytest.raises(error):
            connector().cancel_fulfillment(cancellation())
    assert refund.call_count == CONFIG["max_attempts"]
