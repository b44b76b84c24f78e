"""WooCommerce REST v3 orders (and order webhooks, which carry the same body) to canonical. Pure.

Field choices (WooCommerce REST API v3, ``/wp-json/wc/v3/orders``):

* **Times**: the ``*_gmt`` fields, which are UTC without an offset; the plain ``date_created`` is
  the site's local time with no zone and is never used.
* **Money** is decimal strings in the order's ``currency`` (WooCommerce core has one currency per
  order; there is no presentment currency). Line ``subtotal`` and ``total`` are *before tax* even
  when the shop enters prices with tax (``prices_include_tax``), so the canonical order always has
  ``taxes_included = False``. The unit price is ``subtotal / quantity`` (the float ``price`` field
  is never read); a subtotal that does not divide exactly is refused, naming the field.
* **Discounts** per line are ``subtotal - total`` (coupons are already allocated per line).
* **Taxes** per line are the rounded ``total_tax`` split over the line's ``taxes[]`` rates (whose
  own amounts are unrounded), titled with the label and ``rate_percent`` of the matching order
  ``tax_lines[]`` entry; older stores omit ``rate_percent`` and the rate is then recorded as 0 (the
  amount stays exact). A store that rounds tax at subtotal level can disagree with the per-line sum
  by a cent; such an order keeps the computed totals and carries WooCommerce's ``total`` as
  ``reported_totals``, which the router's totals rule holds for a person (no guessed cent).
* **Fees** (``fee_lines``) become lines without SKU that need no shipping.
* **Deleted products** have ``product_id`` 0 and an empty ``sku``: kept as lines without them.
* **Status**: ``cancelled`` -> ``order.cancelled`` (cancelled at ``date_modified_gmt``);
  ``date_paid_gmt`` set -> paid, ``refunded`` -> refunded, a refund listed -> partially refunded,
  ``failed`` -> failed, otherwise pending.
* **Refunds** listed in the order's ``refunds[]`` (``{"id", "reason", "total": "-10.00"}``) become
  ``payment.refunded`` events keyed by the refund id, so the order.updated that reports a refund is
  enough; redeliveries and later updates repeat the same keys.
* **Keys**: orders use ``(order id, date_modified_gmt)``, as Shopify does, so a webhook and a poll
  of the same version agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from canonical.envelope import Envelope
from canonical.money import Money
from canonical.order import (
    Discount,
    Order,
    OrderLine,
    OrderTotals,
    PaymentStatus,
    ShippingLine,
    TaxLine,
)
from canonical.party import Address, Customer
from canonical.payment import PaymentEvent, PaymentEventKind
from connectors.errors import TranslationError
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, envelope

__all__ = ["from_canonical_stock", "to_canonical_order", "translate_order", "translate_orders"]

CONNECTOR = "woocommerce"


def _gmt(obj: Fields, key: str) -> datetime:
    value = obj.str(key)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise obj.fail(key, f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=UTC)


def _opt_gmt(obj: Fields, key: str) -> datetime | None:
    return _gmt(obj, key) if obj.has(key) else None


def _address(obj: Fields | None) -> Address | None:
    if obj is None:
        return None
    name = " ".join(p for p in (obj.opt_str("first_name"), obj.opt_str("last_name")) if p)
    if not any(obj.opt_str(k) for k in ("address_1", "city", "postcode", "country")) and not name:
        return None
    return build(
        Address,
        obj.path,
        name=name or None,
        company=obj.opt_str("company"),
        line1=obj.opt_str("address_1"),
        line2=obj.opt_str("address_2"),
        city=obj.opt_str("city"),
        region=obj.opt_str("state"),
        postal_code=obj.opt_str("postcode"),
        country=obj.opt_str("country"),
        phone=obj.opt_str("phone"),
    )


def _optional_id(obj: Fields, key: str) -> str | None:
    """Woo uses 0 for "none" (a guest customer, a deleted product, no variation)."""
    value = obj.opt_id(key)
    return None if value in (None, "0") else value


def _taxes(obj: Fields, currency: str, rates: dict[str, tuple[str, Decimal]]) -> list[TaxLine]:
    """The line's rounded ``total_tax``, split over its ``taxes[]`` rates.

    WooCommerce keeps per-rate line taxes unrounded (``"6.156"``) and rounds the line's
    ``total_tax``; the rounded amount is what the order total adds up, so it is the one kept, split
    over the rates in proportion to their unrounded amounts (largest remainder, no cent lost).
    """
    entries = [(tax, tax.decimal("total")) for tax in obj.objs("taxes") if tax.has("total")]
    entries = [(tax, amount) for tax, amount in entries if amount != 0]
    if not entries:
        return []
    total = obj.money("total_tax", currency) if obj.has("total_tax") else None
    if total is None:
        raise obj.fail("total_tax", "is missing while taxes[] lists amounts")
    if total.is_zero():
        return []
    weights = [abs(amount) for _, amount in entries]
    found = []
    for (tax, _), share in zip(entries, total.allocate(weights), strict=True):
        title, rate = rates.get(tax.id("id"), (f"tax {tax.id('id')}", Decimal(0)))
        found.append(build(TaxLine, tax.path, title=title, rate=rate, amount=share))
    return found


def _unit_price(line: Fields, quantity: int, currency: str) -> Money:
    subtotal = line.money("subtotal", currency)
    unit = subtotal.amount / quantity
    try:
        price = Money(amount=unit, currency=currency)
    except ValueError:
        raise line.fail(
            "subtotal", f"{subtotal.amount} does not divide into {quantity} equal unit prices"
        ) from None
    if price * quantity != subtotal:
        raise line.fail("subtotal", f"{subtotal.amount} is not {quantity} x {price.amount}")
    return price


def to_canonical_order(raw: Any, ctx: TranslationContext) -> Order:
    order = Fields(raw)
    currency = order.currency("currency")
    rates: dict[str, tuple[str, Decimal]] = {}
    for tax in order.objs("tax_lines"):
        percent = tax.decimal("rate_percent") / 100 if tax.has("rate_percent") else Decimal(0)
        rates[tax.id("rate_id")] = (tax.opt_str("label") or tax.str("rate_code"), percent)

    lines: list[OrderLine] = []
    for line in order.objs("line_items"):
        quantity = line.int("quantity")
        if quantity <= 0:
            raise line.fail("quantity", f"must be positive, got {quantity}")
        subtotal = line.money("subtotal", currency)
        total = line.money("total", currency)
        discount = subtotal - total
        if discount.amount < 0:
            raise line.fail("total", f"{total.amount} is above the subtotal {subtotal.amount}")
        lines.append(
            build(
                OrderLine,
                line.path,
                line_id=line.id("id"),
                sku=line.opt_str("sku"),
                product_id=_optional_id(line, "product_id"),
                variant_id=_optional_id(line, "variation_id"),
                title=line.opt_str("name") or "(untitled)",
                quantity=quantity,
                unit_price=_unit_price(line, quantity, currency),
                discounts=[Discount(amount=discount)] if not discount.is_zero() else [],
                tax_lines=_taxes(line, currency, rates),
            )
        )
    for fee in order.objs("fee_lines"):
        lines.append(
            build(
                OrderLine,
                fee.path,
                line_id=f"fee-{fee.id('id')}",
                title=fee.opt_str("name") or "Fee",
                quantity=1,
                unit_price=fee.money("total", currency),
                tax_lines=_taxes(fee, currency, rates),
                requires_shipping=False,
            )
        )
    if not lines:
        raise TranslationError("the order has no line items", field="line_items")
    shipping_lines = [
        build(
            ShippingLine,
            shipping.path,
            code=shipping.opt_str("method_id"),
            title=shipping.opt_str("method_title") or "Shipping",
            price=shipping.money("total", currency),
            tax_lines=_taxes(shipping, currency, rates),
        )
        for shipping in order.objs("shipping_lines")
    ]
    totals = OrderTotals.compute(lines, shipping_lines, currency=currency, taxes_included=False)
    total = order.money("total", currency)
    reported_totals = totals.model_copy(update={"total": total}) if total != totals.total else None

    status = order.str("status")
    refunds = list(order.objs("refunds"))
    if status == "refunded":
        payment = PaymentStatus.REFUNDED
    elif status == "failed":
        payment = PaymentStatus.FAILED
    elif refunds:
        payment = PaymentStatus.PARTIALLY_REFUNDED
    elif order.has("date_paid_gmt"):
        payment = PaymentStatus.PAID
    elif status == "cancelled":
        payment = PaymentStatus.VOIDED
    else:
        payment = PaymentStatus.PENDING
    modified = _gmt(order, "date_modified_gmt")
    billing = order.opt_obj("billing")
    return build(
        Order,
        "",
        tenant=ctx.tenant,
        channel=ctx.instance,
        external_id=order.id("id"),
        order_number=order.opt_str("number"),
        reported_totals=reported_totals,
        customer=build(
            Customer,
            "billing",
            external_id=_optional_id(order, "customer_id"),
            email=billing.opt_str("email") if billing else None,
            name=" ".join(
                p
                for p in (
                    (billing.opt_str("first_name"), billing.opt_str("last_name")) if billing else ()
                )
                if p is not None
            )
            or None,
            phone=billing.opt_str("phone") if billing else None,
        ),
        billing_address=_address(billing),
        shipping_address=_address(order.opt_obj("shipping")),
        currency=currency,
        placed_at=_gmt(order, "date_created_gmt"),
        updated_at=modified,
        lines=lines,
        shipping_lines=shipping_lines,
        taxes_included=False,
        totals=totals,
        payment_status=payment,
        cancelled_at=modified if status == "cancelled" else None,
    )


def _event_type(order: Order) -> str:
    if order.cancelled_at is not None:
        return "order.cancelled"
    return "order.created" if order.updated_at == order.placed_at else "order.updated"


def translate_order(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """order.created / order.updated webhooks and GET orders/<id>: the order and its refunds."""
    order = to_canonical_order(raw, ctx)
    fields = Fields(raw)
    stamp = order.updated_at.isoformat().replace("+00:00", "Z")
    envelopes = [
        envelope(
            ctx,
            CONNECTOR,
            order,
            event_type=_event_type(order),
            source_ids=("order", order.external_id, stamp),
            occurred_at=order.updated_at,
            correlation_id=order.key,
        )
    ]
    for refund in fields.objs("refunds"):
        amount = refund.money("total", order.currency)
        if amount.is_zero():
            continue
        event = build(
            PaymentEvent,
            refund.path,
            tenant=ctx.tenant,
            kind=PaymentEventKind.REFUNDED,
            provider=f"woocommerce:{fields.opt_str('payment_method') or 'unknown'}",
            payment_id=fields.opt_str("transaction_id") or f"order-{order.external_id}",
            transaction_id=refund.id("id"),
            order=order.ref,
            amount=abs(amount),
            occurred_at=order.updated_at,
            reason=refund.opt_str("reason"),
        )
        envelopes.append(
            envelope(
                ctx,
                CONNECTOR,
                event,
                event_type="payment.refunded",
                source_ids=("refund", refund.id("id")),
                occurred_at=order.updated_at,
                correlation_id=order.key,
            )
        )
    return envelopes


def translate_orders(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A page of ``GET /wp-json/wc/v3/orders`` (a JSON array of orders)."""
    if not isinstance(raw, list):
        raise TranslationError("expected a JSON array of orders", field="(body)")
    envelopes: list[Envelope] = []
    for index, order in enumerate(raw):
        try:
            envelopes.extend(translate_order(order, ctx))
        except TranslationError as exc:
            raise TranslationError(exc.message, field=f"[{index}].{exc.field}") from None
    return envelopes


def from_canonical_stock(available: int) -> dict[str, Any]:
    """Body of ``PUT products/<id>`` (or a variation): the stock WooCommerce may sell."""
    return {"manage_stock": True, "stock_quantity": max(0, available)}
