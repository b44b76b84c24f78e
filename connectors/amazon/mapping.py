"""Amazon SP-API Orders (v0) to canonical orders; inventory to Listings patches. Pure.

``getOrders`` returns order headers without items, and ``getOrderItems`` items without the header,
so neither alone is an order. The connector's poll (:meth:`AmazonConnector.iter_orders`) attaches
each order's items under ``"OrderItems"`` (the hub's one enrichment of the vendor shape), and the
translation reads that composite. Field choices:

* **Pending** (and ``PendingAvailability``) orders are skipped: Amazon has not authorised payment,
  withholds prices and says not to ship them. They are translated once they become ``Unshipped``.
* **ItemPrice** is the price of the *quantity*, not of one unit; the unit price is
  ``ItemPrice / QuantityOrdered`` and must divide exactly. ``PromotionDiscount`` is the line's
  discount, ``ItemTax`` its tax; each item's ``ShippingPrice``/``ShippingDiscount``/``ShippingTax``
  become one shipping line.
* **Tax inclusion differs by marketplace** (US prices exclude tax, EU prices include VAT). The
  translation computes both and keeps the one that equals ``OrderTotal``; if neither does, the
  order is refused naming ``OrderTotal``.
* **Status**: ``Canceled`` -> ``order.cancelled`` (at ``LastUpdateDate``, payment voided); other
  statuses mean Amazon collected the money -> paid.
* **Keys**: ``(AmazonOrderId, LastUpdateDate)``, the same for a poll and a refresh triggered by an
  ``ORDER_CHANGE`` notification.

``ORDER_CHANGE`` notifications carry no prices, so they cannot become an order snapshot; they are a
trigger to refresh the order (:func:`orders_to_refresh`), and translate to no envelope.
``getOrderItems`` alone (``{"payload": {"AmazonOrderId", "OrderItems", "NextToken"}}``) is
validated by :func:`order_items` (the one reader of that response, which the polls use too) and
also translates to no envelope: without the order header (status, dates, total) there is no
snapshot. The standalone refresh, :meth:`AmazonConnector.fetch_order`, reads ``getOrder`` and every
``getOrderItems`` page and hands the composite to ``getOrder``.

**Refunds** come from the Finances API (``listFinancialEvents``, polled by posted date): each item
of ``payload.FinancialEvents.RefundEventList`` is a ``ShipmentEvent`` and is the ``refundEvent``
payload, translated by :func:`translate_refund_event` into one ``payment.refunded``:

* **Order**: ``OrderRef(instance, AmazonOrderId)``, the ref the order mapping gives the same order,
  so the ledger books the refund against it.
* **Amount**: what went back to the buyer, the negated sum of the buyer-facing adjustments of every
  ``ShipmentItemAdjustmentList`` item: ``ItemChargeAdjustmentList`` (Principal, Tax, ShippingCharge,
  ShippingTax, Giftwrap, Goodwill, RestockingFee...; negative when money goes back to the buyer)
  plus ``PromotionAdjustmentList`` (the promotion taken back, positive) plus any event-level
  ``OrderChargeAdjustmentList``. Left out: ``ItemFeeAdjustmentList`` (Amazon's fees to the seller,
  not the buyer's money), ``ItemTaxWithheldList`` and charge types ``MarketplaceFacilitatorTax-*``
  / ``TCS-*`` (tax Amazon withholds, settled between Amazon and the seller). Amounts are JSON
  numbers (``BigDecimal``), read exactly; one event has one currency, another is refused naming
  the field. An event whose adjustments return nothing (fees only) translates to no envelope; one
  whose adjustments add up to a charge to the buyer is refused.
* **Key**: ``("refund", AmazonOrderId, PostedDate (UTC), every OrderAdjustmentItemId sorted)``.
  Amazon gives a refund no id of its own; these are its own ids and time, identical in every poll
  of an overlapping window, so a re-poll derives duplicates, not second refunds. ``payment_id`` is
  ``order-<AmazonOrderId>`` (Amazon names no payment); ``transaction_id`` is the adjustment ids.
* **No return lines**: a refund event says which SKUs and how many units were refunded
  (``SellerSKU``, ``QuantityShipped``), not whether the goods came back or were restocked, and it
  names the adjustment (``OrderAdjustmentItemId``), not the order line. ``PaymentEvent`` has no
  lines, and a ``return.requested`` from it would wait for an inspection no Amazon feed the hub
  reads reports (and, under the default returns policy, hold the refund itself back), so none is
  emitted.
"""

from __future__ import annotations

from datetime import UTC
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
from connectors.errors import TranslationError
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, order_envelope, payment_envelope, unwrap

__all__ = [
    "SKIPPED_STATUSES",
    "from_canonical_inventory",
    "order_items",
    "orders_to_refresh",
    "refund_events",
    "to_canonical_order",
    "translate_get_order",
    "translate_get_order_items",
    "translate_get_orders",
    "translate_order_change",
    "translate_refund_event",
]

CONNECTOR = "amazon"
SKIPPED_STATUSES = {"Pending", "PendingAvailability"}
#: Charge types that are tax Amazon withholds (marketplace facilitator, India's TCS), not the buyer's.
WITHHELD_CHARGE_PREFIXES = ("MarketplaceFacilitatorTax-", "TCS-")


def _money(obj: Fields, key: str, currency: str) -> Money | None:
    node = obj.opt_obj(key)
    if node is None:
        return None
    code = node.currency("CurrencyCode")
    if code != currency:
        raise node.fail("CurrencyCode", f"is {code}, but the order is in {currency}")
    return node.money("Amount", currency)


def _address(obj: Fields | None) -> Address | None:
    if obj is None:
        return None
    return build(
        Address,
        obj.path,
        name=obj.opt_str("Name"),
        line1=obj.opt_str("AddressLine1"),
        line2=obj.opt_str("AddressLine2"),
        city=obj.opt_str("City"),
        region=obj.opt_str("StateOrRegion"),
        postal_code=obj.opt_str("PostalCode"),
        country=obj.opt_str("CountryCode"),
        phone=obj.opt_str("Phone"),
    )


def _currency(order: Fields, items: list[Fields]) -> str:
    total = order.opt_obj("OrderTotal")
    if total is not None:
        return total.currency("CurrencyCode")
    for item in items:
        price = item.opt_obj("ItemPrice")
        if price is not None:
            return price.currency("CurrencyCode")
    raise order.fail("OrderTotal", "is missing and no item has an ItemPrice")


def to_canonical_order(raw: Any, ctx: TranslationContext) -> Order:
    """One v0 Order with its ``OrderItems`` attached."""
    order = Fields(raw, raw.get("_path", "") if isinstance(raw, dict) else "")
    items = list(order.objs("OrderItems"))
    if not items:
        raise order.fail("OrderItems", "is missing: attach the getOrderItems result to the order")
    currency = _currency(order, items)
    lines: list[OrderLine] = []
    shipping: list[ShippingLine] = []
    for item in items:
        quantity = item.int("QuantityOrdered")
        if quantity <= 0:
            continue  # an item cancelled before shipping: nothing to fulfil or charge
        price = _money(item, "ItemPrice", currency) or Money.zero(currency)
        unit_amount = price.amount / quantity
        try:
            unit = Money(amount=unit_amount, currency=currency)
        except ValueError:
            raise item.fail("ItemPrice", f"{price} does not divide by {quantity}") from None
        discount = _money(item, "PromotionDiscount", currency)
        tax = _money(item, "ItemTax", currency)
        lines.append(
            build(
                OrderLine,
                item.path,
                line_id=item.id("OrderItemId"),
                sku=item.opt_str("SellerSKU"),
                product_id=item.opt_str("ASIN"),
                title=item.opt_str("Title") or "(untitled)",
                quantity=quantity,
                unit_price=unit,
                discounts=[Discount(amount=discount)]
                if discount and not discount.is_zero()
                else [],
                tax_lines=[TaxLine(title="ItemTax", rate=0, amount=tax)]
                if tax and not tax.is_zero()
                else [],
            )
        )
        ship_price = _money(item, "ShippingPrice", currency)
        if ship_price is not None:
            ship_discount = _money(item, "ShippingDiscount", currency)
            ship_tax = _money(item, "ShippingTax", currency)
            shipping.append(
                build(
                    ShippingLine,
                    item.path,
                    code=order.opt_str("ShipmentServiceLevelCategory"),
                    title=f"Shipping for item {item.id('OrderItemId')}",
                    price=ship_price,
                    discounts=[Discount(amount=ship_discount)]
                    if ship_discount and not ship_discount.is_zero()
                    else [],
                    tax_lines=[TaxLine(title="ShippingTax", rate=0, amount=ship_tax)]
                    if ship_tax and not ship_tax.is_zero()
                    else [],
                )
            )
    if not lines:
        raise order.fail("OrderItems", "has no item with a positive QuantityOrdered")
    order_total = _money(order, "OrderTotal", currency)
    taxes_included = False
    totals = OrderTotals.compute(lines, shipping, currency=currency, taxes_included=False)
    if order_total is not None and totals.total != order_total:
        included = OrderTotals.compute(lines, shipping, currency=currency, taxes_included=True)
        if included.total != order_total:
            raise order.fail(
                "OrderTotal",
                f"is {order_total.amount}; the items add up to {totals.total.amount} with tax on "
                f"top and {included.total.amount} with tax included",
            )
        totals, taxes_included = included, True
    status = order.str("OrderStatus")
    cancelled = status == "Canceled"
    updated = order.time("LastUpdateDate")
    buyer = order.opt_obj("BuyerInfo")
    return build(
        Order,
        order.path,
        tenant=ctx.tenant,
        channel=ctx.instance,
        external_id=order.str("AmazonOrderId"),
        order_number=order.str("AmazonOrderId"),
        customer=build(
            Customer,
            "BuyerInfo",
            email=buyer.opt_str("BuyerEmail") if buyer else None,
            name=buyer.opt_str("BuyerName") if buyer else None,
        )
        if buyer
        else None,
        shipping_address=_address(order.opt_obj("ShippingAddress")),
        currency=currency,
        placed_at=order.time("PurchaseDate"),
        updated_at=updated,
        lines=lines,
        shipping_lines=shipping,
        taxes_included=taxes_included,
        totals=totals,
        payment_status=PaymentStatus.VOIDED if cancelled else PaymentStatus.PAID,
        cancelled_at=updated if cancelled else None,
        service_level=order.opt_str("ShipmentServiceLevelCategory"),
        promised_by=order.opt_time("LatestDeliveryDate"),
    )


def _translate_one(raw: Any, ctx: TranslationContext, path: str) -> list[Envelope]:
    order_fields = Fields(raw, path)
    if order_fields.str("OrderStatus") in SKIPPED_STATUSES:
        return []
    try:
        order = to_canonical_order(raw, ctx)
    except TranslationError as exc:
        if path and not exc.field.startswith(path):
            raise TranslationError(exc.message, field=f"{path}.{exc.field}") from None
        raise
    return [order_envelope(ctx, CONNECTOR, order, version=order_fields.str("LastUpdateDate"))]


def translate_get_orders(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A getOrders response (``{"payload": {"Orders": [...], "NextToken": ...}}``)."""
    page = Fields(unwrap(raw, "payload"))
    prefix = "payload." if isinstance(raw, dict) and "payload" in raw else ""
    envelopes: list[Envelope] = []
    for order in page.objs("Orders"):
        envelopes.extend(_translate_one(order.data, ctx, prefix + order.path))
    return envelopes


def translate_get_order(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A getOrder response (``{"payload": Order}``) with its items attached."""
    wrapped = isinstance(raw, dict) and "payload" in raw
    return _translate_one(unwrap(raw, "payload"), ctx, "payload" if wrapped else "")


def order_items(raw: Any) -> tuple[str, list[Any], str | None]:
    """A getOrderItems response: its AmazonOrderId, its items (checked) and its NextToken.

    Each item must carry an ``OrderItemId`` (kept as a string), a whole ``QuantityOrdered`` and, if
    any, a string ``SellerSKU``; amounts are left to the order translation, which knows the order's
    currency.
    """
    wrapped = isinstance(raw, dict) and "payload" in raw
    page = Fields(unwrap(raw, "payload"), "payload" if wrapped else "")
    order_id = page.str("AmazonOrderId")
    items = []
    for item in page.objs("OrderItems"):
        item.id("OrderItemId")
        if item.int("QuantityOrdered") < 0:
            raise item.fail("QuantityOrdered", "must not be negative")
        item.opt_str("SellerSKU")
        items.append(item.data)
    return order_id, items, page.opt_str("NextToken")


def translate_get_order_items(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """getOrderItems: checked, but no snapshot without the order header (see fetch_order)."""
    order_items(raw)
    return []


def orders_to_refresh(raw: Any) -> list[str]:
    """The AmazonOrderIds an ORDER_CHANGE notification asks the hub to re-read."""
    note = Fields(raw)
    kind = note.str("NotificationType")
    if kind != "ORDER_CHANGE":
        raise note.fail("NotificationType", f"is {kind!r}, expected 'ORDER_CHANGE'")
    change = note.obj("Payload").obj("OrderChangeNotification")
    return [change.str("AmazonOrderId")]


def translate_order_change(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """ORDER_CHANGE: validated, but no snapshot (no prices); see :func:`orders_to_refresh`."""
    orders_to_refresh(raw)
    return []


def from_canonical_inventory(quantity: int, *, product_type: str = "PRODUCT") -> dict[str, Any]:
    """Body of ``patchListingsItem`` setting the merchant-fulfilled (``DEFAULT``) quantity.

    ``merge`` (not ``replace``) changes only the quantity and keeps the seller's handling time
    (``lead_time_to_ship_max_days``) and ``restock_date``; ``PRODUCT`` is the product type Amazon
    documents for offer-only changes to an existing listing. A negative level is sent as 0.
    """
    return {
        "productType": product_type,
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": max(0, quantity)}],
            }
        ],
    }


def refund_events(raw: Any) -> tuple[list[Any], str | None]:
    """A listFinancialEvents response: its ``RefundEventList`` items (as sent) and its NextToken.

    Every other list of ``FinancialEvents`` (shipments, fees, adjustments...) is left alone. Each
    refund event must be an object; its fields are the translation's to check.
    """
    page = Fields(raw).obj("payload")
    events = page.opt_obj("FinancialEvents")
    refunds = [event.data for event in events.objs("RefundEventList")] if events else []
    return refunds, page.opt_str("NextToken")


def _amount(money: Fields, currency: list[str]) -> Decimal:
    """A ``Currency`` object (``{"CurrencyCode", "CurrencyAmount"}``), in the event's one currency."""
    code = money.currency("CurrencyCode")
    if not currency:
        currency.append(code)
    elif code != currency[0]:
        raise money.fail("CurrencyCode", f"is {code}, but the refund is in {currency[0]}")
    return money.money("CurrencyAmount", code).amount


def _charges(obj: Fields, key: str, currency: list[str]) -> Decimal:
    total = Decimal(0)
    for charge in obj.objs(key):
        if charge.str("ChargeType").startswith(WITHHELD_CHARGE_PREFIXES):
            continue
        total += _amount(charge.obj("ChargeAmount"), currency)
    return total


def translate_refund_event(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """One ``RefundEventList`` item (a ShipmentEvent): ``payment.refunded`` against its order."""
    event = Fields(raw)
    order_id = event.str("AmazonOrderId")
    posted = event.time("PostedDate").astimezone(UTC)
    items = list(event.objs("ShipmentItemAdjustmentList"))
    if not items:
        raise event.fail("ShipmentItemAdjustmentList", "is empty: a refund names what it adjusts")
    currency: list[str] = []
    adjusted = _charges(event, "OrderChargeAdjustmentList", currency)
    adjustment_ids = []
    for item in items:
        adjustment_ids.append(item.id("OrderAdjustmentItemId"))
        item.opt_str("SellerSKU")
        item.int("QuantityShipped", 0)
        adjusted += _charges(item, "ItemChargeAdjustmentList", currency)
        for promotion in item.objs("PromotionAdjustmentList"):
            adjusted += _amount(promotion.obj("PromotionAmount"), currency)
    if adjusted > 0:
        raise event.fail(
            "ShipmentItemAdjustmentList",
            f"adds up to {adjusted} {currency[0]} charged to the buyer, not refunded",
        )
    if adjusted == 0:
        return []  # only fees or withheld tax moved: nothing went back to the buyer
    ids = sorted(adjustment_ids)
    transaction = "+".join(ids)
    ref = build(OrderRef, "AmazonOrderId", channel=ctx.instance, external_id=order_id)
    stamp = posted.isoformat().replace("+00:00", "Z")
    return [
        payment_envelope(
            ctx,
            CONNECTOR,
            event.path,
            kind=PaymentEventKind.REFUNDED,
            source_ids=("refund", order_id, stamp, *ids),
            provider=CONNECTOR,
            payment_id=f"order-{order_id}",
            transaction_id=transaction if len(transaction) <= 255 else None,
            order=ref,
            amount=Money(amount=-adjusted, currency=currency[0]),
            occurred_at=posted,
        )
    ]
