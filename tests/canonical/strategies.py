"""Hypothesis strategies that build valid canonical objects (and only valid ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from canonical import Discount, Money, Order, OrderLine, OrderTotals, ShippingLine, TaxLine

#: Currencies with 0, 2 and 3 minor units, so rounding is exercised at every precision.
CURRENCIES = ("USD", "EUR", "JPY", "KWD", "GBP", "CHF", "BHD", "KRW")
EXPONENTS = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "GBP": 2, "CHF": 2, "BHD": 3, "KRW": 0}

currencies = st.sampled_from(CURRENCIES)


def money(
    currency: str, min_units: int = -(10**9), max_units: int = 10**9
) -> st.SearchStrategy[Money]:
    return st.integers(min_units, max_units).map(
        lambda units: Money.from_minor_units(units, currency)
    )


def non_negative_money(currency: str, max_units: int = 10**7) -> st.SearchStrategy[Money]:
    return money(currency, 0, max_units)


timestamps = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@st.composite
def order_lines(draw: st.DrawFn, currency: str, line_id: str) -> OrderLine:
    quantity = draw(st.integers(1, 50))
    unit_price = draw(non_negative_money(currency, 100_000))
    gross_units = unit_price.minor_units * quantity
    discount_units = draw(st.integers(0, gross_units))
    discounts = (
        [Discount(amount=Money.from_minor_units(discount_units, currency), code="PROMO")]
        if discount_units
        else []
    )
    taxes = draw(
        st.lists(non_negative_money(currency, 50_000), max_size=3).map(
            lambda amounts: [
                TaxLine(title=f"tax {i}", rate=Decimal("0.05"), amount=amount)
                for i, amount in enumerate(amounts)
            ]
        )
    )
    return OrderLine(
        line_id=line_id,
        sku=draw(st.sampled_from(["SKU-1", "SKU-2", "SKU-3", None])),
        title="item",
        quantity=quantity,
        unit_price=unit_price,
        discounts=discounts,
        tax_lines=taxes,
    )


@st.composite
def orders(draw: st.DrawFn, currency: str | None = None) -> Order:
    currency = currency or draw(currencies)
    count = draw(st.integers(1, 6))
    lines = [draw(order_lines(currency, f"line-{i}")) for i in range(count)]
    shipping = [
        ShippingLine(title="ship", price=price)
        for price in draw(st.lists(non_negative_money(currency, 10_000), max_size=2))
    ]
    taxes_included = draw(st.booleans())
    placed = draw(timestamps)
    return Order(
        tenant="acme",
        channel="shopify_us",
        external_id=str(draw(st.integers(1, 2**63))),
        currency=currency,
        placed_at=placed,
        updated_at=placed + timedelta(minutes=draw(st.integers(0, 10_000))),
        lines=lines,
        shipping_lines=shipping,
        taxes_included=taxes_included,
        totals=OrderTotals.compute(
            lines, shipping, currency=currency, taxes_included=taxes_included
        ),
    )
