"""EasyPost request_fulfillment: a release to an own warehouse buys its label.

Every vendor exchange is mocked with respx against EasyPost's documented shapes
(https://docs.easypost.com/docs/shipments): ``GET /v2/shipments`` (has a label been bought for this
request already?), ``POST /v2/shipments`` (rates), ``POST /v2/shipments/{id}/buy``.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from canonical.fulfillment import FulfillmentLine, FulfillmentRequest
from canonical.order import OrderRef
from canonical.party import Address
from connectors.easypost import EasyPostConnector
from connectors.errors import (
    AuthenticationError,
    ConnectorConfigError,
    FatalError,
    PaginationLoopError,
    RateLimited,
    RequestRejected,
    RetriableError,
    UpstreamUnavailable,
)

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://api.easypost.com"
LIST = f"{API}/v2/shipments"
CREATED = json.loads((FIXTURES / "shipment_created.json").read_text())
BOUGHT = json.loads((FIXTURES / "shipment_bought.json").read_text())
SHIPMENT_ID = CREATED["id"]
BUY = f"{API}/v2/shipments/{SHIPMENT_ID}/buy"
RATE = {r["carrier"] + " " + r["service"]: r["id"] for r in CREATED["rates"]}

ORIGIN = {
    "company": "Acme Goods East",
    "name": "Shipping desk",
    "line1": "200 Harbor Way",
    "city": "Newark",
    "region": "NJ",
    "postal_code": "07114",
    "country": "US",
    "phone": "9735550123",
}
CONFIG: dict[str, Any] = {
    "api_key": "EZTK0123456789abcdef0123456789ab",
    "webhook_secrets": ["hook-secret"],
    "max_attempts": 2,
    "origins": {"wh_east": ORIGIN},
    "parcel": {
        "weight_oz": "16",
        "tare_oz": "1.5",
        "length_in": "12",
        "width_in": "9",
        "height_in": "4",
    },
    "sku_weights_oz": {"TSHIRT-RED-M": "5.2", "MUG-WHITE": "9.6"},
    "service_levels": {
        "express": {"carrier": "UPS", "services": ["NextDayAir", "2ndDayAir"]},
        "economy": {"carrier": "USPS"},
    },
}
REQUESTED_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _request(**changes: Any) -> FulfillmentRequest:
    fields: dict[str, Any] = {
        "tenant": "acme",
        "request_id": "release/wh_east/20260302-w1/shopify_us:9101",
        "order": OrderRef(channel="shopify_us", external_id="9101"),
        "location": "wh_east",
        "lines": [
            FulfillmentLine(line_id="1", sku="TSHIRT-RED-M", quantity=2),
            FulfillmentLine(line_id="2", sku="MUG-WHITE", quantity=1),
        ],
        "ship_to": Address(
            name="Jane Doe",
            line1="88 Colin P Kelly Jr St",
            line2="Apt 4",
            city="San Francisco",
            region="CA",
            postal_code="94107",
            country="US",
            phone="4155550100",
        ),
        "service_level": "standard",
        "carrier": None,
        "requested_at": REQUESTED_AT,
    }
    fields.update(changes)
    return FulfillmentRequest(**fields)


def _connector(**config: Any) -> EasyPostConnector:
    return EasyPostConnector({**CONFIG, **config}, sleep=lambda _s: None)


def _bought_at(request: httpx.Request) -> httpx.Response:
    """EasyPost's answer to a buy: the shipment with the chosen rate, label and tracker."""
    rate_id = json.loads(request.content)["rate"]["id"]
    rate = next(r for r in CREATED["rates"] if r["id"] == rate_id)
    return httpx.Response(200, json={**BOUGHT, "selected_rate": rate})


def _no_earlier_shipment() -> httpx.Response:
    return httpx.Response(200, json={"shipments": [], "has_more": False})


def _mock_vendor(mock: respx.MockRouter, created: Any = None) -> tuple[Any, Any, Any]:
    listed = mock.get(LIST).mock(return_value=_no_earlier_shipment())
    create = mock.post(LIST).mock(return_value=httpx.Response(201, json=created or CREATED))
    buy = mock.post(BUY).mock(side_effect=_bought_at)
    return listed, create, buy


def _bought_rate(buy: Any) -> str:
    return str(json.loads(buy.calls.last.request.content)["rate"]["id"])


# -- the happy path and the exact requests ---------------------------------------------------------


def test_release_creates_the_shipment_buys_the_cheapest_rate_and_returns_its_id() -> None:
    with respx.mock(assert_all_called=True) as mock:
        listed, create, buy = _mock_vendor(mock)
        result = _connector().request_fulfillment(_request())
    assert result == SHIPMENT_ID
    assert create.call_count == 1
    assert buy.call_count == 1
    assert _bought_rate(buy) == RATE["USPS GroundAdvantage"]  # 6.95, the cheapest of six
    assert listed.calls.last.request.url.params["start_datetime"] == "2026-03-02T14:45:00Z"


def test_the_shipment_body_maps_the_addresses_parcel_and_reference_exactly() -> None:
    with respx.mock() as mock:
        _, create, _ = _mock_vendor(mock)
        _connector().request_fulfillment(_request())
    request = create.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].startswith("Basic ")
    assert json.loads(request.content, parse_float=Decimal) == {
        "shipment": {
            "to_address": {
                "name": "Jane Doe",
                "street1": "88 Colin P Kelly Jr St",
                "street2": "Apt 4",
                "city": "San Francisco",
                "state": "CA",
                "zip": "94107",
                "country": "US",
                "phone": "4155550100",
            },
            "from_address": {
                "name": "Shipping desk",
                "company": "Acme Goods East",
                "street1": "200 Harbor Way",
                "city": "Newark",
                "state": "NJ",
                "zip": "07114",
                "country": "US",
                "phone": "9735550123",
            },
            # 2 x 5.2 + 1 x 9.6 + 1.5 tare, in ounces; dimensions in inches
            "parcel": {
                "length": Decimal("12"),
                "width": Decimal("9"),
                "height": Decimal("4"),
                "weight": Decimal("21.5"),
            },
            "reference": "release/wh_east/20260302-w1/shopify_us:9101",
            "options": {"label_format": "PNG", "print_custom_1": "shopify_us:9101"},
        }
    }
    assert b'"weight":21.5' in request.content  # an exact JSON number, not a string


def _sent_parcel(connector: EasyPostConnector, request: FulfillmentRequest) -> Any:
    with respx.mock() as mock:
        _, create, _ = _mock_vendor(mock)
        connector.request_fulfillment(request)
    return json.loads(create.calls.last.request.content, parse_float=Decimal)["shipment"]["parcel"]


def test_a_sku_without_a_unit_weight_makes_the_parcel_at_least_the_default() -> None:
    request = _request(
        lines=[
            FulfillmentLine(line_id="1", sku="TSHIRT-RED-M", quantity=1),
            FulfillmentLine(line_id="3", sku="POSTER-A2", quantity=1),
        ]
    )
    assert _sent_parcel(_connector(), request)["weight"] == Decimal("16")  # not 5.2 + 1.5
    heavy = _request(
        lines=[*request.lines, FulfillmentLine(line_id="2", sku="MUG-WHITE", quantity=2)]
    )
    assert _sent_parcel(_connector(), heavy)["weight"] == Decimal("25.9")  # 5.2 + 19.2 + 1.5


def test_without_sku_weights_the_default_parcel_is_sent_without_dimensions_when_none_are_set() -> (
    None
):
    connector = _connector(sku_weights_oz={}, parcel={"weight_oz": "12.5"})
    assert _sent_parcel(connector, _request()) == {"weight": Decimal("12.5")}


# -- choosing the rate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "bought"),
    [
        ({"carrier": "UPS"}, "UPS Ground"),  # the cut-off's carrier: its cheapest rate
        ({"carrier": "usps", "service_level": "Priority"}, "USPS Priority"),  # carrier + service
        (
            {"service_level": "express"},
            "UPS 2ndDayAir",
        ),  # mapped: cheapest of NextDayAir, 2ndDayAir
        ({"service_level": "express", "carrier": "ups"}, "UPS 2ndDayAir"),
        ({"service_level": "economy"}, "USPS GroundAdvantage"),  # mapped carrier, any service
        ({"service_level": None}, "USPS GroundAdvantage"),
    ],
)
def test_rate_selection(changes: dict[str, Any], bought: str) -> None:
    with respx.mock() as mock:
        _, _, buy = _mock_vendor(mock)
        _connector().request_fulfillment(_request(**changes))
    assert _bought_rate(buy) == RATE[bought]


def test_an_unmapped_level_that_names_no_offered_service_buys_the_cheapest() -> None:
    with respx.mock() as mock:
        _, _, buy = _mock_vendor(mock)
        _connector().request_fulfillment(_request(service_level="standard", carrier="UPS"))
    assert _bought_rate(buy) == RATE["UPS Ground"]


def test_equal_rates_go_to_the_faster_one() -> None:
    created = copy.deepcopy(CREATED)
    for rate in created["rates"]:
        if rate["service"] in ("Priority", "GroundAdvantage"):
            rate["rate"] = "5.00"
    with respx.mock() as mock:
        _, _, buy = _mock_vendor(mock, created)
        _connector().request_fulfillment(_request())
    assert _bought_rate(buy) == RATE["USPS Priority"]  # 2 days beats 4 at the same price


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"carrier": "FedEx"}, "carrier FedEx"),
        ({"carrier": "USPS", "service_level": "express"}, "settings.service_levels.express"),
    ],
)
def test_no_fitting_rate_is_a_permanent_error_and_buys_nothing(
    changes: dict[str, Any], says: str
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        _, _, buy = _mock_vendor(mock)
        with pytest.raises(FatalError) as caught:
            _connector().request_fulfillment(_request(**changes))
    assert says in str(caught.value)
    assert not buy.called


def test_a_mapped_level_whose_services_are_not_offered_names_what_is() -> None:
    created = copy.deepcopy(CREATED)
    created["rates"] = [r for r in created["rates"] if r["carrier"] == "USPS"]
    with respx.mock(assert_all_called=False) as mock:
        _, _, buy = _mock_vendor(mock, created)
        with pytest.raises(FatalError) as caught:
            _connector().request_fulfillment(_request(service_level="express"))
    message = str(caught.value)
    assert "no EasyPost rate fits" in message
    assert "['NextDayAir', '2ndDayAir']" in message
    assert "USPS Priority 9.35 USD" in message
    assert SHIPMENT_ID in message
    assert not buy.called


def test_a_shipment_without_rates_is_refused() -> None:
    created = {**CREATED, "rates": [], "messages": [{"carrier": "USPS", "type": "rate_error"}]}
    with respx.mock(assert_all_called=False) as mock:
        _, _, buy = _mock_vendor(mock, created)
        with pytest.raises(FatalError, match="offers: none"):
            _connector().request_fulfillment(_request())
    assert not buy.called


# -- refusals before any request ---------------------------------------------------------------------


def test_a_location_without_an_origin_is_a_config_error_naming_location_and_key() -> None:
    with respx.mock(assert_all_called=False) as mock:
        routes = _mock_vendor(mock)
        with pytest.raises(ConnectorConfigError) as caught:
            _connector().request_fulfillment(_request(location="wh_west"))
    assert "'wh_west'" in str(caught.value)
    assert "settings.origins" in str(caught.value)
    assert not any(route.called for route in routes)


def test_an_unweighable_parcel_is_a_config_error() -> None:
    with respx.mock(assert_all_called=False) as mock:
        routes = _mock_vendor(mock)
        with pytest.raises(ConnectorConfigError, match="POSTER-A2.*settings.parcel.weight_oz"):
            _connector(parcel=None).request_fulfillment(
                _request(lines=[FulfillmentLine(line_id="3", sku="POSTER-A2", quantity=1)])
            )
    assert not any(route.called for route in routes)


def test_a_ship_to_without_street_or_zip_is_refused_without_showing_it() -> None:
    with respx.mock(assert_all_called=False) as mock:
        routes = _mock_vendor(mock)
        with pytest.raises(FatalError) as caught:
            _connector().request_fulfillment(
                _request(ship_to=Address(name="Jane Doe", city="San Francisco", country="US"))
            )
    assert "lacks line1, postal_code" in str(caught.value)
    assert "Jane" not in str(caught.value)
    assert not any(route.called for route in routes)


# -- vendor errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(422, RequestRejected), (400, RequestRejected), (401, AuthenticationError)],
)
def test_a_refused_shipment_is_permanent_and_not_retried(status: int, error: type) -> None:
    with respx.mock(assert_all_called=False) as mock:
        _, create, buy = _mock_vendor(mock)
        create.mock(
            return_value=httpx.Response(
                status, json={"error": {"code": "ADDRESS.VERIFY.FAILURE", "message": "x"}}
            )
        )
        with pytest.raises(error):
            _connector().request_fulfillment(_request())
    assert create.call_count == 1
    assert not buy.called


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, UpstreamUnavailable), (500, UpstreamUnavailable), (429, RateLimited)],
)
def test_a_failing_easypost_is_transient(status: int, error: type) -> None:
    with respx.mock(assert_all_called=False) as mock:
        _, create, buy = _mock_vendor(mock)
        create.mock(return_value=httpx.Response(status, headers={"Retry-After": "7"}))
        with pytest.raises(error) as caught:
            _connector().request_fulfillment(_request())
    assert isinstance(caught.value, RetriableError)
    assert create.call_count == 2  # max_attempts
    assert not buy.called


def test_a_buy_that_fails_with_5xx_and_then_succeeds_buys_once() -> None:
    with respx.mock() as mock:
        _, _, buy = _mock_vendor(mock)
        buy.mock(side_effect=[httpx.Response(503), _bought_at])
        assert _connector().request_fulfillment(_request()) == SHIPMENT_ID
    assert buy.call_count == 2


# -- a retry does not buy a second label ----------------------------------------------------------------


def test_a_retried_release_returns_the_label_already_bought_and_buys_nothing() -> None:
    other = {**copy.deepcopy(BOUGHT), "id": "shp_00000000000000000000000000000001"}
    other["reference"] = "release/wh_east/20260302-w1/shopify_us:9102"
    unbought = {**CREATED, "id": "shp_00000000000000000000000000000002"}  # same reference
    with respx.mock(assert_all_called=False) as mock:
        listed, create, buy = _mock_vendor(mock)
        listed.mock(
            side_effect=[
                httpx.Response(200, json={"shipments": [other, unbought], "has_more": True}),
                httpx.Response(200, json={"shipments": [BOUGHT], "has_more": False}),
            ]
        )
        label = _connector().purchase_label(_request())
    assert label.shipment_id == SHIPMENT_ID
    assert label.reused
    assert label.package.tracking_number == "9400100208303109920417"
    assert (label.carrier, label.service) == ("USPS", "GroundAdvantage")
    assert not create.called
    assert not buy.called
    second_page = listed.calls[1].request.url.params
    assert second_page["before_id"] == "shp_00000000000000000000000000000002"
    assert second_page["page_size"] == "100"


def test_a_retry_after_a_lost_buy_answer_keeps_the_label_bought_by_the_first_attempt() -> None:
    """The buy reached EasyPost but its answer was lost; the client's retry is refused with
    SHIPMENT.POSTAGE.EXISTS. The label exists: return it, do not dead-letter, buy nothing more."""
    with respx.mock() as mock:
        _, _, buy = _mock_vendor(mock)
        buy.mock(
            side_effect=[
                httpx.ReadTimeout("lost"),
                httpx.Response(
                    422,
                    json={
                        "error": {
                            "code": "SHIPMENT.POSTAGE.EXISTS",
                            "message": "Postage already exists for this shipment.",
                            "errors": [],
                        }
                    },
                ),
            ]
        )
        retrieve = mock.get(f"{API}/v2/shipments/{SHIPMENT_ID}").mock(
            return_value=httpx.Response(200, json=BOUGHT)
        )
        label = _connector().purchase_label(_request())
    assert label.shipment_id == SHIPMENT_ID
    assert label.package.label_url
    assert label.package.label_url.endswith(".png")
    assert retrieve.call_count == 1
    assert buy.call_count == 2


def test_a_refused_buy_of_a_shipment_without_postage_stays_refused() -> None:
    with respx.mock() as mock:
        _, _, buy = _mock_vendor(mock)
        buy.mock(
            return_value=httpx.Response(422, json={"error": {"code": "SHIPMENT.RATE.INVALID"}})
        )
        mock.get(f"{API}/v2/shipments/{SHIPMENT_ID}").mock(
            return_value=httpx.Response(200, json=CREATED)
        )
        with pytest.raises(RequestRejected):
            _connector().request_fulfillment(_request())


def test_a_second_release_of_the_same_request_against_a_stateful_easypost_buys_one_label() -> None:
    """Against a small EasyPost that remembers shipments: two calls, one purchase."""
    shipments: list[dict[str, Any]] = []

    def create(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)["shipment"]
        created = {**copy.deepcopy(CREATED), "reference": body["reference"]}
        created["id"] = f"shp_{len(shipments):032d}"
        shipments.insert(0, created)
        return httpx.Response(201, json=created)

    def buy(request: httpx.Request) -> httpx.Response:
        shipment_id = request.url.path.split("/")[3]
        shipment = next(s for s in shipments if s["id"] == shipment_id)
        shipment.update(
            {k: BOUGHT[k] for k in ("selected_rate", "postage_label", "tracker", "tracking_code")}
        )
        return httpx.Response(200, json=shipment)

    with respx.mock() as mock:
        mock.get(LIST).mock(
            side_effect=lambda _r: httpx.Response(
                200, json={"shipments": shipments, "has_more": False}
            )
        )
        created = mock.post(LIST).mock(side_effect=create)
        bought = mock.post(url__regex=rf"{API}/v2/shipments/shp_\d+/buy").mock(side_effect=buy)
        connector = _connector()
        first = connector.request_fulfillment(_request())
        second = connector.request_fulfillment(_request())
        other = connector.request_fulfillment(_request(request_id="release/wh_east/x/shopify_us:9"))
    assert first == second != other
    assert created.call_count == 2
    assert bought.call_count == 2


# -- configuration -------------------------------------------------------------------------------------


def test_an_origin_without_street_is_refused_at_load_time_naming_the_location() -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        EasyPostConnector.parse_config(
            {
                **CONFIG,
                "origins": {"wh_east": {**ORIGIN, "line1": None, "company": None, "name": None}},
            }
        )
    assert "wh_east" in str(caught.value)
    assert "name or company, line1" in str(caught.value)


def test_partial_dimensions_are_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="length_in, width_in and height_in"):
        EasyPostConnector.parse_config({**CONFIG, "parcel": {"weight_oz": 10, "length_in": 5}})


def test_location_problems_name_the_missing_origin_and_parcel() -> None:
    config = EasyPostConnector.parse_config({**CONFIG, "parcel": None})
    problems = dict(EasyPostConnector.location_problems(config, "wh_west"))
    assert set(problems) == {("origins",), ("parcel",)}
    assert "'wh_west'" in problems[("origins",)]
    assert EasyPostConnector.location_problems(_connector().config, "wh_east") == []


def test_the_config_schema_documents_the_label_settings() -> None:
    properties = EasyPostConnector.config_schema()["properties"]
    assert {"origins", "parcel", "sku_weights_oz", "service_levels", "label_format"} <= set(
        properties
    )


def test_a_shipment_list_that_repeats_its_page_is_refused_rather_than_looped() -> None:
    page = {"shipments": [{**CREATED, "reference": "someone else"}], "has_more": True}
    with respx.mock(assert_all_called=False) as mock:
        listed, create, _ = _mock_vendor(mock)
        listed.mock(side_effect=lambda _r: httpx.Response(200, json=page))
        with pytest.raises(PaginationLoopError):
            _connector().request_fulfillment(_request())
    assert listed.call_count == 2
    assert not create.called
