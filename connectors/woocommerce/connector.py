"""WooCommerce storefront connector: order webhooks and REST v3 polling in, stock out.

Webhooks carry ``X-WC-Webhook-Signature``: base64 HMAC-SHA256 of the raw body, keyed with the
webhook secret after HTML-entity decoding (WooCommerce runs ``wp_specialchars_decode``). A new
webhook's first delivery is a form-encoded ping (``webhook_id=N``) with no signature;
:meth:`WooCommerceConnector.is_ping` recognises it so the ingress can answer 200 without parsing.
REST calls authenticate with the consumer key and secret over HTTPS (HTTP Basic) and page with
``page``/``per_page`` and the ``Link: rel="next"`` header.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr

from connectors.base import load_payload
from connectors.pagination import LinkHeaderPaginator, TimeWindow, paginate
from connectors.reconcile import OrderChannel
from connectors.secrets import reveal
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec
from connectors.webhooks import HmacBodyVerifier, get_header, html_entities_decoded
from connectors.woocommerce import mapping

__all__ = ["WooCommerceConfig", "WooCommerceConnector"]

ORDER_EVENTS = ("order.created", "order.updated", "order.cancelled", "payment.refunded")
_PING = re.compile(rb"^webhook_id=\d+$")


class WooCommerceConfig(ConnectorConfig):
    store_url: Annotated[str, Field(pattern=r"^https://[^/]+(/.*)?$")] = Field(
        description="The store's base URL (HTTPS), e.g. https://shop.example.com."
    )
    consumer_key: SecretStr = Field(description="REST API consumer key (ck_...).")
    consumer_secret: SecretStr = Field(description="REST API consumer secret (cs_...).")
    webhook_secrets: Annotated[list[SecretStr], Field(min_length=1, max_length=3)]
    page_size: Annotated[int, Field(ge=1, le=100)] = 100
    api_base: ApiBase | None = Field(
        default=None,
        description="Replaces store_url for REST calls (a staging site or a local simulator); "
        "the REST path /wp-json/wc/v3/ is kept.",
    )


class WooCommerceConnector(OrderChannel):
    name: ClassVar[str] = "woocommerce"
    kind: ClassVar[ConnectorKind] = ConnectorKind.STOREFRONT
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = WooCommerceConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "order.created": EventSpec("order.created", mapping.translate_order, ORDER_EVENTS),
        "order.updated": EventSpec("order.updated", mapping.translate_order, ORDER_EVENTS),
        "orders": EventSpec(
            "orders", mapping.translate_orders, ORDER_EVENTS, source="poll",
            description="A page of GET /wp-json/wc/v3/orders",
        ),
        "refunds": EventSpec(
            "refunds", mapping.translate_refunds, ("payment.refunded", "return.requested"),
            source="poll",
            description="GET orders/<id> with its GET orders/<id>/refunds (fetch_refunds)",
        ),
    }  # fmt: skip
    accepts: ClassVar[tuple[str, ...]] = ("availability.changed",)
    reconcile_event: ClassVar[str] = "order.updated"  # a polled order translates as this
    webhook_verifier = HmacBodyVerifier(
        "X-WC-Webhook-Signature", encoding="base64", key_transform=html_entities_decoded
    )
    webhook_topic_header = "X-WC-Webhook-Topic"

    config: WooCommerceConfig

    @staticmethod
    def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
        """The unsigned ``webhook_id=N`` ping WooCommerce sends when a webhook is created."""
        return get_header(headers, "X-WC-Webhook-Signature") is None and bool(
            _PING.match(body.strip())
        )

    def base_url(self) -> str:
        return (self.config.api_base or self.config.store_url).rstrip("/") + "/wp-json/wc/v3/"

    def default_headers(self) -> dict[str, str]:
        pair = f"{reveal(self.config.consumer_key)}:{reveal(self.config.consumer_secret)}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def account(self) -> str:
        return self.config.store_url

    def push_availability(
        self, sku: str, available: int, *, external_ids: Mapping[str, str]
    ) -> None:
        """Set the SKU's stock: ``PUT products/{product_id}`` or, for a variation,
        ``PUT products/{product_id}/variations/{variant_id}`` with ``manage_stock`` on.

        A variation needs both ids (WooCommerce nests variations under their parent product).
        """
        product_id = self.external_id(sku, external_ids, "product_id")
        variation_id = str(external_ids.get("variant_id") or "").strip() or None
        self.set_stock(product_id, available, variation_id=variation_id)

    def set_stock(self, product_id: str, available: int, *, variation_id: str | None = None) -> Any:
        """Set the stock of a product (or one variation of it)."""
        path = f"products/{product_id}" + (f"/variations/{variation_id}" if variation_id else "")
        response = self.http.request(
            "PUT",
            path,
            operation="products.update_stock",
            json=mapping.from_canonical_stock(available),
        )
        return load_payload(response.content)

    def fetch_refunds(self, order_id: str) -> dict[str, Any]:
        """The payload of the ``refunds`` event: the order and every one of its refunds.

        Call it when an order reports refunds (its ``refunds[]``): the refund resources carry the
        refunded lines, and the order carries what was restocked.
        """
        order = load_payload(
            self.http.request("GET", f"orders/{order_id}", operation="orders.get").content
        )

        def fetch(page: str | None) -> Any:
            params = {"per_page": self.config.page_size, "page": page or "1"}
            return self.http.request(
                "GET", f"orders/{order_id}/refunds", operation="refunds.list", params=params
            )

        refunds: list[Any] = []
        for response in paginate(fetch, LinkHeaderPaginator(param="page")):
            refunds.extend(load_payload(response.content))
        return {"order": order, "refunds": refunds}

    def iter_orders(self, window: TimeWindow) -> Iterator[Any]:
        """Orders modified in ``window``, page by page (``modified_after``/``modified_before``)."""

        def fetch(page: str | None) -> Any:
            params: dict[str, Any] = {
                "per_page": self.config.page_size,
                "page": page or "1",
                "modified_after": window.start.isoformat(),
                "modified_before": window.end.isoformat(),
                "dates_are_gmt": "true",
                "orderby": "modified",
                "order": "asc",
            }
            return self.http.request("GET", "orders", operation="orders.list", params=params)

        for response in paginate(fetch, LinkHeaderPaginator(param="page")):
            yield from load_payload(response.content)
