"""Orders as the vendors write them, for the benchmarks that drive the hub from outside.

The simulation's vendor modules render an :class:`~simulation.orders.OrderSpec` exactly as Shopify,
WooCommerce and Amazon do; this module only picks the ids and the buyer, so every benchmark sends
the same realistic payloads the demo sends, and the hub's real connectors translate them.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from simulation.catalogue import Product
from simulation.orders import Buyer, Line, OrderSpec
from simulation.scenario import WOO_STORE, Delivery
from simulation.vendors import amazon, shopify, woocommerce

__all__ = ["VENDOR", "amazon_polled", "delivery", "spec"]

#: channel slug -> the vendor whose webhook or API tells the hub about its orders
VENDOR = {"shopify_us": "shopify", "woo_us": "woocommerce", "amazon_us": "amazon"}

_BUYER = Buyer("Bench", "Buyer", "bench.buyer@example.com", "1 Load St", "Chicago", "IL", "60601")


def spec(channel: str, number: int, product: Product, quantity: int = 1) -> OrderSpec:
    """One order of ``quantity`` x ``product`` on ``channel``; ``number`` makes its ids unique."""
    if channel == "shopify_us":
        external = str(5_900_000_000_000_000_000 + number)
        line = Line(13_000_000_000_000 + number, product.sku, product.title, product.price,
                    quantity, product.shopify_product_id, product.shopify_variant_id)  # fmt: skip
    elif channel == "woo_us":
        external = str(100_000 + number)
        line = Line(number, product.sku, product.title, product.price, quantity,
                    product.woo_product_id, 0)  # fmt: skip
    else:
        external = f"113-{number // 10_000_000:07d}-{number % 10_000_000:07d}"
        line = Line(number, product.sku, product.title, product.price, quantity, 0, 0)
    return OrderSpec(channel=channel, external_id=external, number=number, placed=50_400.0,
                     lines=(line,), buyer=_BUYER, shipping=Decimal("0.00"))  # fmt: skip


def _dump(payload: Any) -> bytes:
    """Compact JSON, as the vendors send it (the signature covers exactly these bytes)."""
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def delivery(order: OrderSpec) -> Delivery:
    """The ``orders/create`` (Shopify) or ``order.created`` (WooCommerce) webhook of ``order``."""
    if order.channel == "shopify_us":
        vendor, topic, body = "shopify", "orders/create", shopify.order(order)
    elif order.channel == "woo_us":
        vendor, topic = "woocommerce", "order.created"
        body = woocommerce.order(order, store_url=WOO_STORE)
    else:
        raise ValueError(f"{order.channel} orders are polled, not delivered by webhook")
    return Delivery(at=order.placed, vendor=vendor, instance=order.channel, topic=topic,
                    body=_dump(body), delivery_id=str(uuid.uuid4()),
                    event_id=str(uuid.uuid4()), order_key=order.key)  # fmt: skip


def amazon_polled(order: OrderSpec, asins: dict[str, str]) -> bytes:
    """An Amazon order as the hub's poller stores it: the getOrders header with its items."""
    header = amazon.order_header(order)
    return _dump({**header, "OrderItems": amazon.order_items(order, asins)})
