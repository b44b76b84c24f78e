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
* **Refund lines and restock** are not in the order: they are in the refund resources
  (``GET orders/<id>/refunds``). The ``refunds`` event is the order together with its refund list
  (``{"order": ..., "refunds": [...]}``, assembled by ``WooCommerceConnector.fetch_refunds``). Each
  refund gives the same ``payment.refunded`` as above (same key, amount from ``amount``, at
  ``date_created_gmt``) and, when it lists ``line_items``, a ``return.requested`` (key: refund id):
  one line per refunded item, naming the order line through the item's ``_refunded_item_id`` meta,
  with the refunded ``quantity`` and ``total`` (negative in the resource; before tax). A refund
  resource does not say whether stock was restocked (``api_restock`` is write-only); WooCommerce
  records it on the *order* line as ``_restock_refunded_items``, the units restocked over all its
  refunds. A line is ``restock=True`` when that covers every unit refunded on the line, ``False``
  when it is absent or 0; anything in between cannot be attributed to a refund and is refused,
  naming the field, rather than guessed.
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
    OrderRef,
    OrderTotals,
    PaymentStatus,
    ShippingLine,
    TaxLine,
)
from canonical.party import Address, Customer
from canonical.payment import PaymentEventKind
from canonical.returns import ReturnLine
from connectors.errors import TranslationError
from connectors.spec import TranslationContext
from connectors.translate import (
    Fields,
    build,
    order_envelope,
    payment_envelope,
    refund_return_envelope,
    translate_each,
)

__all__ = [
    "from_canonical_stock",
    "to_canonical_order",
    "translate_order",
    "translate_orders",
    "translate_refunds",
]

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


def translate_order(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """order.created / order.updated webhooks and GET orders/<id>: the order and its refunds."""
    order = to_canonical_order(raw, ctx)
    fields = Fields(raw)
    stamp = order.updated_at.isoformat().replace("+00:00", "Z")
    envelopes = [order_envelope(ctx, CONNECTOR, order, version=stamp)]
    for refund in fields.objs("refunds"):
        amount = refund.money("total", order.currency)
        if not amount.is_zero():
            envelopes.append(
                _refund_payment(ctx, fields, order.ref, refund, abs(amount), order.updated_at)
            )
    return envelopes


def _refund_payment(
    ctx: TranslationContext,
    order: Fields,
    ref: OrderRef,
    refund: Fields,
    amount: Money,
    occurred_at: datetime,
) -> Envelope:
    """``payment.refunded`` for one WooCommerce refund, keyed by its id wherever it is read."""
    return payment_envelope(
        ctx,
        CONNECTOR,
        refund.path,
        kind=PaymentEventKind.REFUNDED,
        source_ids=("refund", refund.id("id")),
        provider=f"woocommerce:{order.opt_str('payment_method') or 'unknown'}",
        payment_id=order.opt_str("transaction_id") or f"order-{ref.external_id}",
        transaction_id=refund.id("id"),
        order=ref,
        amount=amount,
        occurred_at=occurred_at,
        reason=refund.opt_str("reason"),
    )


def _meta(obj: Fields, key: str) -> str | None:
    """The value of a ``meta_data[]`` entry by key (WooCommerce's item meta)."""
    for entry in obj.objs("meta_data"):
        if entry.opt_str("key") == key:
            return entry.opt_str("value")
    return None


def _restocked(order: Fields, refunds: list[Fields]) -> dict[str, bool]:
    """Order line id -> whether its refunded units went back to stock (see the docstring)."""
    refunded: dict[str, int] = {}
    for refund in refunds:
        for item in refund.objs("line_items"):
            line_id = _refunded_item(item)
            refunded[line_id] = refunded.get(line_id, 0) + abs(item.int("quantity"))
    verdict: dict[str, bool] = {}
    for line in order.objs("line_items"):
        line_id = line.id("id")
        restocked = _meta(line, "_restock_refunded_items") or "0"
        if not restocked.isdigit():
            raise line.fail("meta_data", f"_restock_refunded_items {restocked!r} is not a count")
        units, total = int(restocked), refunded.get(line_id, 0)
        if 0 < units < total:
            raise line.fail(
                "meta_data",
                f"{units} of the {total} units refunded on line {line_id} were restocked; "
                "WooCommerce does not record which refund restocked them",
            )
        verdict[line_id] = units > 0
    return verdict


def _check_parent(refund: Fields, order_id: str) -> None:
    """A refund resource links its order (``_links.up``); refuse one of another order."""
    links = refund.opt_obj("_links")
    for up in links.objs("up") if links else ():
        href = up.opt_str("href") or ""
        if not href.rstrip("/").endswith(f"/orders/{order_id}"):
            raise up.fail("href", f"the refund belongs to another order than {order_id}")


def _refunded_item(item: Fields) -> str:
    line_id = _meta(item, "_refunded_item_id")
    if not line_id:
        raise item.fail("meta_data", "names no _refunded_item_id (the refunded order line)")
    return line_id


def translate_refunds(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """An order and its refund resources: payments refunded and the lines they return."""
    body = Fields(raw)
    order = body.obj("order")
    currency = order.currency("currency")
    ref = build(OrderRef, "order.id", channel=ctx.instance, external_id=order.id("id"))
    refunds = list(body.objs("refunds"))
    restock = _restocked(order, refunds)
    skus = {line.id("id"): line.opt_str("sku") for line in order.objs("line_items")}
    envelopes: list[Envelope] = []
    for refund in refunds:
        _check_parent(refund, ref.external_id)
        created = _gmt(refund, "date_created_gmt")
        amount = refund.money("amount", currency)
        if not amount.is_zero():
            envelopes.append(_refund_payment(ctx, order, ref, refund, abs(amount), created))
        lines = []
        for item in refund.objs("line_items"):
            line_id = _refunded_item(item)
            if line_id not in restock:
                raise item.fail("meta_data", f"refunds order line {line_id}, which the order lacks")
            quantity = abs(item.int("quantity"))
            if quantity == 0:
                continue  # an amount-only refund against the line returns nothing
            lines.append(
                build(
                    ReturnLine,
                    item.path,
                    line_id=line_id,
                    sku=item.opt_str("sku") or skus[line_id],
                    quantity=quantity,
                    restock=restock[line_id],
                    refund_amount=abs(item.money("total", currency)),
                    note=refund.opt_str("reason"),
                )
            )
        if lines:
            envelopes.append(
                refund_return_envelope(
                    ctx,
                    CONNECTOR,
                    refund.path,
                    refund_id=refund.id("id"),
                    order=ref,
                    lines=lines,
                    requested_at=created,
                    updated_at=created,
                )
            )
    return envelopes


def translate_orders(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A page of ``GET /wp-json/wc/v3/orders`` (a JSON array of orders)."""
    if not isinstance(raw, list):
        raise TranslationError("expected a JSON array of orders", field="(body)")
    return translate_each(((f"[{i}]", order) for i, order in enumerate(raw)), translate_order, ctx)


def from_canonical_stock(available: int) -> dict[str, Any]:
    """Body of ``PUT products/<id>`` (or a variation): the stock WooCommerce may sell."""
    return {"manage_stock": True, "stock_quantity": max(0, available)}
