"""Stripe events to canonical payment events, and canonical refunds to Stripe requests. Pure.

Stripe sends amounts as integers in the currency's minor unit (``2000`` = 20.00 USD, ``500`` = 500
JPY) and currency codes in lower case; both are converted with :meth:`Money.from_minor_units` and
upper-casing. A payload is accepted as a Stripe ``Event`` (``{"object": "event", "data": {"object":
...}}``) or as the bare object.

Idempotency source ids are the Stripe *object* and the fact, not the event id, so that a webhook,
its redeliveries and a later poll of the same object agree:

* ``payment_intent.succeeded`` -> ``payment.captured``: ``(payment_intent, id, succeeded)`` (an
  intent succeeds once);
* ``payment_intent.payment_failed`` -> ``payment.failed``: ``(payment_intent, id, failed, charge)``
  (each failed attempt has its own charge; a retry after a failure is a new fact);
* ``charge.refunded`` -> one ``payment.refunded`` per refund: ``(refund, re_...)``. A later
  partial refund's event lists earlier refunds too; their keys repeat, so they are deduplicated.
  Without a refund list (API versions from 2022-11-15 do not expand ``refunds``), the increment is
  ``amount_refunded - previous_attributes.amount_refunded``; with neither, the payload is refused
  rather than guessing which part of the cumulative ``amount_refunded`` is new;
* ``charge.dispute.created`` -> ``payment.disputed``: ``(dispute, dp_..., created)``.

The order is named by the object's ``metadata``: ``order_id`` and optionally ``order_channel``
(defaulting to the connector instance).
"""

from __future__ import annotations

from typing import Any

from canonical.envelope import Envelope
from canonical.money import Money
from canonical.order import OrderRef
from canonical.payment import PaymentEventKind
from connectors.errors import TranslationError
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, payment_envelope

__all__ = [
    "from_canonical_refund",
    "to_canonical_charge_refunded",
    "to_canonical_dispute",
    "to_canonical_payment_failed",
    "to_canonical_payment_succeeded",
]

CONNECTOR = "stripe"
PROVIDER = "stripe"


def _object(raw: Any, expected: str, event_type: str) -> tuple[Fields, Fields | None]:
    """(the Stripe object, the event around it or None) after checking both are what we expect."""
    top = Fields(raw)
    event = None
    if top.opt_str("object") == "event":
        event = top
        kind = top.str("type")
        if kind != event_type:
            raise top.fail("type", f"is {kind!r}, expected {event_type!r}")
        obj = top.obj("data").obj("object")
    else:
        obj = top
    kind = obj.str("object")
    if kind != expected:
        raise obj.fail("object", f"is {kind!r}, expected a {expected}")
    return obj, event


def _order_ref(obj: Fields, ctx: TranslationContext) -> OrderRef | None:
    metadata = obj.opt_obj("metadata")
    if metadata is None or not metadata.has("order_id"):
        return None
    return build(
        OrderRef,
        metadata.path,
        channel=metadata.opt_str("order_channel") or ctx.instance,
        external_id=metadata.str("order_id"),
    )


def _occurred(obj: Fields, event: Fields | None) -> Any:
    return event.epoch("created") if event is not None else obj.epoch("created")


def to_canonical_payment_succeeded(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    pi, event = _object(raw, "payment_intent", "payment_intent.succeeded")
    currency = pi.currency("currency")
    return [
        payment_envelope(
            ctx,
            CONNECTOR,
            pi.path,
            kind=PaymentEventKind.CAPTURED,
            source_ids=("payment_intent", pi.id("id"), "succeeded"),
            provider=PROVIDER,
            payment_id=pi.id("id"),
            transaction_id=pi.opt_id("latest_charge"),
            order=_order_ref(pi, ctx),
            amount=pi.minor_units("amount_received", currency),
            occurred_at=_occurred(pi, event),
        )
    ]


def _failed_charge(pi: Fields) -> str:
    error = pi.opt_obj("last_payment_error")
    if error is not None and error.has("charge"):
        return error.id("charge")
    if pi.has("latest_charge"):
        return pi.id("latest_charge")
    charges = pi.opt_obj("charges")
    if charges is not None:
        listed = list(charges.objs("data"))
        if listed:
            return listed[-1].id("id")
    if error is not None and error.has("payment_method"):
        method = error.raw("payment_method")
        return str(method.get("id")) if isinstance(method, dict) else str(method)
    raise pi.fail("last_payment_error", "names no charge or payment method for the attempt")


def to_canonical_payment_failed(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    pi, event = _object(raw, "payment_intent", "payment_intent.payment_failed")
    currency = pi.currency("currency")
    error = pi.opt_obj("last_payment_error")
    charge = _failed_charge(pi)
    return [
        payment_envelope(
            ctx,
            CONNECTOR,
            pi.path,
            kind=PaymentEventKind.FAILED,
            source_ids=("payment_intent", pi.id("id"), "failed", charge),
            provider=PROVIDER,
            payment_id=pi.id("id"),
            transaction_id=charge,
            order=_order_ref(pi, ctx),
            amount=pi.minor_units("amount", currency),
            occurred_at=_occurred(pi, event),
            failure_code=(error.opt_str("decline_code") or error.opt_str("code"))
            if error
            else None,
            reason=error.opt_str("message") if error else None,
        )
    ]


def to_canonical_charge_refunded(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    charge, event = _object(raw, "charge", "charge.refunded")
    currency = charge.currency("currency")
    charge_id = charge.id("id")
    payment_id = charge.opt_id("payment_intent") or charge_id
    order = _order_ref(charge, ctx)
    envelopes: list[Envelope] = []
    refunds = charge.opt_obj("refunds")
    if refunds is not None and refunds.has("data") and list(refunds.objs("data")):
        for refund in refunds.objs("data"):
            if refund.opt_str("status") not in (None, "succeeded", "pending"):
                continue  # failed or canceled refunds returned no money
            refund_currency = refund.currency("currency") if refund.has("currency") else currency
            envelopes.append(
                payment_envelope(
                    ctx,
                    CONNECTOR,
                    refund.path,
                    kind=PaymentEventKind.REFUNDED,
                    source_ids=("refund", refund.id("id")),
                    provider=PROVIDER,
                    payment_id=payment_id,
                    transaction_id=refund.id("id"),
                    order=order,
                    amount=refund.minor_units("amount", refund_currency),
                    occurred_at=refund.epoch("created"),
                    reason=refund.opt_str("reason"),
                )
            )
        return envelopes
    previous = None
    if event is not None:
        data = event.obj("data")
        previous = data.opt_obj("previous_attributes")
    if previous is None or not previous.has("amount_refunded"):
        raise charge.fail(
            "refunds",
            "lists no refunds and the event has no previous_attributes.amount_refunded, so the "
            "new refund's amount cannot be told from the cumulative amount_refunded",
        )
    total = charge.minor_units("amount_refunded", currency)
    before = previous.minor_units("amount_refunded", currency)
    increment = total - before
    if increment.amount <= 0:
        raise charge.fail("amount_refunded", f"did not grow (from {before} to {total})")
    return [
        payment_envelope(
            ctx,
            CONNECTOR,
            charge.path,
            kind=PaymentEventKind.REFUNDED,
            source_ids=("charge", charge_id, "refunded_to", str(total.minor_units)),
            provider=PROVIDER,
            payment_id=payment_id,
            transaction_id=None,
            order=order,
            amount=increment,
            occurred_at=_occurred(charge, event),
        )
    ]


def to_canonical_dispute(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    dispute, _event = _object(raw, "dispute", "charge.dispute.created")
    currency = dispute.currency("currency")
    return [
        payment_envelope(
            ctx,
            CONNECTOR,
            dispute.path,
            kind=PaymentEventKind.DISPUTED,
            source_ids=("dispute", dispute.id("id"), "created"),
            provider=PROVIDER,
            payment_id=dispute.opt_id("payment_intent") or dispute.id("charge"),
            transaction_id=dispute.id("id"),
            order=_order_ref(dispute, ctx),
            amount=dispute.minor_units("amount", currency),
            occurred_at=dispute.epoch("created"),
            reason=dispute.opt_str("reason"),
        )
    ]


def from_canonical_refund(
    payment_id: str, amount: Money, *, reason: str | None = None
) -> dict[str, str]:
    """Form body of ``POST /v1/refunds`` for ``amount`` of a payment intent (or charge)."""
    if amount.amount <= 0:
        raise TranslationError("a refund must be positive", field="amount")
    body = {"amount": str(amount.minor_units)}
    body["payment_intent" if payment_id.startswith("pi_") else "charge"] = payment_id
    if reason in ("duplicate", "fraudulent", "requested_by_customer"):
        body["reason"] = reason
    return body
