"""Orders: totals reconcile with lines, and bad input is refused with the field and the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical import Money, Order, OrderTotals
from canonical.errors import CurrencyMismatchError
from canonical.examples import example_order
from canonical.order import Discount, ShippingLine
from tests.canonical.strategies import orders


def _order_data(**changes: Any) -> dict[str, Any]:
    data = example_order().model_dump(mode="json")
    data.update(changes)
    return data


@given(orders())
def test_computed_totals_always_reconcile(order: Order) -> None:
    totals = order.totals
    assert totals.items_subtotal == Money.sum((line.gross for line in order.lines), order.currency)
    expected_total = totals.items_subtotal - totals.discount_total + totals.shipping_total
    if not order.taxes_included:
        expected_total = expected_total + totals.tax_total
    assert totals.total == expected_total
    assert totals.discount_total == Money.sum(
        [line.discount_total for line in order.lines]
        + [s.discount_total for s in order.shipping_lines],
        order.currency,
    )
    assert totals.tax_total == Money.sum(
        [line.tax_total for line in order.lines] + [s.tax_total for s in order.shipping_lines],
        order.currency,
    )
    assert totals.shipping_total == Money.sum(
        (s.price for s in order.shipping_lines), order.currency
    )
    assert Order.model_validate_json(order.model_dump_json()) == order


def test_totals_that_would_be_negative_are_refused() -> None:
    """A shipping discount larger than everything else leaves a negative total: refused by the
    totals' own rule (never a negative amount to pay), not computed."""
    line = example_order().lines[0]
    shipping = ShippingLine(
        title="ship",
        price=Money(amount="5.00", currency="USD"),
        discounts=[Discount(amount=Money(amount="5.00", currency="USD"))],
    )
    free = line.model_copy(update={"unit_price": Money(amount="0.00", currency="USD"),
                                   "discounts": [], "tax_lines": []})  # fmt: skip
    assert OrderTotals.compute([free], [shipping], currency="USD", taxes_included=False).total == (
        Money(amount="0.00", currency="USD")
    )
    greedy = shipping.model_copy(
        update={"discounts": [Discount(amount=Money(amount="6.00", currency="USD"))]}
    )
    with pytest.raises(ValidationError, match="must not be negative"):
        OrderTotals.compute([free], [greedy], currency="USD", taxes_included=False)


def test_totals_in_another_currency_than_the_lines_are_refused() -> None:
    line = example_order().lines[0]
    with pytest.raises(CurrencyMismatchError):
        OrderTotals.compute([line], [], currency="EUR", taxes_included=False)


@given(
    orders(),
    st.sampled_from(list(OrderTotals.model_fields)),
    st.sampled_from([-1, 1]),
)
def test_totals_off_by_one_minor_unit_are_refused(order: Order, field: str, sign: int) -> None:
    data = order.model_dump(mode="json")
    wrong = getattr(order.totals, field) + Money.from_minor_units(sign, order.currency)
    if wrong.amount < 0:
        wrong = getattr(order.totals, field) + Money.from_minor_units(1, order.currency)
    data["totals"][field] = wrong.model_dump(mode="json")
    with pytest.raises(ValidationError, match=f"totals.{field} is"):
        Order.model_validate(data)


def test_example_order_reconciles() -> None:
    order = example_order()
    assert order.totals.total == Money(amount="56.53", currency="USD")
    assert order.key == "shopify_us:820982911946154508"


def _first_line(**changes: Any) -> dict[str, Any]:
    data = _order_data()
    data["lines"][0].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "location", "reason"),
    [
        (
            _first_line(unit_price={"amount": 20.0, "currency": "USD"}),
            "lines.0.unit_price.amount",
            "not a float",
        ),
        (_first_line(quantity=-1), "lines.0.quantity", "greater than 0"),
        (_first_line(quantity=0), "lines.0.quantity", "greater than 0"),
        (_first_line(quantity="2"), "lines.0.quantity", "valid integer"),
        (_first_line(quantity=2.0), "lines.0.quantity", "valid integer"),
        (
            _first_line(unit_price={"amount": "20.00", "currency": "XYZ"}),
            "lines.0.unit_price.currency",
            "not an ISO 4217 currency",
        ),
        (
            _first_line(unit_price={"amount": "-1.00", "currency": "USD"}),
            "lines.0.unit_price",
            "must not be negative",
        ),
        (_order_data(currency="EUR"), "(order)", "lines.0.unit_price is in USD"),
        (_order_data(placed_at="2026-03-02T14:05:00"), "placed_at", "timezone"),
        (_order_data(external_id=820982911946154508), "external_id", "valid string"),
        (_order_data(is_paid=True), "is_paid", "Extra inputs are not permitted"),
        (_order_data(lines=[]), "lines", "at least 1 item"),
        (_order_data(tenant="Acme Corp"), "tenant", "pattern"),
        (_first_line(sku="has space"), "lines.0.sku", "pattern"),
        (_first_line(line_id="518995019"), "(order)", "appears twice"),
        (
            _first_line(discounts=[{"amount": {"amount": "99.00", "currency": "USD"}}]),
            "lines.0",
            "exceed the line's gross amount",
        ),
        (_order_data(risk_score="101"), "risk_score", "must be at most 100"),
        (
            _first_line(
                tax_lines=[
                    {"title": "t", "rate": 0.0625, "amount": {"amount": "1.00", "currency": "USD"}}
                ]
            ),
            "lines.0.tax_lines.0.rate",
            "must be exact",
        ),
        (_order_data(is_test="yes"), "is_test", "valid boolean"),
    ],
)
def test_invalid_orders_name_the_field_and_the_reason(
    data: dict[str, Any], location: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Order.model_validate(data)
    errors = info.value.errors()
    locations = [".".join(str(p) for p in error["loc"]) or "(order)" for error in errors]
    assert location in locations, locations
    assert any(reason in error["msg"] for error in errors), [e["msg"] for e in errors]


def test_json_vendor_ids_must_be_strings_so_big_ids_stay_exact() -> None:
    big = 2**53 + 1
    order = Order.model_validate(_order_data(external_id=str(big)))
    assert order.external_id == "9007199254740993"
    assert Order.model_validate_json(order.model_dump_json()).external_id == str(big)


def test_updated_before_placed_is_refused() -> None:
    with pytest.raises(ValidationError, match="updated_at is earlier than placed_at"):
        Order.model_validate(_order_data(updated_at="2020-01-01T00:00:00Z"))


def test_orders_are_frozen() -> None:
    order = example_order()
    with pytest.raises(ValidationError):
        order.tenant = "other"  # type: ignore[misc]
    assert isinstance(order.placed_at, datetime)
