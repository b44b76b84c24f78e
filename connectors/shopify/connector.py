"""Shopify storefront connector: order webhooks and polling in, inventory and fulfilments out.

Inbound: ``orders/create``, ``orders/updated``, ``orders/cancelled``, ``refunds/create`` and
``fulfillments/create`` webhooks (HMAC-SHA256 of the raw body, base64, in
``X-Shopify-Hmac-Sha256``, any of the configured secrets), and ``GET orders.json`` polling with
``page_info`` cursor pagination. Outbound: ``inventory_levels/set`` per location and fulfilment
creation. Rate limits: 429 + ``Retry-After`` and the REST leaky bucket
(``X-Shopify-Shop-Api-Call-Limit``).

Shopify gives up on a webhook after 8 failed tries in 4 hours, so :meth:`ShopifyConnector.reconcile`
polls a time window and reports what the ledger is missing; its envelopes derive the same
idempotency keys as the webhooks would have, so nothing is applied twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr

from canonical.fulfillment import Shipment
from connectors.base import load_payload
from connectors.errors import ConnectorConfigError, FatalError
from connectors.http import ShopifyCallLimit
from connectors.pagination import LinkHeaderPaginator, TimeWindow, paginate
from connectors.reconcile import OrderChannel
from connectors.secrets import reveal
from connectors.shopify import mapping
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec
from connectors.webhooks import HmacBodyVerifier

__all__ = ["ShopifyConfig", "ShopifyConnector"]

ORDER_EVENTS = ("order.created", "order.updated", "order.cancelled")


class ShopifyConfig(ConnectorConfig):
    """One Shopify store."""

    shop_domain: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")] = Field(
        description="The store's myshopify.com domain, e.g. acme.myshopify.com."
    )
    access_token: SecretStr = Field(description="Admin API access token (shpat_...).")
    webhook_secrets: Annotated[list[SecretStr], Field(min_length=1, max_length=3)] = Field(
        description="The app's client secret(s); two during a rotation."
    )
    api_version: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] = "2025-01"
    page_size: Annotated[int, Field(ge=1, le=250)] = 250
    location_id: Annotated[str, Field(pattern=r"^\d{1,20}$")] | None = Field(
        default=None,
        description="The Shopify location (numeric id) the hub's availability is pushed to; "
        "needed when the instance accepts availability.changed.",
    )
    api_base: ApiBase | None = Field(
        default=None,
        description="Replaces the https://{shop_domain} origin (a sandbox or a local simulator); "
        "the Admin API path /admin/api/{api_version}/ is kept.",
    )


class ShopifyConnector(OrderChannel):
    name: ClassVar[str] = "shopify"
    kind: ClassVar[ConnectorKind] = ConnectorKind.STOREFRONT
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = ShopifyConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "orders/create": EventSpec("orders/create", mapping.translate_order, ORDER_EVENTS),
        "orders/updated": EventSpec("orders/updated", mapping.translate_order, ORDER_EVENTS),
        "orders/cancelled": EventSpec("orders/cancelled", mapping.translate_order, ORDER_EVENTS),
        "refunds/create": EventSpec(
            "refunds/create", mapping.to_canonical_refund, ("payment.refunded", "return.requested")
        ),
        "fulfillments/create": EventSpec(
            "fulfillments/create", mapping.to_canonical_shipment, ("shipment.created",)
        ),
        "orders": EventSpec(
            "orders", mapping.translate_orders_page, ORDER_EVENTS, source="poll",
            description="A page of GET /admin/api/<version>/orders.json",
        ),
    }  # fmt: skip
    accepts: ClassVar[tuple[str, ...]] = ("availability.changed", "shipment.created")
    reconcile_event: ClassVar[str] = "orders/updated"  # a polled order translates as this
    webhook_verifier = HmacBodyVerifier("X-Shopify-Hmac-Sha256", encoding="base64")
    webhook_topic_header = "X-Shopify-Topic"

    config: ShopifyConfig
    #: variant id -> inventory item id, read once per connector instance
    _inventory_items: dict[str, str] | None = None

    def base_url(self) -> str:
        origin = self.config.api_base or f"https://{self.config.shop_domain}"
        return f"{origin}/admin/api/{self.config.api_version}/"

    def default_headers(self) -> dict[str, str]:
        return {
            "X-Shopify-Access-Token": reveal(self.config.access_token),
            "Accept": "application/json",
        }

    def rate_limit_policy(self) -> ShopifyCallLimit:
        return ShopifyCallLimit()

    def account(self) -> str:
        return self.config.shop_domain

    # -- outbound ---------------------------------------------------------------------------------

    def set_inventory_level(self, inventory_item_id: str, location_id: str, available: int) -> Any:
        """Set the available quantity of one inventory item at one location."""
        body = mapping.from_canonical_inventory_level(inventory_item_id, location_id, available)
        response = self.http.request(
            "POST", "inventory_levels/set.json", operation="inventory_levels.set", json=body
        )
        return load_payload(response.content)["inventory_level"]

    def push_availability(
        self, sku: str, available: int, *, external_ids: Mapping[str, str]
    ) -> None:
        """Set the SKU's available quantity at the configured location (``inventory_levels/set``).

        Needs the variant's ``inventory_item_id``; with only a ``variant_id`` in the catalogue, the
        inventory item is read once from ``GET variants/{id}.json`` and remembered. Ids may be
        given as REST numbers or as GraphQL ids (``gid://shopify/InventoryItem/123``).
        """
        if self.config.location_id is None:
            raise ConnectorConfigError(
                f"push_availability needs location_id in the shopify configuration of "
                f"{self.config.shop_domain} (the Shopify location the hub's stock is pushed to)",
                connector=self.name,
                operation="push_availability",
            )
        if external_ids.get("inventory_item_id"):
            item = _numeric(sku, "inventory_item_id", external_ids)
        else:
            self.external_id(sku, external_ids, "inventory_item_id", "variant_id")
            item = self._inventory_item_of(_numeric(sku, "variant_id", external_ids))
        self.set_inventory_level(item, self.config.location_id, max(0, available))

    def _inventory_item_of(self, variant_id: str) -> str:
        if self._inventory_items is None:
            self._inventory_items = {}
        if variant_id not in self._inventory_items:
            response = self.http.request(
                "GET", f"variants/{variant_id}.json", operation="variants.get"
            )
            variant = load_payload(response.content).get("variant") or {}
            if not variant.get("inventory_item_id"):
                raise FatalError(
                    f"variant {variant_id} has no inventory_item_id (is inventory tracked?)",
                    connector=self.name,
                    operation="variants.get",
                )
            self._inventory_items[variant_id] = str(variant["inventory_item_id"])
        return self._inventory_items[variant_id]

    def create_fulfillment(
        self, shipment: Shipment, fulfillment_order_lines: dict[str, tuple[str, str]]
    ) -> str:
        """Create a fulfilment for a canonical shipment; returns Shopify's fulfilment id."""
        body = mapping.from_canonical_fulfillment(shipment, fulfillment_order_lines)
        response = self.http.request(
            "POST", "fulfillments.json", operation="fulfillments.create", json=body
        )
        return str(load_payload(response.content)["fulfillment"]["id"])

    def iter_orders(self, window: TimeWindow, *, page_info: str | None = None) -> Iterator[Any]:
        """Every order updated in ``window`` (raw Shopify JSON), following ``page_info`` links.

        Shopify allows only ``limit`` and ``page_info`` on pages after the first.
        """
        paginator = LinkHeaderPaginator(page_info)

        def fetch(token: str | None) -> Any:
            params: dict[str, Any] = {"limit": self.config.page_size}
            if token is None:
                params |= {
                    "status": "any",
                    "updated_at_min": window.start.isoformat(),
                    "updated_at_max": window.end.isoformat(),
                    "order": "updated_at asc",
                }
            else:
                params["page_info"] = token
            return self.http.request("GET", "orders.json", operation="orders.list", params=params)

        for response in paginate(fetch, paginator):
            yield from load_payload(response.content).get("orders", [])


def _numeric(sku: str, kind: str, external_ids: Mapping[str, str]) -> str:
    """A Shopify id as REST wants it: the number itself, also out of a GraphQL ``gid://`` id."""
    value = str(external_ids[kind]).strip()
    number = value.rsplit("/", 1)[-1] if value.startswith("gid://shopify/") else value
    if not number.isdigit():
        raise FatalError(
            f"SKU {sku!r} has {kind} {value!r} in the catalogue, which is not a Shopify id",
            connector="shopify",
            operation="push_availability",
        )
    return number
