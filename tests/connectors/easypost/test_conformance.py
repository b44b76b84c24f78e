"""EasyPost through the conformance kit, plus its mappings and label purchase."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from canonical.fulfillment import (
    FulfillmentLine,
    FulfillmentRequest,
    TrackingEvent,
    TrackingStatus,
)
from canonical.money import Money
from canonical.order import OrderRef
from canonical.party import Address
from connectors.base import load_payload
from connectors.easypost import EasyPostConnector
from connectors.errors import TranslationError
from connectors.spec import TranslationContext
from connectors.testing import ConnectorConformance, OutboundCase, Sample, samples_from

FIXTURES = Path(__file__).parent / "fixtures"
CONFIG: dict[str, Any] = {
    "api_key": "EZTK0123456789abcdef0123456789ab",
    "webhook_secrets": ["sécret-nouveau", "old-secret-1"],
    "max_attempts": 3,
    "origins": {
        "wh_east": {
            "company": "Acme Goods East",
            "line1": "200 Harbor Way",
            "city": "Newark",
            "region": "NJ",
            "postal_code": "07114",
            "country": "US",
        }
    },
    "parcel": {"weight_oz": 16},
}
CTX = TranslationContext(
    tenant="acme", instance="easypost", received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)
)
BUY_RESPONSE = {
    "id": "shp_5d0f3a1c2b4e4f6a8b9c0d1e2f3a4b5c",
    "object": "Shipment",
    "mode": "test",
    "tracking_code": "9434600208303109842228",
    "postage_label": {
        "object": "PostageLabel",
        "label_url": "https://easypost-files.s3.amazonaws.com/files/postage_label/20260303/a1.png",
        "label_file_type": "image/png",
    },
    "selected_rate": {
        "id": "rate_5d76435160da498fb8976b64f9f69b06",
        "object": "Rate",
        "carrier": "USPS",
        "service": "GroundAdvantage",
        "rate": "8.20",
        "currency": "USD",
    },
    "tracker": {"id": "trk_1", "object": "Tracker", "status": "unknown"},
}


def label_request() -> FulfillmentRequest:
    return FulfillmentRequest(
        tenant="acme",
        request_id="release/wh_east/20260302-w1/shopify_us:9101",
        order=OrderRef(channel="shopify_us", external_id="9101"),
        location="wh_east",
        lines=[FulfillmentLine(line_id="1", sku="TSHIRT-RED-M", quantity=1)],
        ship_to=Address(
            name="Jane Doe",
            line1="88 Colin P Kelly Jr St",
            city="San Francisco",
            region="CA",
            postal_code="94107",
            country="US",
        ),
        service_level="standard",
        requested_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )


def created_shipment() -> Any:
    return json.loads((FIXTURES / "shipment_created.json").read_text())


class TestEasyPostConformance(ConnectorConformance):
    connector = EasyPostConnector
    valid_config = CONFIG
    invalid_configs = [{**CONFIG, "webhook_secrets": []}, {**CONFIG, "api_base": "ftp://x"}]
    samples = samples_from(
        FIXTURES,
        {
            "tracker_created.json": "tracker.created",
            "tracker_updated_in_transit.json": "tracker.updated",
            "tracker_updated_delivered.json": "tracker.updated",
            "tracker_bare.json": "tracker.updated",
        },
    )
    outbound = [
        OutboundCase(
            name="shipments.buy",
            method="POST",
            url="https://api.easypost.com/v2/shipments/shp_1/buy",
            call=lambda c: c.buy_label("shp_1", "rate_1"),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(200, json=BUY_RESPONSE),
        )
    ]
    outbound += [
        OutboundCase(
            name="shipments.create",
            method="POST",
            url="https://api.easypost.com/v2/shipments",
            call=lambda c: c.create_shipment(label_request()),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(201, json=created_shipment()),
        ),
        OutboundCase(
            name="shipments.list",
            method="GET",
            url="https://api.easypost.com/v2/shipments",
            call=lambda c: c.find_bought_shipment(label_request()),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(200, json={"shipments": [], "has_more": False}),
        ),
        OutboundCase(
            name="shipments.refund",
            method="POST",
            url="https://api.easypost.com/v2/shipments/shp_1/refund",
            call=lambda c: c.refund_label("shp_1"),  # type: ignore[attr-defined]
            ok=lambda: httpx.Response(
                200, json={**BUY_RESPONSE, "id": "shp_1", "refund_status": "submitted"}
            ),
        ),
    ]
    waivers = {
        "pagination": "trackers arrive by webhook; the one list (shipments already bought for a "
        "request, before_id paging) is tested in test_label_purchase.py"
    }

    def change(self, sample: Sample, payload: Any) -> Any:
        tracker = payload.get("result", payload)
        tracker["status"] = "out_for_delivery"
        tracker["updated_at"] = "2026-03-05T08:02:00Z"
        return payload


def _event(name: str) -> TrackingEvent:
    (envelope,) = EasyPostConnector.translate(
        "tracker.updated", load_payload((FIXTURES / name).read_bytes()), CTX
    )
    assert isinstance(envelope.payload, TrackingEvent)
    return envelope.payload


def test_delivered_tracker_maps_status_place_and_time() -> None:
    event = _event("tracker_updated_delivered.json")
    assert event.status is TrackingStatus.DELIVERED
    assert event.carrier_status == "arrived_at_destination"
    assert (event.city, event.region, event.country) == ("NEWARK", "NJ", "US")
    assert event.occurred_at == datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
    assert event.weight_grams == Decimal("17.6") * Decimal("28.349523125")


def test_event_and_bare_tracker_derive_the_same_key() -> None:
    event = load_payload((FIXTURES / "tracker_updated_in_transit.json").read_bytes())
    bare = load_payload((FIXTURES / "tracker_bare.json").read_bytes())
    keys = [
        EasyPostConnector.translate("tracker.updated", p, CTX)[0].idempotency_key
        for p in (event, bare)
    ]
    assert keys[0] == keys[1]


@pytest.mark.parametrize(
    ("vendor", "hub"),
    [
        ("pre_transit", "label_created"),
        ("available_for_pickup", "out_for_delivery"),
        ("return_to_sender", "returned_to_sender"),
        ("failure", "exception"),
    ],
)
def test_status_vocabulary(vendor: str, hub: str) -> None:
    payload = load_payload((FIXTURES / "tracker_bare.json").read_bytes())
    payload["status"] = vendor
    (envelope,) = EasyPostConnector.translate("tracker.updated", payload, CTX)
    assert envelope.payload.status.value == hub  # type: ignore[union-attr]


def test_unknown_status_names_the_field() -> None:
    payload = load_payload((FIXTURES / "tracker_updated_in_transit.json").read_bytes())
    payload["result"]["status"] = "teleported"
    with pytest.raises(TranslationError) as caught:
        EasyPostConnector.translate("tracker.updated", payload, CTX)
    assert caught.value.field == "result.status"


def test_buy_label_returns_the_package_and_uses_basic_auth() -> None:
    connector = EasyPostConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock() as mock:
        route = mock.post("https://api.easypost.com/v2/shipments/shp_1/buy").mock(
            return_value=httpx.Response(200, json=BUY_RESPONSE)
        )
        package = connector.buy_label("shp_1", "rate_5d76435160da498fb8976b64f9f69b06")
    assert package.tracking_number == "9434600208303109842228"
    assert package.label_cost == Money(amount=Decimal("8.20"), currency="USD")
    request = route.calls.last.request
    assert request.headers["Authorization"].startswith("Basic ")
    assert b'"rate":{"id":"rate_5d76435160da498fb8976b64f9f69b06"}' in request.content
