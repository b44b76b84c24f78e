"""Shopify Admin REST shapes: the Order resource (``orders/*`` webhooks), refunds, inventory.

Shopify's webhook body is "the full REST resource payload for the topic": amounts are decimal
strings, each also given as a ``*_set`` with ``shop_money`` and ``presentment_money``; ids are
integers (above 2^53 for variants and inventory items); times carry the shop's UTC offset.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

from simulation.orders import OrderSpec, at_time, money

__all__ = ["inventory_level", "order", "refund", "variant"]

_SHOP_ZONE = timezone(timedelta(hours=-5))  # the simulated shop is in New York


def _time(seconds: float) -> str:
    """Shopify writes times in the shop's zone with its offset (never ``Z``)."""
    return at_time(seconds).astimezone(_SHOP_ZONE).isoformat()


def _set(amount: Decimal, currency: str) -> dict[str, Any]:
    value = {"amount": money(amount), "currency_code": currency}
    return {"shop_money": value, "presentment_money": dict(value)}


def order(
    spec: OrderSpec,
    *,
    updated: float | None = None,
    cancelled: float | None = None,
    financial_status: str = "paid",
    currency: str = "USD",
) -> dict[str, Any]:
    """An Order resource as ``orders/create``, ``orders/updated`` or ``orders/cancelled`` send it."""
    buyer = spec.buyer
    address = {
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "name": f"{buyer.first_name} {buyer.last_name}",
        "address1": buyer.address1,
        "address2": None,
        "city": buyer.city,
        "province_code": buyer.state,
        "zip": buyer.zip,
        "country_code": buyer.country,
        "company": None,
        "phone": None,
    }
    line_items: list[dict[str, Any]] = [
        {
            "id": line.line_id,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{line.line_id}",
            "product_id": line.product_id,
            "variant_id": line.variant_id,
            "sku": line.sku,
            "title": line.title,
            "name": line.title,
            "quantity": line.quantity,
            "current_quantity": 0 if cancelled is not None else line.quantity,
            "price": money(line.unit_price),
            "price_set": _set(line.unit_price, currency),
            "total_discount": "0.00",
            "discount_allocations": [],
            "tax_lines": [],
            "requires_shipping": True,
            "taxable": True,
            "fulfillment_status": None,
            "gift_card": False,
        }
        for line in spec.lines
    ]
    stamp = _time(updated if updated is not None else spec.placed)
    total = spec.total
    return {
        "id": int(spec.external_id),
        "admin_graphql_api_id": f"gid://shopify/Order/{spec.external_id}",
        "name": f"#{spec.number}",
        "order_number": spec.number,
        "number": spec.number - 1000,
        "email": buyer.email,
        "contact_email": buyer.email,
        "created_at": _time(spec.placed),
        "updated_at": stamp,
        "processed_at": _time(spec.placed),
        "cancelled_at": _time(cancelled) if cancelled is not None else None,
        "cancel_reason": "customer" if cancelled is not None else None,
        "closed_at": None,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": financial_status,
        "fulfillment_status": None,
        "test": False,
        "taxes_included": False,
        "tax_exempt": False,
        "subtotal_price": money(spec.items_total),
        "subtotal_price_set": _set(spec.items_total, currency),
        "total_line_items_price": money(spec.items_total),
        "total_line_items_price_set": _set(spec.items_total, currency),
        "total_discounts": "0.00",
        "total_discounts_set": _set(Decimal(0), currency),
        "total_shipping_price_set": _set(spec.shipping, currency),
        "total_tax": "0.00",
        "total_tax_set": _set(Decimal(0), currency),
        "total_price": money(total),
        "total_price_set": _set(total, currency),
        "total_tip_received": "0.00",
        "total_outstanding": "0.00" if financial_status == "paid" else money(total),
        "discount_codes": [],
        "tax_lines": [],
        "customer": {
            "id": int(spec.external_id) % 10_000_000_000 + 6_000_000_000_000,
            "email": buyer.email,
            "first_name": buyer.first_name,
            "last_name": buyer.last_name,
            "phone": None,
        },
        "billing_address": address,
        "shipping_address": dict(address),
        "line_items": line_items,
        "shipping_lines": [
            {
                "id": int(spec.external_id) % 1_000_000_000 + 4_000_000_000,
                "code": "Standard",
                "title": "Standard shipping",
                "price": money(spec.shipping),
                "price_set": _set(spec.shipping, currency),
                "discount_allocations": [],
                "tax_lines": [],
            }
        ],
        "refunds": [],
        "fulfillments": [],
    }


def refund(
    spec: OrderSpec, refund_id: int, at: float, location_id: int, *, currency: str = "USD"
) -> dict[str, Any]:
    """A ``refunds/create`` body: every line returned and restocked (``restock_type: return``).

    The money goes back through the payment provider, which reports it itself, so the refund's
    ``transactions`` are empty here, as they are for a refund whose gateway is external.
    """
    stamp = _time(at)
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": int(spec.external_id),
        "created_at": stamp,
        "processed_at": stamp,
        "note": "Customer returned the goods",
        "restock": True,
        "user_id": None,
        "refund_line_items": [
            {
                "id": refund_id + index + 1,
                "line_item_id": line.line_id,
                "location_id": location_id,
                "quantity": line.quantity,
                "restock_type": "return",
                "subtotal": money(line.total),
                "subtotal_set": _set(line.total, currency),
                "total_tax": "0.00",
                "total_tax_set": _set(Decimal(0), currency),
                "line_item": {
                    "id": line.line_id,
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity,
                    "price": money(line.unit_price),
                },
            }
            for index, line in enumerate(spec.lines)
        ],
        "transactions": [],
        "order_adjustments": [],
    }


def inventory_level(inventory_item_id: int, location_id: int, available: int, stamp: str) -> Any:
    """The answer to ``POST inventory_levels/set.json``."""
    return {
        "inventory_level": {
            "inventory_item_id": inventory_item_id,
            "location_id": location_id,
            "available": available,
            "updated_at": stamp,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location_id}"
            f"?inventory_item_id={inventory_item_id}",
        }
    }


def variant(variant_id: int, inventory_item_id: int, sku: str, price: Decimal) -> Any:
    """The answer to ``GET variants/{id}.json``: the inventory item is what stock is set on."""
    return {
        "variant": {
            "id": variant_id,
            "sku": sku,
            "price": money(price),
            "inventory_item_id": inventory_item_id,
            "inventory_management": "shopify",
            "inventory_policy": "deny",
            "requires_shipping": True,
        }
    }
