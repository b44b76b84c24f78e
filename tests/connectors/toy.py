"""A small, correct carrier connector used to test the conformance kit itself.

Each test in test_kit.py breaks one rule by subclassing it, and checks that the kit notices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from canonical.envelope import Envelope
from canonical.fulfillment import TrackingEvent
from connectors.base import Connector, load_payload
from connectors.pagination import JsonPathPaginator, paginate
from connectors.secrets import reveal
from connectors.spec import ConnectorConfig, ConnectorKind, EventSpec, TranslationContext
from connectors.testing import AvailabilityCase, OutboundCase, PaginationCase, Sample
from connectors.translate import Fields, build, envelope
from connectors.webhooks import HmacBodyVerifier

API = "https://api.toycarrier.test"


class ToyConfig(ConnectorConfig):
    api_key: SecretStr
    webhook_secrets: list[SecretStr] = Field(min_length=1)


def translate_tracker(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    tracker = Fields(raw)
    event = build(
        TrackingEvent,
        "",
        tenant=ctx.tenant,
        tracking_number=tracker.str("code"),
        carrier="toy",
        status=tracker.str("status"),
        occurred_at=tracker.time("updated_at"),
    )
    return [
        envelope(
            ctx,
            "toycarrier",
            event,
            event_type="tracking.updated",
            source_ids=("tracker", tracker.id("id"), tracker.str("updated_at")),
            occurred_at=event.occurred_at,
        )
    ]


class ToyConnector(Connector):
    name: ClassVar[str] = "toycarrier"
    kind: ClassVar[ConnectorKind] = ConnectorKind.CARRIER
    config_model: ClassVar[type[ConnectorConfig]] = ToyConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "tracker.updated": EventSpec("tracker.updated", translate_tracker, ("tracking.updated",))
    }
    webhook_verifier = HmacBodyVerifier("X-Toy-Signature", encoding="hex")

    def base_url(self) -> str:
        return API

    def default_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {reveal(self.config.api_key)}"}  # type: ignore[attr-defined]

    def buy_label(self, shipment_id: str) -> str:
        response = self.http.request(
            "POST", f"/labels/{shipment_id}", operation="labels.buy", json={}
        )
        return str(load_payload(response.content)["id"])

    def iter_trackers(self) -> Iterator[Any]:
        def fetch(token: str | None) -> httpx.Response:
            params = {"after": token} if token else {}
            return self.http.request("GET", "/trackers", operation="trackers.list", params=params)

        for response in paginate(fetch, JsonPathPaginator(("next",))):
            yield from response.json()["trackers"]


CONFIG: dict[str, Any] = {
    "api_key": "toy-api-key-0123456789",
    "webhook_secrets": ["toy-secret-new", "toy-secret-old"],
    "max_attempts": 3,
}
BAD_CONFIGS: list[dict[str, Any]] = [{**CONFIG, "webhook_secrets": []}, {"api_key": "x"}]
TRACKER = {
    "id": 9007199254740993,
    "code": "TOY123",
    "status": "in_transit",
    "updated_at": "2026-03-02T10:00:00Z",
}
SAMPLE = Sample("tracker.updated", json.dumps(TRACKER).encode(), "tracker.json")


def changed(payload: Any) -> Any:
    return {**payload, "status": "delivered", "updated_at": "2026-03-03T10:00:00Z"}


BUY = OutboundCase(
    name="labels.buy",
    method="POST",
    url=f"{API}/labels/shp_1",
    call=lambda c: c.buy_label("shp_1"),  # type: ignore[attr-defined]
    ok=lambda: httpx.Response(200, json={"id": "lbl_1"}),
)
PAGES = PaginationCase(
    method="GET",
    url=f"{API}/trackers",
    call=lambda c: c.iter_trackers(),  # type: ignore[attr-defined]
    pages=lambda: [
        httpx.Response(200, json={"trackers": [1, 2], "next": "a"}),
        httpx.Response(200, json={"trackers": [3], "next": None}),
    ],
    looping_pages=lambda: [
        httpx.Response(200, json={"trackers": [1], "next": "a"}),
        httpx.Response(200, json={"trackers": [2], "next": "a"}),
    ],
    expected_items=3,
)


class ToyStockConnector(ToyConnector):
    """The toy as a sales channel: it accepts availability.changed and pushes levels correctly."""

    accepts: ClassVar[tuple[str, ...]] = ("availability.changed",)

    def push_availability(
        self, sku: str, available: int, *, external_ids: Mapping[str, str]
    ) -> None:
        listing = self.external_id(sku, external_ids, "listing_id")
        self.http.request(
            "PUT",
            f"/listings/{listing}/stock",
            operation="listings.stock",
            json={"quantity": max(0, available)},
        )


AVAILABILITY = AvailabilityCase(
    sku="MUG-BLUE",
    available=5,
    external_ids={"listing_id": "L-77"},
    method="PUT",
    url=f"{API}/listings/L-77/stock",
    body={"quantity": 5},
    ok=lambda: httpx.Response(200, json={"listing": "L-77", "quantity": 5}),
)
