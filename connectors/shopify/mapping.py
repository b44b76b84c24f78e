"""Shopify REST/webhook payloads to canonical envelopes and back: pure functions, no I/O.

Field choices (Shopify Admin REST API, Order/Refund/Fulfillment resources):

* **Money** arrives as decimal strings. Every amount is read from the ``*_set.shop_money`` variant
  when present (the shop's booking currency, ``currency``), falling back to the plain field, which
  Shopify also gives in shop currency. What the buyer saw (``presentment_currency``) is kept as
  :class:`~canonical.order.Presentment` from ``total_price_set.presentment_money``.
* **Original, not current.** The snapshot uses ``quantity``/``price``/``total_price``, not the
  ``current_*`` fields: ``current_*`` already subtract refunds and removals, and refunds reach the
  hub separately (``refunds/create``), so using them would count a refund twice.
* **Discounts** come from each line's ``discount_allocations`` (and each shipping line's). Old
  payloads and some apps report an order-level ``total_discounts`` with no allocations; the
  unallocated remainder is spread over the lines with :meth:`Money.allocate` (largest remainder),
  which is how the canonical model wants order-level discounts. Same for order-level ``tax_lines``
  that no line carries.
* **Totals** are computed with :meth:`OrderTotals.compute` and checked against Shopify's
  ``total_line_items_price`` and ``total_price`` (less tips, which the canonical order does not
  model); when Shopify's figures disagree with its own lines, the order keeps the computed totals and
  carries Shopify's as ``reported_totals``, which the router's totals rule holds for a person.
* **Ids** are kept exactly as strings (``json`` keeps big integers exact; no float ever touches
  them).
* **Event type** is derived from the snapshot, not the topic: cancelled -> ``order.cancelled``,
  ``updated_at == created_at`` -> ``order.created``, else ``order.updated``. With source ids
  ``(order id, updated_at in UTC)``, a webhook, its redeliveries and the reconciliation poll of the
  same version derive the same idempotency key, and a later version a new one.
* **Refunds** (``refunds/create``) become one ``payment.refunded`` per successful refund
  transaction (key: the transaction id) and, when lines are refunded, one ``return.requested``
  whose lines carry ``restock`` from ``restock_type`` (``no_restock`` -> False) (key: refund id).
* **Fulfilments** (``fulfillments/create``) become ``shipment.created`` (key: fulfilment id and
  ``updated_at``), one package per tracking number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from canonical.envelope import Envelope
from canonical.fulfillment import Package, Shipment, ShipmentLine
from canonical.money import Money
from canonical.order import (
    Discount,
    Order,
    OrderLine,
    OrderRef,
    OrderTotals,
    PaymentStatus,
    Presentment,
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
    envelope,
    order_envelope,
    order_event_type,
    payment_envelope,
    refund_return_envelope,
    translate_each,
    unwrap,
)

__all__ = [
    "FINANCIAL_STATUS",
    "from_canonical_fulfillment",
    "from_canonical_inventory_level",
    "order_event_type",
    "order_source_ids",
    "to_canonical_order",
    "to_canonical_refund",
    "to_canonical_shipment",
    "translate_order",
    "translate_orders_page",
]

CONNECTOR = "shopify"

FINANCIAL_STATUS = {
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.AUTHORIZED,
    "partially_paid": PaymentStatus.PARTIALLY_PAID,
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
    "voided": PaymentStatus.VOIDED,
    "expired": PaymentStatus.VOIDED,
}

#: refund_line_items[].restock_type values that put the goods back into stock.
RESTOCKING = {"return", "cancel", "legacy_restock"}


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def location_slug(ctx: TranslationContext, vendor_id: str | None) -> str | None:
    """The hub location of a Shopify location id (mapped in config, else ``shopify_<id>``)."""
    if vendor_id is None:
        return None
    return ctx.locations.get(vendor_id, f"{CONNECTOR}_{vendor_id}")


def _shop_money(obj: Fields, key: str, currency: str) -> Money:
    """``<key>_set.shop_money.amount`` when present, else the plain ``<key>`` string."""
    money_set = obj.opt_obj(f"{key}_set")
    if money_set is not None and money_set.has("shop_money"):
        shop = money_set.obj("shop_money")
        code = shop.opt_str("currency_code")
        if code is not None and code != currency:
            raise shop.fail("currency_code", f"is {code}, but the shop currency is {currency}")
        return shop.money("amount", currency)
    return obj.money(key, currency)


def _opt_shop_money(obj: Fields, key: str, currency: str) -> Money | None:
    if obj.has(f"{key}_set") or obj.has(key):
        return _shop_money(obj, key, currency)
    return None


def _tax_lines(obj: Fields, currency: str) -> list[TaxLine]:
    lines = []
    for tax in obj.objs("tax_lines"):
        amount = _shop_money(tax, "price", currency)
        lines.append(
            build(
                TaxLine,
                tax.path,
                title=tax.str("title"),
                rate=tax.decimal("rate") if tax.has("rate") else Decimal(0),
                amount=amount,
            )
        )
    return lines


def _discounts(obj: Fields, currency: str) -> list[Discount]:
    found = []
    for allocation in obj.objs("discount_allocations"):
        amount = _shop_money(allocation, "amount", currency)
        if not amount.is_zero():
            found.append(Discount(amount=amount))
    return found


def _sku(line: Fields) -> str | None:
    """The line's SKU; None when blank (custom items, deleted products)."""
    value = line.data.get("sku")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return line.str("sku").strip()


def _address(obj: Fields | None) -> Address | None:
    if obj is None:
        return None
    name = obj.opt_str("name") or " ".join(
        part for part in (obj.opt_str("first_name"), obj.opt_str("last_name")) if part is not None
    )
    return build(
        Address,
        obj.path,
        name=name or None,
        company=obj.opt_str("company"),
        line1=obj.opt_str("address1"),
        line2=obj.opt_str("address2"),
        city=obj.opt_str("city"),
        region=obj.opt_str("province_code"),
        postal_code=obj.opt_str("zip"),
        country=obj.opt_str("country_code"),
        phone=obj.opt_str("phone"),
    )


def _customer(order: Fields) -> Customer | None:
    customer = order.opt_obj("customer")
    email = order.opt_str("email") or (customer.opt_str("email") if customer else None)
    if customer is None and email is None:
        return None
    name = None
    if customer is not None:
        name = " ".join(
            p
            for p in (customer.opt_str("first_name"), customer.opt_str("last_name"))
            if p is not None
        )
    return build(
        Customer,
        customer.path if customer else "email",
        external_id=customer.opt_id("id") if customer else None,
        email=email,
        name=name or None,
        phone=customer.opt_str("phone") if customer else None,
    )


def _spread(
    lines: list[dict[str, Any]], key: str, extra: list[Any], currency: str, field: str
) -> None:
    """Spread an unallocated order-level amount over the lines, proportional to net value."""
    if not lines:
        raise TranslationError("an order-level amount needs at least one line", field=field)
    weights = [
        max(Decimal(0), (line["unit_price"] * line["quantity"]).amount
            - sum((d.amount.amount for d in line["discounts"]), Decimal(0)))
        for line in lines
    ]  # fmt: skip
    if sum(weights) == 0:
        weights = [Decimal(1)] * len(lines)
    for item in extra:
        amount: Money = item[0]
        for line, share in zip(lines, amount.allocate(weights), strict=True):
            if not share.is_zero():
                line[key].append(item[1](share))


def to_canonical_order(raw: Any, ctx: TranslationContext) -> Order:
    """A Shopify order (webhook body, REST resource, with or without ``{"order": ...}``)."""
    order = Fields(unwrap(raw, "order"))
    currency = order.currency("currency")
    lines: list[dict[str, Any]] = []
    for line in order.objs("line_items"):
        quantity = line.int("quantity")
        if quantity <= 0:
            continue  # fully removed by an order edit: nothing was bought on this line
        lines.append(
            {
                "line_id": line.id("id"),
                "sku": _sku(line),
                "product_id": line.opt_id("product_id"),
                "variant_id": line.opt_id("variant_id"),
                "title": line.opt_str("title") or line.opt_str("name") or "(untitled)",
                "quantity": quantity,
                "unit_price": _shop_money(line, "price", currency),
                "discounts": _discounts(line, currency),
                "tax_lines": _tax_lines(line, currency),
                "requires_shipping": line.bool("requires_shipping", True),
                "_path": line.path,
            }
        )
    if not lines:
        raise TranslationError("the order has no line items", field="line_items")
    shipping_lines = []
    for shipping in order.objs("shipping_lines"):
        shipping_lines.append(
            build(
                ShippingLine,
                shipping.path,
                code=shipping.opt_str("code"),
                title=shipping.opt_str("title") or "Shipping",
                price=_shop_money(shipping, "price", currency),
                discounts=_discounts(shipping, currency),
                tax_lines=_tax_lines(shipping, currency),
            )
        )

    # order-level discounts and taxes that no line carries: spread them over the lines
    allocated_discounts = Money.sum(
        [d.amount for line in lines for d in line["discounts"]]
        + [d.amount for s in shipping_lines for d in s.discounts],
        currency,
    )
    total_discounts = _opt_shop_money(order, "total_discounts", currency) or allocated_discounts
    unallocated = total_discounts - allocated_discounts
    if unallocated.amount < 0:
        raise order.fail(
            "total_discounts",
            f"is {total_discounts.amount}, less than the {allocated_discounts.amount} "
            "allocated to lines",
        )
    if not unallocated.is_zero():
        _spread(
            lines,
            "discounts",
            [(unallocated, lambda m: Discount(amount=m, title="order discount"))],
            currency,
            "total_discounts",
        )
    line_tax = Money.sum(
        [t.amount for line in lines for t in line["tax_lines"]]
        + [t.amount for s in shipping_lines for t in s.tax_lines],
        currency,
    )
    if line_tax.is_zero():
        order_taxes = _tax_lines(order, currency)
        _spread(
            lines,
            "tax_lines",
            [
                (t.amount, lambda m, t=t: TaxLine(title=t.title, rate=t.rate, amount=m))
                for t in order_taxes
                if not t.amount.is_zero()
            ],
            currency,
            "tax_lines",
        )

    order_lines = [build(OrderLine, line.pop("_path"), **line) for line in lines]
    taxes_included = order.bool("taxes_included")
    totals = OrderTotals.compute(
        order_lines, shipping_lines, currency=currency, taxes_included=taxes_included
    )
    # Shopify's own figures are checked against its lines, not trusted over them: when they
    # disagree (it happens, even in Shopify's documentation samples), the order keeps the totals
    # its lines imply and carries Shopify's figures as reported_totals, which the router's
    # totals rule holds for a person. Nothing is refused, nothing is silently booked.
    line_items_price = _opt_shop_money(order, "total_line_items_price", currency)
    total_price = _opt_shop_money(order, "total_price", currency)
    tips = _opt_shop_money(order, "total_tip_received", currency) or Money.zero(currency)
    reported = totals.model_copy(
        update={
            "items_subtotal": line_items_price or totals.items_subtotal,
            "total": (total_price - tips) if total_price is not None else totals.total,
        }
    )
    reported_totals = reported if reported != totals else None

    presentment = None
    presentment_code = order.opt_str("presentment_currency")
    if presentment_code and presentment_code != currency:
        price_set = order.obj("total_price_set")
        shown = price_set.obj("presentment_money")
        presentment_currency = shown.currency("currency_code")
        presentment = Presentment(
            currency=presentment_currency, total=shown.money("amount", presentment_currency)
        )

    status_word = order.opt_str("financial_status") or "pending"
    if status_word not in FINANCIAL_STATUS:
        raise order.fail("financial_status", f"unknown financial status {status_word!r}")
    return build(
        Order,
        "",
        tenant=ctx.tenant,
        channel=ctx.instance,
        external_id=order.id("id"),
        order_number=order.opt_str("name"),
        customer=_customer(order),
        billing_address=_address(order.opt_obj("billing_address")),
        shipping_address=_address(order.opt_obj("shipping_address")),
        currency=currency,
        reported_totals=reported_totals,
        presentment=presentment,
        placed_at=order.time("created_at"),
        updated_at=order.time("updated_at"),
        lines=order_lines,
        shipping_lines=shipping_lines,
        taxes_included=taxes_included,
        totals=totals,
        payment_status=FINANCIAL_STATUS[status_word],
        cancelled_at=order.opt_time("cancelled_at"),
        cancel_reason=order.opt_str("cancel_reason"),
        is_test=order.bool("test"),
    )


def order_source_ids(order: Order) -> tuple[str, ...]:
    """``(order id, updated_at in UTC)``: the same version always derives the same key."""
    return ("order", order.external_id, _utc(order.updated_at))


def translate_order(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """orders/create, orders/updated, orders/cancelled and polled orders."""
    order = to_canonical_order(raw, ctx)
    return [order_envelope(ctx, CONNECTOR, order, version=_utc(order.updated_at))]


def translate_orders_page(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A page of ``GET /orders.json`` (``{"orders": [...]}``): one envelope per order."""
    orders = Fields(raw).objs("orders")
    return translate_each(((order.path, order.data) for order in orders), translate_order, ctx)


def to_canonical_refund(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """refunds/create: payment.refunded per successful refund transaction, plus the returned lines."""
    refund = Fields(unwrap(raw, "refund"))
    refund_id = refund.id("id")
    ref = OrderRef(channel=ctx.instance, external_id=refund.id("order_id"))
    created = refund.time("created_at")
    processed = refund.opt_time("processed_at") or created
    envelopes: list[Envelope] = []

    line_currency: str | None = None
    return_lines = []
    location: str | None = None
    for item in refund.objs("refund_line_items"):
        line_item = item.opt_obj("line_item")
        subtotal_set = item.opt_obj("subtotal_set")
        refund_amount = None
        if subtotal_set is not None:
            shop = subtotal_set.obj("shop_money")
            code = shop.currency("currency_code")
            refund_amount = shop.money("amount", code)
            presentment = subtotal_set.opt_obj("presentment_money")
            line_currency = presentment.currency("currency_code") if presentment else code
        restock_type = item.opt_str("restock_type") or "no_restock"
        location = location or location_slug(ctx, item.opt_id("location_id"))
        return_lines.append(
            build(
                ReturnLine,
                item.path,
                line_id=item.id("line_item_id"),
                sku=_sku(line_item) if line_item else None,
                quantity=item.int("quantity"),
                restock=restock_type in RESTOCKING,
                refund_amount=refund_amount,
                note=refund.opt_str("note"),
            )
        )
    if return_lines:
        envelopes.append(
            refund_return_envelope(
                ctx,
                CONNECTOR,
                "refund_line_items",
                refund_id=refund_id,
                order=ref,
                lines=return_lines,
                requested_at=created,
                updated_at=processed,
                location=location,
            )
        )

    for txn in refund.objs("transactions"):
        if txn.opt_str("kind") != "refund" or txn.opt_str("status") != "success":
            continue
        if txn.has("currency"):
            currency = txn.currency("currency")
        elif line_currency is not None:
            currency = line_currency
        else:
            raise txn.fail("currency", "is missing and no refunded line names a currency")
        amount = txn.money("amount", currency)
        if amount.is_zero():
            continue
        envelopes.append(
            payment_envelope(
                ctx,
                CONNECTOR,
                txn.path,
                kind=PaymentEventKind.REFUNDED,
                source_ids=("refund_transaction", txn.id("id")),
                provider=f"shopify:{txn.opt_str('gateway') or 'unknown'}",
                payment_id=txn.opt_id("parent_id") or f"order-{ref.external_id}",
                transaction_id=txn.id("id"),
                order=ref,
                amount=amount,
                occurred_at=txn.opt_time("processed_at") or txn.time("created_at"),
                reason=refund.opt_str("note"),
            )
        )
    return envelopes


def to_canonical_shipment(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """fulfillments/create (or a REST fulfillment): one shipment.created."""
    fulfillment = Fields(unwrap(raw, "fulfillment"))
    if fulfillment.opt_str("status") in ("cancelled", "error", "failure"):
        return []
    ref = OrderRef(channel=ctx.instance, external_id=fulfillment.id("order_id"))
    lines = []
    for item in fulfillment.objs("line_items"):
        sku = _sku(item)
        if sku is None:
            raise item.fail("sku", "a shipped line needs a SKU for the stock ledger")
        lines.append(
            build(
                ShipmentLine,
                item.path,
                line_id=item.id("id"),
                sku=sku,
                quantity=item.int("quantity"),
            )
        )
    numbers = [str(n) for n in fulfillment.raw("tracking_numbers", []) if n] or (
        [fulfillment.str("tracking_number")] if fulfillment.has("tracking_number") else []
    )
    created = fulfillment.time("created_at")
    updated = fulfillment.opt_time("updated_at") or created
    shipment = build(
        Shipment,
        "",
        tenant=ctx.tenant,
        shipment_id=fulfillment.id("id"),
        order=ref,
        location=location_slug(ctx, fulfillment.opt_id("location_id")) or f"{CONNECTOR}_default",
        carrier=fulfillment.opt_str("tracking_company"),
        service=fulfillment.opt_str("service"),
        packages=[Package(tracking_number=n) for n in numbers],
        lines=lines,
        shipped_at=created,
    )
    return [
        envelope(
            ctx,
            CONNECTOR,
            shipment,
            event_type="shipment.created",
            source_ids=("fulfillment", shipment.shipment_id, _utc(updated)),
            occurred_at=created,
            correlation_id=ref.key,
        )
    ]


# -- outbound -------------------------------------------------------------------------------------


def from_canonical_inventory_level(
    inventory_item_id: str, location_id: str, available: int
) -> dict[str, Any]:
    """Body of ``POST inventory_levels/set.json``; Shopify ids go out as exact JSON integers."""
    if available < 0:
        raise ValueError("Shopify is never told a negative availability; send 0")
    return {
        "location_id": int(location_id),
        "inventory_item_id": int(inventory_item_id),
        "available": available,
    }


def from_canonical_fulfillment(
    shipment: Shipment, fulfillment_order_lines: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """Body of ``POST fulfillments.json`` for a canonical shipment.

    ``fulfillment_order_lines`` maps an order line id to its (fulfillment order id, fulfillment
    order line item id), which Shopify's fulfilment-order API requires.
    """
    by_order: dict[str, list[dict[str, int]]] = {}
    for line in shipment.lines:
        if line.line_id is None or line.line_id not in fulfillment_order_lines:
            raise ValueError(f"no fulfillment order line for order line {line.line_id!r}")
        fo_id, fo_line_id = fulfillment_order_lines[line.line_id]
        by_order.setdefault(fo_id, []).append({"id": int(fo_line_id), "quantity": line.quantity})
    body: dict[str, Any] = {
        "line_items_by_fulfillment_order": [
            {"fulfillment_order_id": int(fo_id), "fulfillment_order_line_items": items}
            for fo_id, items in by_order.items()
        ],
        "notify_customer": False,
    }
    numbers = shipment.tracking_numbers
    if numbers:
        body["tracking_info"] = {"number": numbers[0], "company": shipment.carrier}
    return {"fulfillment": body}
