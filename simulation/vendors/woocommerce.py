"""WooCommerce REST API v3 shapes: the Order (``order.*`` webhooks carry it) and Product.

Webhook bodies are "exactly the same as if requested via the REST API". Amounts are decimal
strings; the ``*_gmt`` times are UTC without an offset, the plain ones the site's local time.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from simulation.orders import OrderSpec, at_time, money

__all__ = ["order", "product"]

_SITE_OFFSET = timedelta(hours=-5)


def _gmt(seconds: float) -> str:
    return at_time(seconds).strftime("%Y-%m-%dT%H:%M:%S")


def _local(seconds: float) -> str:
    return (at_time(seconds) + _SITE_OFFSET).strftime("%Y-%m-%dT%H:%M:%S")


def order(
    spec: OrderSpec,
    *,
    status: str = "processing",
    modified: float | None = None,
    store_url: str = "https://shop.example.com",
    currency: str = "USD",
) -> dict[str, Any]:
    """An Order as ``order.created`` / ``order.updated`` deliver it."""
    buyer = spec.buyer
    paid = status in ("processing", "completed")
    changed = modified if modified is not None else spec.placed
    address = {
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "company": "",
        "address_1": buyer.address1,
        "address_2": "",
        "city": buyer.city,
        "state": buyer.state,
        "postcode": buyer.zip,
        "country": buyer.country,
    }
    return {
        "id": int(spec.external_id),
        "parent_id": 0,
        "number": str(spec.number),
        "order_key": f"wc_order_{spec.external_id}",
        "created_via": "checkout",
        "version": "9.3.3",
        "status": status,
        "currency": currency,
        "date_created": _local(spec.placed),
        "date_created_gmt": _gmt(spec.placed),
        "date_modified": _local(changed),
        "date_modified_gmt": _gmt(changed),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": money(spec.shipping),
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": money(spec.total),
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_note": "",
        "billing": {**address, "email": buyer.email, "phone": ""},
        "shipping": {**address, "phone": ""},
        "payment_method": "stripe",
        "payment_method_title": "Credit card (Stripe)",
        "transaction_id": f"pi_sim{spec.external_id}",
        "date_paid": _local(spec.placed) if paid else None,
        "date_paid_gmt": _gmt(spec.placed) if paid else None,
        "date_completed": None,
        "date_completed_gmt": None,
        "meta_data": [],
        "line_items": [
            {
                "id": line.line_id,
                "name": line.title,
                "product_id": line.product_id,
                "variation_id": 0,
                "quantity": line.quantity,
                "tax_class": "",
                "subtotal": money(line.total),
                "subtotal_tax": "0.00",
                "total": money(line.total),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
                "sku": line.sku,
                "price": float(line.unit_price),
                "parent_name": None,
            }
            for line in spec.lines
        ],
        "tax_lines": [],
        "shipping_lines": [
            {
                "id": line_id,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "instance_id": "1",
                "total": money(spec.shipping),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
            for line_id in (spec.lines[0].line_id + 100,)
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "_links": {
            "self": [{"href": f"{store_url}/wp-json/wc/v3/orders/{spec.external_id}"}],
            "collection": [{"href": f"{store_url}/wp-json/wc/v3/orders"}],
        },
    }


def product(product_id: int, sku: str, name: str, price: Decimal, stock: int | None) -> Any:
    """A Product as ``PUT /products/{id}`` answers it."""
    return {
        "id": product_id,
        "name": name,
        "slug": sku.lower(),
        "type": "simple",
        "status": "publish",
        "sku": sku,
        "price": money(price),
        "regular_price": money(price),
        "manage_stock": True,
        "stock_quantity": stock,
        "stock_status": "instock" if (stock or 0) > 0 else "outofstock",
        "backorders": "no",
    }
