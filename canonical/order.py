"""The canonical order: what every storefront, marketplace and B2B portal translates into.

An :class:`Order` is a *snapshot* of the order as its channel sees it at ``updated_at`` (and
``source_version`` when the channel has one). The ledger keeps the newest snapshot and ignores older
ones, so out-of-order webhooks cannot roll an order back. The hub's own lifecycle (allocated,
released, shipped...) is not part of the snapshot; it lives in :mod:`canonical.lifecycle` and in
the ledger.

All amounts of one order are in one currency (``currency``, the shop's booking currency); what the
buyer saw in another currency is kept in ``presentment``. Totals must reconcile with the lines to
the minor unit: :meth:`OrderTotals.compute` is the definition, and the model refuses an order whose
totals disagree with it. A channel that reports figures its own lines contradict (it happens, even in
vendors' documentation samples) is translated with the computed ``totals`` and its own figures in
``reported_totals``, so nothing is refused and nothing is silently trusted: the router's ``totals``
rule holds the order for a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, model_validator

from canonical._base import CanonicalModel, PositiveQuantity, Text, Timestamp
from canonical._decimal import ExactDecimal, between, decimal_schema
from canonical.errors import CurrencyMismatchError
from canonical.identifiers import ChannelId, ExternalId, Sku, TenantId
from canonical.money import CurrencyCode, Money, NonNegativeMoney
from canonical.party import Address, Customer

__all__ = [
    "Discount",
    "FulfillmentType",
    "Order",
    "OrderLine",
    "OrderRef",
    "OrderTotals",
    "PaymentStatus",
    "Presentment",
    "ShippingLine",
    "TaxLine",
    "TrackingRequirement",
]

MAX_ORDER_LINES = 500

#: A tax rate as an exact fraction: ``"0.0825"`` is 8.25%.
Rate = Annotated[
    ExactDecimal,
    between(0, 1),
    decimal_schema("Rate as an exact fraction: 0.0825 is 8.25%."),
]
#: A fraud risk score from 0 (safe) to 100.
RiskScore = Annotated[ExactDecimal, between(0, 100), decimal_schema("Risk score, 0 (safe) to 100.")]


_ZERO = Decimal(0)


class FulfillmentType(StrEnum):
    """How a line is fulfilled: from stock, ordered in for this customer, or shipped by a supplier."""

    STOCKED = "stocked"
    SPECIAL_ORDER = "special_order"
    DROP_SHIP = "drop_ship"


class TrackingRequirement(StrEnum):
    """Whether shipping this line must record a lot number or a serial number per unit."""

    NONE = "none"
    LOT = "lot"
    SERIAL = "serial"


class PaymentStatus(StrEnum):
    """The order's payment state as the channel reports it."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"


class OrderRef(CanonicalModel):
    """Identifies an order across systems: the channel it was placed on and that channel's id."""

    channel: ChannelId
    external_id: ExternalId

    @property
    def key(self) -> str:
        """``channel:external_id``, the order's id inside the hub."""
        return f"{self.channel}:{self.external_id}"


class Discount(CanonicalModel):
    """A discount allocated to one line or shipping line (order-level discounts are spread first)."""

    amount: NonNegativeMoney
    code: Annotated[str, Field(max_length=255)] | None = None
    title: Text | None = None


class TaxLine(CanonicalModel):
    """One tax charged on a line, e.g. a state tax and a county tax as two tax lines."""

    title: Annotated[str, Field(max_length=255)]
    rate: Rate
    amount: NonNegativeMoney
    jurisdiction: Annotated[str, Field(max_length=255)] | None = None


class OrderLine(CanonicalModel):
    """One line of an order: a quantity of one SKU at one unit price."""

    line_id: ExternalId = Field(description="The channel's id of this line; stable across updates.")
    sku: Sku | None = Field(
        default=None,
        description="The hub SKU, when the channel sent one; None for a deleted or unmapped product "
        "(master-data rules turn that into an exception).",
    )
    product_id: ExternalId | None = None
    variant_id: ExternalId | None = None
    title: Text
    quantity: PositiveQuantity
    unit_price: NonNegativeMoney
    discounts: Annotated[list[Discount], Field(max_length=50)] = []
    tax_lines: Annotated[list[TaxLine], Field(max_length=20)] = []
    fulfillment_type: FulfillmentType = FulfillmentType.STOCKED
    tracking: TrackingRequirement = TrackingRequirement.NONE
    requires_shipping: StrictBool = True

    @property
    def gross(self) -> Money:
        """Unit price times quantity, before discounts and tax."""
        return self.unit_price * self.quantity

    @property
    def discount_total(self) -> Money:
        return Money.sum((d.amount for d in self.discounts), self.unit_price.currency)

    @property
    def tax_total(self) -> Money:
        return Money.sum((t.amount for t in self.tax_lines), self.unit_price.currency)

    @property
    def net(self) -> Money:
        """What the line contributes to the subtotal after its discounts."""
        return self.gross - self.discount_total

    @model_validator(mode="after")
    def _discounts_within_price(self) -> Self:
        # On bare amounts: this runs for every line of every order the hub reads, and building
        # Money for each partial sum cost more than the rest of the line's validation.
        currency = self.unit_price.currency
        discounts = _sum_amounts((d.amount for d in self.discounts), currency, self.line_id)
        _sum_amounts((t.amount for t in self.tax_lines), currency, self.line_id)
        if discounts > self.unit_price.amount * self.quantity:
            raise ValueError(
                f"line {self.line_id}: discounts ({self.discount_total}) exceed the line's gross "
                f"amount ({self.gross})"
            )
        return self


def _sum_amounts(values: Iterable[Money], currency: str, line_id: str) -> Decimal:
    """The sum of one line's amounts, which must all be in the line's currency."""
    total = _ZERO
    for value in values:
        if value.currency != currency:
            raise ValueError(
                f"line {line_id}: amounts are in {value.currency} but the unit price "
                f"is in {currency}; one line uses one currency"
            )
        total += value.amount
    return total


class ShippingLine(CanonicalModel):
    """A shipping charge: the method the buyer chose and what it cost."""

    code: Annotated[str, Field(max_length=255)] | None = None
    title: Text
    price: NonNegativeMoney
    discounts: Annotated[list[Discount], Field(max_length=20)] = []
    tax_lines: Annotated[list[TaxLine], Field(max_length=20)] = []

    @property
    def discount_total(self) -> Money:
        return Money.sum((d.amount for d in self.discounts), self.price.currency)

    @property
    def tax_total(self) -> Money:
        return Money.sum((t.amount for t in self.tax_lines), self.price.currency)


class OrderTotals(CanonicalModel):
    """The order's totals, which must agree with its lines to the minor unit.

    ``total = items_subtotal - discount_total + shipping_total + tax_total`` when prices exclude
    tax, and without ``+ tax_total`` when they include it (``taxes_included``), as storefronts do.
    """

    items_subtotal: NonNegativeMoney = Field(description="Sum of unit price times quantity.")
    discount_total: NonNegativeMoney = Field(description="All line and shipping discounts.")
    shipping_total: NonNegativeMoney = Field(description="Sum of shipping prices before discounts.")
    tax_total: NonNegativeMoney = Field(description="All line and shipping taxes.")
    total: NonNegativeMoney = Field(description="What the buyer pays.")

    @classmethod
    def compute(
        cls,
        lines: list[OrderLine],
        shipping_lines: list[ShippingLine],
        *,
        currency: str,
        taxes_included: bool,
    ) -> OrderTotals:
        """The totals that ``lines`` and ``shipping_lines`` imply; the definition of "reconciled".

        Summed on bare amounts (every order is reconciled when it is read), then built once."""
        items = discounts = shipping = tax = _ZERO
        for line in lines:
            items += _in(line.unit_price, currency).amount * line.quantity
            for discount in line.discounts:
                discounts += _in(discount.amount, currency).amount
            for tax_line in line.tax_lines:
                tax += _in(tax_line.amount, currency).amount
        for shipping_line in shipping_lines:
            shipping += _in(shipping_line.price, currency).amount
            for discount in shipping_line.discounts:
                discounts += _in(discount.amount, currency).amount
            for tax_line in shipping_line.tax_lines:
                tax += _in(tax_line.amount, currency).amount
        total = items - discounts + shipping
        if not taxes_included:
            total += tax
        figures = (items, discounts, shipping, tax, total)
        if min(figures) < 0:  # refused with the model's own error
            names = ("items_subtotal", "discount_total", "shipping_total", "tax_total", "total")
            return cls(
                **{n: Money._exact(a, currency) for n, a in zip(names, figures, strict=True)}
            )
        return cls.model_construct(
            items_subtotal=Money._exact(items, currency),
            discount_total=Money._exact(discounts, currency),
            shipping_total=Money._exact(shipping, currency),
            tax_total=Money._exact(tax, currency),
            total=Money._exact(total, currency),
        )


def _in(value: Money, currency: str) -> Money:
    if value.currency != currency:
        raise CurrencyMismatchError(currency, value.currency, "add")
    return value


class Presentment(CanonicalModel):
    """What the buyer saw when the channel sold in another currency than the shop books in."""

    currency: CurrencyCode
    total: NonNegativeMoney


class Order(CanonicalModel):
    """A sales order as its channel reports it at ``updated_at``."""

    schema_name = "order"
    schema_major = 1
    type: Literal["order"] = "order"

    tenant: TenantId
    channel: ChannelId
    external_id: ExternalId = Field(description="The channel's order id, kept exactly as a string.")
    order_number: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="The number shown to the buyer, e.g. #1001."
    )
    customer: Customer | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    currency: CurrencyCode
    presentment: Presentment | None = None
    placed_at: Timestamp
    updated_at: Timestamp
    source_version: Annotated[int, Field(ge=0, strict=True)] | None = Field(
        default=None,
        description="The channel's monotonic version of the order, when it has one; newer wins.",
    )
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    shipping_lines: Annotated[list[ShippingLine], Field(max_length=20)] = []
    taxes_included: StrictBool = False
    totals: OrderTotals
    reported_totals: OrderTotals | None = Field(
        default=None,
        description="The totals the channel reported, kept only when they differ from what the "
        "lines imply (``totals``); the router's totals rule turns the difference into an exception "
        "for a person, rather than the message being refused or the vendor's figure trusted.",
    )
    payment_status: PaymentStatus = PaymentStatus.PENDING
    cancelled_at: Timestamp | None = None
    cancel_reason: Annotated[str, Field(max_length=255)] | None = None
    is_test: StrictBool = Field(default=False, description="A test order placed in a sandbox.")
    risk_score: RiskScore | None = Field(
        default=None, description="The channel's fraud risk score, 0 (safe) to 100."
    )
    service_level: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="Shipping service promised to the buyer, e.g. standard, express."
    )
    promised_by: Timestamp | None = Field(default=None, description="Delivery promise, if any.")

    @property
    def ref(self) -> OrderRef:
        return OrderRef(channel=self.channel, external_id=self.external_id)

    @property
    def key(self) -> str:
        """``channel:external_id``; see :attr:`OrderRef.key`."""
        return f"{self.channel}:{self.external_id}"

    @model_validator(mode="after")
    def _reconciles(self) -> Self:
        if self.updated_at < self.placed_at:
            raise ValueError("updated_at is earlier than placed_at")
        seen: set[str] = set()
        for index, line in enumerate(self.lines):
            if line.line_id in seen:
                raise ValueError(f"lines.{index}: line_id {line.line_id!r} appears twice")
            seen.add(line.line_id)
            if line.unit_price.currency != self.currency:
                raise ValueError(
                    f"lines.{index}.unit_price is in {line.unit_price.currency}, but the order's "
                    f"currency is {self.currency}"
                )
        for index, shipping in enumerate(self.shipping_lines):
            if shipping.price.currency != self.currency:
                raise ValueError(
                    f"shipping_lines.{index}.price is in {shipping.price.currency}, but the order's "
                    f"currency is {self.currency}"
                )
        for name in OrderTotals.model_fields:
            value: Money = getattr(self.totals, name)
            if value.currency != self.currency:
                raise ValueError(f"totals.{name} is in {value.currency}, not {self.currency}")
        expected = OrderTotals.compute(
            self.lines,
            self.shipping_lines,
            currency=self.currency,
            taxes_included=self.taxes_included,
        )
        mismatched = [
            f"totals.{name} is {getattr(self.totals, name).amount} but the lines give "
            f"{getattr(expected, name).amount}"
            for name in OrderTotals.model_fields
            if getattr(self.totals, name).amount != getattr(expected, name).amount
        ]
        if mismatched:
            raise ValueError("totals do not reconcile with the lines: " + "; ".join(mismatched))
        if self.reported_totals is not None:
            for name in OrderTotals.model_fields:
                value = getattr(self.reported_totals, name)
                if value.currency != self.currency:
                    raise ValueError(
                        f"reported_totals.{name} is in {value.currency}, not {self.currency}"
                    )
        if (
            self.presentment is not None
            and self.presentment.total.currency != self.presentment.currency
        ):
            raise ValueError("presentment.total must be in presentment.currency")
        return self
