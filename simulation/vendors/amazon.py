"""Amazon SP-API shapes: Orders v0 (``getOrders``, ``getOrderItems``), LWA tokens, Listings.

``getOrders`` returns order headers under ``payload.Orders`` with a ``NextToken`` while more pages
remain; ``getOrderItems`` the items under ``payload.OrderItems``. ``ItemPrice`` is the price of
the whole quantity, not the unit. Amounts are ``{"CurrencyCode", "Amount"}`` with a string amount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulation.orders import OrderSpec, at_time, iso_z, money

__all__ = ["MARKETPLACE_US", "listings_patch", "order_header", "order_items", "token"]

MARKETPLACE_US = "ATVPDKIKX0DER"


def _amount(value: Decimal, currency: str = "USD") -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": money(value)}


def order_header(
    spec: OrderSpec, *, status: str = "Unshipped", updated: float | None = None
) -> Any:
    """One ``Order`` of a getOrders page (no items: those come from getOrderItems)."""
    buyer = spec.buyer
    changed = updated if updated is not None else spec.placed
    units = sum(line.quantity for line in spec.lines)
    return {
        "AmazonOrderId": spec.external_id,
        "PurchaseDate": iso_z(spec.placed_at),
        "LastUpdateDate": iso_z(at_time(changed)),
        "OrderStatus": status,
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "ShipServiceLevel": "Std US D2D Dom",
        "OrderTotal": _amount(spec.total),
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": 0 if status == "Canceled" else units,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": MARKETPLACE_US,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsReplacementOrder": False,
        "ShippingAddress": {
            "Name": f"{buyer.first_name} {buyer.last_name}",
            "AddressLine1": buyer.address1,
            "City": buyer.city,
            "StateOrRegion": buyer.state,
            "PostalCode": buyer.zip,
            "CountryCode": buyer.country,
            "AddressType": "Residential",
        },
        "BuyerInfo": {"BuyerEmail": f"{spec.external_id.replace('-', '')}@marketplace.amazon.com"},
    }


def order_items(spec: OrderSpec, asins: dict[str, str]) -> list[Any]:
    """The ``OrderItems`` of getOrderItems; the shipping price rides on the first item."""
    items = []
    for index, line in enumerate(spec.lines):
        items.append(
            {
                "ASIN": asins.get(line.sku, "B000000000"),
                "OrderItemId": str(line.line_id),
                "SellerSKU": line.sku,
                "Title": line.title,
                "QuantityOrdered": line.quantity,
                "QuantityShipped": 0,
                "ItemPrice": _amount(line.total),
                "ItemTax": _amount(Decimal(0)),
                "PromotionDiscount": _amount(Decimal(0)),
                "ShippingPrice": _amount(spec.shipping if index == 0 else Decimal(0)),
                "ShippingTax": _amount(Decimal(0)),
                "ShippingDiscount": _amount(Decimal(0)),
                "IsGift": "false",
                "ConditionId": "New",
                "ConditionSubtypeId": "New",
            }
        )
    return items


def token(counter: int) -> dict[str, Any]:
    """Login with Amazon's answer to a refresh-token grant."""
    return {
        "access_token": f"Atza|sim-access-token-{counter}",
        "refresh_token": "Atzr|sim-refresh-token",
        "token_type": "bearer",
        "expires_in": 3600,
    }


def listings_patch(sku: str, submission: int) -> dict[str, Any]:
    """The answer to ``patchListingsItem``: accepted for processing."""
    return {
        "sku": sku,
        "status": "ACCEPTED",
        "submissionId": f"sim{submission:012d}",
        "issues": [],
    }
