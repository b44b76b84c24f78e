"""ShipBob 3PL connector: fulfilment orders out, shipment webhooks in.

ShipBob webhooks are signed with the Standard Webhooks scheme (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``). **Unconfirmed from a ShipBob primary source** (see
docs/connector-authoring.md, "Open questions"): the scheme is taken from a third-party integration
guide and must be checked against developer.shipbob.com before production use.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from canonical.envelope import Envelope
from canonical.fulfillment import FulfillmentRequest
from connectors.base import Connector, load_payload
from connectors.pagination import JsonPathPaginator, TimeWindow, paginate
from connectors.polling import PollSpec
from connectors.secrets import reveal
from connectors.shipbob import mapping
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec, TranslationContext
from connectors.webhooks import StandardWebhooksVerifier

__all__ = ["ShipBobConfig", "ShipBobConnector"]

#: Inventory levels of every item, grouped by fulfilment centre (cursor-paged, ``next``).
INVENTORY_LEVELS = "/2026-01/inventory-level/locations"


class ShipBobConfig(ConnectorConfig):
    access_token: SecretStr = Field(description="Personal access token or OAuth access token.")
    channel_id: Annotated[str, Field(pattern=r"^\d+$")] = Field(
        description="The ShipBob channel the hub's orders belong to (shipbob_channel_id header)."
    )
    webhook_secrets: Annotated[list[SecretStr], Field(min_length=1, max_length=3)] = Field(
        description="Webhook signing secret(s), whsec_<base64>."
    )
    page_size: Annotated[int, Field(ge=1, le=250)] = Field(
        default=100, description="Inventory items per page when polling inventory levels."
    )
    api_base: ApiBase = Field(
        default="https://api.shipbob.com",
        description="ShipBob API origin; paths such as /1.0/order are kept. "
        "Override it for a sandbox or a local simulator.",
    )


class ShipBobConnector(Connector):
    name: ClassVar[str] = "shipbob"
    kind: ClassVar[ConnectorKind] = ConnectorKind.THREE_PL
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = ShipBobConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "order_shipped": EventSpec(
            "order_shipped", mapping.to_canonical_shipment, ("shipment.created",)
        ),
        "order.shipped": EventSpec(
            "order.shipped", mapping.to_canonical_shipment, ("shipment.created",)
        ),
        **{
            name: EventSpec(name, translate, ("tracking.updated",))
            for name, translate in mapping.to_canonical_tracking.items()
        },
        "inventory_levels": EventSpec(
            "inventory_levels",
            mapping.translate_inventory_levels,
            ("stock.counted",),
            source="poll",
            description=f"A page of GET {INVENTORY_LEVELS}, stamped with counted_at",
        ),
    }
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested",)
    webhook_verifier = StandardWebhooksVerifier(tolerance=300)
    webhook_topic_header = "x-webhook-topic"  # unconfirmed, like the signature scheme

    config: ShipBobConfig

    def base_url(self) -> str:
        return self.config.api_base

    def default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {reveal(self.config.access_token)}",
            "shipbob_channel_id": self.config.channel_id,
        }

    def create_fulfillment_order(self, request: FulfillmentRequest) -> str:
        """Create the ShipBob order for ``request``; returns ShipBob's order id."""
        response = self.http.request(
            "POST",
            "/1.0/order",
            operation="orders.create",
            json=mapping.from_canonical_fulfillment_request(request),
        )
        body: Any = load_payload(response.content)
        return str(body["id"])

    def request_fulfillment(self, request: FulfillmentRequest) -> str:
        """The hub's release of an order to this ShipBob account: a ShipBob order."""
        return self.create_fulfillment_order(request)

    def iter_inventory_levels(self) -> Iterator[Any]:
        """Every page of inventory levels by fulfilment centre, each stamped with ``counted_at``.

        The first request asks for ``PageSize``; later ones send only ``Cursor`` (taken from the
        page's ``next``), which ShipBob documents as overriding every other parameter.
        ``counted_at`` is the ``Date`` header of ShipBob's response (the hub's clock only when a
        response has none), so the snapshot is dated by the vendor that took it.
        """

        def fetch(cursor: str | None) -> httpx.Response:
            params = {"Cursor": cursor} if cursor else {"PageSize": self.config.page_size}
            return self.http.request(
                "GET", INVENTORY_LEVELS, operation="inventory_levels.list", params=params
            )

        for response in paginate(fetch, JsonPathPaginator(("next",), param="Cursor")):
            page = load_payload(response.content)
            yield {**page, "counted_at": _response_time(response).isoformat()}

    @classmethod
    def poll_specs(cls) -> dict[str, PollSpec]:
        return {
            **super().poll_specs(),
            "inventory": PollSpec(
                "inventory",
                "inventory_levels",
                windowed=False,
                description="every fulfilment centre's inventory levels now, as stock counts",
            ),
        }

    def poll(self, name: str, window: TimeWindow | None) -> Iterator[Any]:
        if name == "inventory":
            return self.iter_inventory_levels()
        return super().poll(name, window)

    def poll_inventory(self, ctx: TranslationContext) -> list[Envelope]:
        """Read every inventory level now; one ``stock.counted`` per centre and page."""
        return [
            envelope
            for page in self.iter_inventory_levels()
            for envelope in self.translate("inventory_levels", page, ctx)
        ]


def _response_time(response: httpx.Response) -> datetime:
    header = response.headers.get("Date")
    if header:
        try:
            return email.utils.parsedate_to_datetime(header).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC).replace(microsecond=0)
