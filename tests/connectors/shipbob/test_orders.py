"""One ShipBob order per fulfilment request, created once; shipments name their hub order.

ShipBob keeps ``reference_id`` unique and refuses a second order with one it has (API 1.0: 422
"Duplicate reference ID"); :class:`FakeShipBob` answers ``POST /1.0/order`` and ``GET
/1.0/order?ReferenceIds=`` that way, with ``Order`` bodies shaped as ShipBob documents them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from canonical.fulfillment import FulfillmentLine, FulfillmentRequest, Shipment, TrackingEvent
from canonical.party import Address
from connectors.base import load_payload
from connectors.errors import RequestRejected, TranslationError
from connectors.shipbob import ShipBobConnector, mapping
from tests.connectors.shipbob.test_conformance import API, CONFIG, CTX

FIXTURES = Path(__file__).parent / "fixtures"
ORDERS = f"{API}/1.0/order"
KEY = "shopify_us:5829371929123456789"
FIRST = f"release/shipbob_cicero/20260302-w1/{KEY}"
REMAINDER = f"release/shipbob_cicero/20260303-w2/{KEY}"


def request(request_id: str = FIRST) -> FulfillmentRequest:
    return FulfillmentRequest(
        tenant="acme",
        request_id=request_id,
        order={"channel": "shopify_us", "external_id": "5829371929123456789"},
        location="shipbob_cicero",
        lines=[FulfillmentLine(line_id="13572468013579246801", sku="TSHIRT-RED-M", quantity=2)],
        ship_to=Address(name="Jane Doe", line1="123 Main Street", city="Albany", country="US"),
        requested_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )


class FakeShipBob:
    """ShipBob's order endpoints: ``reference_id`` unique, a duplicate refused with a 422.

    ``lose_answers`` creates the order and then drops the connection before the answer (a read
    timeout), that many times: the order exists but the hub never heard so.
    """

    def __init__(self, mock: respx.MockRouter, *, lose_answers: int = 0) -> None:
        self.orders: list[dict[str, Any]] = []
        self.lose_answers = lose_answers
        self.create = mock.post(ORDERS).mock(side_effect=self._create)
        self.list = mock.get(ORDERS).mock(side_effect=self._list)

    def _create(self, sent: httpx.Request) -> httpx.Response:
        body = load_payload(sent.content)
        if any(order["reference_id"] == body["reference_id"] for order in self.orders):
            return httpx.Response(
                422,
                json={
                    "title": "One or more validation errors occurred.",
                    "status": 422,
                    "errors": {"ReferenceId": ["An order with this reference id already exists."]},
                },
            )
        order = {
            "id": 200345678 + len(self.orders),
            "created_date": "2026-03-02T15:00:05+00:00",
            "reference_id": body["reference_id"],
            "order_number": body["order_number"],
            "status": "Processing",
            "type": body["type"],
            "channel": {"id": 104729, "name": "hub"},
            "shipping_method": body["shipping_method"],
            "recipient": body["recipient"],
            "products": [
                {"id": i + 1, "reference_id": p["reference_id"], "quantity": p["quantity"]}
                for i, p in enumerate(body["products"])
            ],
            "tags": body["tags"],
            "shipments": [],
        }
        self.orders.append(order)
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadTimeout("the answer was lost", request=sent)
        return httpx.Response(201, json=order)

    def _list(self, sent: httpx.Request) -> httpx.Response:
        wanted = sent.url.params.get("ReferenceIds")
        return httpx.Response(200, json=[o for o in self.orders if o["reference_id"] == wanted])


def connector() -> ShipBobConnector:
    return ShipBobConnector(CONFIG, sleep=lambda _s: None)


# -- outbound ------------------------------------------------------------------------------------


def test_the_order_is_referenced_by_the_request_and_tagged_with_request_and_order() -> None:
    with respx.mock(assert_all_called=False) as mock:
        shipbob = FakeShipBob(mock)
        assert connector().request_fulfillment(request()) == "200345678"
    body = load_payload(shipbob.create.calls.last.request.content)
    assert body["reference_id"] == FIRST
    assert body["order_number"] == "5829371929123456789"  # what pickers and support see
    assert body["tags"] == [
        {"name": "hub_request_id", "value": FIRST},
        {"name": "hub_order_key", "value": KEY},
    ]
    assert not shipbob.list.called  # no look-up when the create succeeds


def test_a_second_release_of_the_same_order_gets_an_order_of_its_own() -> None:
    """The remainder of a short-shipped order is released again under a new request id."""
    with respx.mock(assert_all_called=False) as mock:
        shipbob = FakeShipBob(mock)
        hub = connector()
        first = hub.request_fulfillment(request(FIRST))
        second = hub.request_fulfillment(request(REMAINDER))
    assert (first, second) == ("200345678", "200345679")
    assert [o["reference_id"] for o in shipbob.orders] == [FIRST, REMAINDER]
    assert shipbob.create.call_count == 2


def test_a_create_retried_after_its_answer_was_lost_returns_the_existing_order() -> None:
    """The HTTP client retries the timed-out POST; ShipBob refuses it as a duplicate; the order
    of the request's reference is looked up and its id returned: one order, not a dead letter."""
    with respx.mock(assert_all_called=False) as mock:
        shipbob = FakeShipBob(mock, lose_answers=1)
        assert connector().request_fulfillment(request()) == "200345678"
    assert len(shipbob.orders) == 1
    assert shipbob.create.call_count == 2
    assert shipbob.list.call_count == 1
    assert shipbob.list.calls.last.request.url.params["ReferenceIds"] == FIRST


def test_a_release_the_relay_sends_again_returns_the_same_order() -> None:
    """Every attempt of the first delivery lost its answer (the relay gives up and retries the
    whole request later): the relay's retry gets the order created the first time."""
    with respx.mock(assert_all_called=False) as mock:
        shipbob = FakeShipBob(mock, lose_answers=1)
        hub = ShipBobConnector({**CONFIG, "max_attempts": 1}, sleep=lambda _s: None)
        with pytest.raises(Exception, match="timed out"):
            hub.request_fulfillment(request())
        assert hub.request_fulfillment(request()) == "200345678"
    assert len(shipbob.orders) == 1


def test_a_422_about_something_else_is_still_refused() -> None:
    with respx.mock() as mock:
        mock.post(ORDERS).mock(
            return_value=httpx.Response(
                422, json={"errors": {"Type": ["DropShip orders need retailer_program_data"]}}
            )
        )
        listed = mock.get(ORDERS).mock(return_value=httpx.Response(200, json=[]))
        with pytest.raises(RequestRejected) as caught:
            connector().request_fulfillment(request())
    assert caught.value.status_code == 422
    assert listed.call_count == 1


def test_a_reference_taken_by_an_order_of_another_request_is_refused_naming_it() -> None:
    with respx.mock(assert_all_called=False) as mock:
        shipbob = FakeShipBob(mock)
        shipbob.orders.append(
            {"id": 111, "reference_id": FIRST, "status": "Processing", "tags": []}
        )
        with pytest.raises(RequestRejected, match="taken by ShipBob order 111"):
            connector().request_fulfillment(request())
    assert len(shipbob.orders) == 1


def test_a_request_id_shipbob_could_not_take_or_look_up_is_sent_as_a_digest() -> None:
    """Canonical request ids fit ShipBob's 300 characters; one with a comma could not be looked
    up (``ReferenceIds`` is comma separated), so its digest is the reference, stable across
    retries, and the ids travel in the tags."""
    over_long = mapping.order_reference("x" * 301)
    assert over_long.startswith("hub-sha256-")
    assert len(over_long) <= mapping.REFERENCE_MAX
    assert mapping.order_reference("x" * 300) == "x" * 300
    assert mapping.order_reference(FIRST) == FIRST
    comma = "release/shipbob_cicero/20260302-w1/amazon_us:111-2,3"
    reference = mapping.order_reference(comma)
    assert reference.startswith("hub-sha256-")
    assert reference == mapping.order_reference(comma)
    with respx.mock(assert_all_called=False) as mock:
        shipbob = FakeShipBob(mock, lose_answers=1)
        assert connector().request_fulfillment(request(comma)) == "200345678"
    assert shipbob.orders[0]["reference_id"] == reference
    assert {"name": "hub_request_id", "value": comma} in shipbob.orders[0]["tags"]
    assert len(shipbob.orders) == 1


# -- inbound -------------------------------------------------------------------------------------


def shipped(reference: str, tags: list[dict[str, str]]) -> Any:
    body = json.loads((FIXTURES / "order_shipped.json").read_text())
    return {**body, "reference_id": reference, "tags": tags}


@pytest.mark.parametrize(
    ("reference", "tags", "request_id"),
    [
        (
            FIRST,
            [{"name": "hub_request_id", "value": FIRST}, {"name": "hub_order_key", "value": KEY}],
            FIRST,
        ),
        ("hub-sha256-" + "0" * 64, [{"name": "hub_order_key", "value": KEY}], None),
        (FIRST, [], None),
        (f"release/shipbob_cicero/20260302-w1/{KEY}", None, None),
        (KEY, [{"name": "hub_request_id", "value": "fr-1"}], "fr-1"),
    ],
    ids=["new tags", "digest reference, tag", "request id, no tags", "tags null", "order key"],
)
def test_a_shipment_names_its_hub_order(
    reference: str, tags: list[dict[str, str]] | None, request_id: str | None
) -> None:
    (envelope,) = ShipBobConnector.translate(
        "order_shipped", shipped(reference, tags or []) | {"tags": tags}, CTX
    )
    shipment = envelope.payload
    assert isinstance(shipment, Shipment)
    assert shipment.order.key == KEY
    assert shipment.request_id == request_id


def test_tracking_updates_name_the_order_from_a_request_reference() -> None:
    body = json.loads((FIXTURES / "shipment_delivered.json").read_text())
    (envelope,) = ShipBobConnector.translate(
        "shipment_delivered", {**body, "reference_id": REMAINDER, "tags": []}, CTX
    )
    assert isinstance(envelope.payload, TrackingEvent)
    assert envelope.payload.order is not None
    assert envelope.payload.order.key == KEY


@pytest.mark.parametrize(
    ("reference", "tags", "field"),
    [
        ("SO-1001", [], "reference_id"),
        ("release/shipbob_cicero/20260302-w1/sha256-" + "0" * 40, [], "reference_id"),
        ("release/shipbob_cicero/not-a-wave/" + KEY, [], "reference_id"),
        (FIRST, [{"name": "hub_order_key", "value": "no-colon"}], "tags"),
    ],
    ids=["foreign reference", "hashed request id", "not a wave", "bad tag"],
)
def test_a_shipment_naming_no_hub_order_is_refused_naming_the_field(
    reference: str, tags: list[dict[str, str]], field: str
) -> None:
    with pytest.raises(TranslationError) as caught:
        ShipBobConnector.translate("order_shipped", shipped(reference, tags), CTX)
    assert caught.value.field == field
