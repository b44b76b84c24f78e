"""Stripe API shapes: Event objects for webhooks, PaymentIntent, Charge and Refund resources.

Amounts are integers in the currency's minor unit and currency codes lower case; times are Unix
seconds. The order a payment belongs to is named in the object's ``metadata`` (``order_id`` and
``order_channel``), which is how a storefront's Stripe integration links the two.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulation.orders import at_time

__all__ = ["charge_refunded", "event", "payment_intent", "refund_object"]

API_VERSION = "2024-06-20"


def _minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _epoch(seconds: float) -> int:
    return int(at_time(seconds).timestamp())


def event(event_id: str, kind: str, obj: dict[str, Any], at: float, **data: Any) -> dict[str, Any]:
    """An ``Event`` wrapping ``obj`` (``data.object``), as the webhook endpoint receives it."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": _epoch(at),
        "data": {"object": obj, **data},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def payment_intent(
    intent_id: str, charge_id: str, amount: Decimal, order_id: str, channel: str, at: float
) -> dict[str, Any]:
    """A succeeded, automatically captured PaymentIntent."""
    minor = _minor(amount)
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": minor,
        "amount_capturable": 0,
        "amount_received": minor,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": _epoch(at) - 5,
        "currency": "usd",
        "customer": None,
        "description": f"Order {order_id}",
        "last_payment_error": None,
        "latest_charge": charge_id,
        "livemode": False,
        "metadata": {"order_id": order_id, "order_channel": channel},
        "payment_method": f"pm_{intent_id[3:]}",
        "payment_method_types": ["card"],
        "status": "succeeded",
    }


def refund_object(
    refund_id: str, intent_id: str | None, charge_id: str | None, amount_minor: int, created: int,
    *, reason: str | None = None, metadata: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A Refund resource (``POST /v1/refunds`` answers with it; charges list them)."""
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount_minor,
        "balance_transaction": f"txn_{refund_id[3:]}",
        "charge": charge_id,
        "created": created,
        "currency": "usd",
        "metadata": metadata or {},
        "payment_intent": intent_id,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def charge_refunded(
    charge_id: str, intent_id: str, amount: Decimal, refund_id: str, refund_amount: Decimal,
    order_id: str, channel: str, at: float,
) -> dict[str, Any]:  # fmt: skip
    """A Charge after a partial refund, with its refunds listed (as ``charge.refunded`` sends it)."""
    minor = _minor(refund_amount)
    return {
        "id": charge_id,
        "object": "charge",
        "amount": _minor(amount),
        "amount_captured": _minor(amount),
        "amount_refunded": minor,
        "captured": True,
        "created": _epoch(at) - 3600,
        "currency": "usd",
        "metadata": {"order_id": order_id, "order_channel": channel},
        "paid": True,
        "payment_intent": intent_id,
        "refunded": minor == _minor(amount),
        "status": "succeeded",
        "refunds": {
            "object": "list",
            "data": [
                refund_object(
                    refund_id, intent_id, charge_id, minor, _epoch(at),
                    reason="requested_by_customer",
                )
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
    }  # fmt: skip
