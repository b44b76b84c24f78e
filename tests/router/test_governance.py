"""Governance rules: fixed order, pass / exception / review, and the reasons a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from canonical import (
    Envelope,
    Money,
    Order,
    PaymentStatus,
    Shipment,
    SourceRef,
    TaxQuote,
    TrackingRequirement,
)
from canonical.examples import all_examples, example_order
from router.errors import TransientError
from router.governance import RULE_ORDER, GovernanceConfig, Outcome, evaluate

SOURCE = SourceRef(connector="shopify", instance="shopify_us")


@dataclass
class DictCatalog:
    skus: set[str] = field(default_factory=lambda: {"TSHIRT-RED-M", "MUG-WHITE"})
    locations: set[str] = field(default_factory=lambda: {"wh_east"})
    mappings: dict[tuple[str, str], str] = field(default_factory=dict)
    prices: dict[str, Money] = field(default_factory=dict)
    tracking: dict[str, TrackingRequirement] = field(default_factory=dict)

    def sku_exists(self, tenant: str, sku: str) -> bool:
        return sku in self.skus

    def resolve_sku(
        self, tenant: str, channel: str, *, product_id: str | None, variant_id: str | None
    ) -> str | None:
        return self.mappings.get((channel, variant_id or ""))

    def location_exists(self, tenant: str, location: str) -> bool:
        return location in self.locations

    def list_price(self, tenant: str, channel: str, sku: str) -> Money | None:
        return self.prices.get(sku)

    def tracking_requirement(self, tenant: str, sku: str) -> TrackingRequirement:
        return self.tracking.get(sku, TrackingRequirement.NONE)


class FixedQuoter:
    def __init__(self, tax: str | None) -> None:
        self.tax = tax
        self.calls = 0

    async def quote(self, order: Order) -> TaxQuote:
        self.calls += 1
        if self.tax is None:
            raise TransientError("connection refused")
        quote = all_examples()["tax_quote"]
        assert isinstance(quote, TaxQuote)
        total = Money(amount=self.tax, currency="USD")
        line = {"line_id": "all", "taxable_amount": total, "tax": total}
        return TaxQuote.model_validate({**quote.model_dump(), "lines": [line], "total_tax": total})


def _order(**changes: Any) -> Order:
    data = example_order().model_dump()
    data.update(changes)
    return Order.model_validate(data)


def _wrap(payload: Any, event_type: str = "order.created") -> Envelope:
    return Envelope.wrap(
        payload,
        event_type=event_type,
        source=SOURCE,
        source_ids=("1",),
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


async def test_a_clean_order_passes_every_rule() -> None:
    verdict = await evaluate(_wrap(example_order()), GovernanceConfig(), DictCatalog())
    assert verdict.outcome is Outcome.PASS
    assert [r.rule for r in verdict.results] == [
        "master_data",
        "totals",
        "pricing",
        "payment",
        "fraud",
        "high_value",
        "address",
    ]


async def test_unknown_sku_is_an_exception_naming_the_line() -> None:
    catalog = DictCatalog(skus={"MUG-WHITE"})
    verdict = await evaluate(_wrap(example_order()), GovernanceConfig(), catalog)
    assert verdict.outcome is Outcome.EXCEPTION
    assert verdict.stopped_by is not None
    assert verdict.stopped_by.rule == "master_data"
    assert "lines.0: TSHIRT-RED-M maps to no known SKU" in verdict.stopped_by.reason


async def test_a_channel_mapping_satisfies_master_data() -> None:
    order = example_order()
    lines = [line.model_dump() for line in order.lines]
    lines[0]["sku"] = None
    catalog = DictCatalog(mappings={("shopify_us", "39072856"): "TSHIRT-RED-M"})
    verdict = await evaluate(_wrap(_order(lines=lines)), GovernanceConfig(), catalog)
    assert verdict.outcome is Outcome.PASS


async def test_price_mismatch_is_an_exception_and_tolerance_is_respected() -> None:
    catalog = DictCatalog(prices={"TSHIRT-RED-M": Money(amount="25.00", currency="USD")})
    verdict = await evaluate(_wrap(example_order()), GovernanceConfig(), catalog)
    assert verdict.outcome is Outcome.EXCEPTION
    assert verdict.stopped_by is not None
    assert "sold at 20.00 USD but the catalogue price is 25.00 USD" in verdict.stopped_by.reason

    tolerant = GovernanceConfig.model_validate({"pricing": {"tolerance_percent": "20"}})
    assert (await evaluate(_wrap(example_order()), tolerant, catalog)).outcome is Outcome.PASS


async def test_high_value_order_waits_for_review() -> None:
    config = GovernanceConfig.model_validate({"high_value": {"thresholds": {"USD": "50"}}})
    verdict = await evaluate(_wrap(example_order()), config, DictCatalog())
    assert verdict.outcome is Outcome.REVIEW
    assert verdict.stopped_by is not None
    assert verdict.stopped_by.rule == "high_value"
    assert "56.53 USD is above the review threshold 50 USD" in verdict.stopped_by.reason


async def test_approved_review_resumes_after_the_rule_that_stopped_it() -> None:
    config = GovernanceConfig.model_validate({"high_value": {"thresholds": {"USD": "50"}}})
    verdict = await evaluate(_wrap(example_order()), config, DictCatalog(), skip=("high_value",))
    assert verdict.outcome is Outcome.PASS


async def test_risky_and_unpaid_orders_go_to_review_in_rule_order() -> None:
    order = _order(risk_score=Decimal("95"), payment_status=PaymentStatus.PENDING)
    verdict = await evaluate(_wrap(order), GovernanceConfig(), DictCatalog())
    assert verdict.stopped_by is not None
    assert verdict.stopped_by.rule == "payment"  # payment comes before fraud
    verdict = await evaluate(_wrap(order), GovernanceConfig(), DictCatalog(), skip=("payment",))
    assert verdict.stopped_by is not None
    assert verdict.stopped_by.rule == "fraud"
    assert verdict.outcome is Outcome.REVIEW


async def test_missing_address_fields_are_an_exception() -> None:
    order = _order(shipping_address={"name": "J", "city": "Springfield"})
    verdict = await evaluate(_wrap(order), GovernanceConfig(), DictCatalog())
    assert verdict.stopped_by is not None
    assert verdict.stopped_by.reason == "the shipping address lacks: country, line1"


async def test_tax_engine_mismatch_and_outage_are_exceptions_never_guesses() -> None:
    config = GovernanceConfig.model_validate({"tax": {"enabled": True}})
    agreeing = FixedQuoter("3.03")
    verdict = await evaluate(_wrap(example_order()), config, DictCatalog(), agreeing)
    assert verdict.outcome is Outcome.PASS
    assert agreeing.calls == 1

    verdict = await evaluate(_wrap(example_order()), config, DictCatalog(), FixedQuoter("4.10"))
    assert verdict.stopped_by is not None
    assert "quotes 4.10 USD" in verdict.stopped_by.reason

    verdict = await evaluate(_wrap(example_order()), config, DictCatalog(), FixedQuoter(None))
    assert verdict.outcome is Outcome.EXCEPTION
    assert verdict.stopped_by is not None
    assert "tax engine unreachable" in verdict.stopped_by.reason


async def test_lot_and_serial_controlled_shipments_need_their_codes() -> None:
    shipment = all_examples()["shipment"]
    assert isinstance(shipment, Shipment)
    catalog = DictCatalog(tracking={"TSHIRT-RED-M": TrackingRequirement.SERIAL})
    verdict = await evaluate(_wrap(shipment, "shipment.created"), GovernanceConfig(), catalog)
    assert verdict.stopped_by is not None
    assert "2 units need 2 serials, got 0" in verdict.stopped_by.reason

    serialised = Shipment.model_validate(
        {
            **shipment.model_dump(),
            "lines": [{**shipment.lines[0].model_dump(), "serials": ["S1", "S2"]}],
        }
    )
    verdict = await evaluate(_wrap(serialised, "shipment.created"), GovernanceConfig(), catalog)
    assert verdict.outcome is Outcome.PASS


async def test_disabled_rules_are_skipped_and_order_is_fixed() -> None:
    config = GovernanceConfig.model_validate(
        {"master_data": {"enabled": False}, "high_value": {"thresholds": {"USD": "1"}}}
    )
    verdict = await evaluate(_wrap(example_order()), config, DictCatalog(skus=set()))
    assert verdict.outcome is Outcome.REVIEW
    assert [r.rule for r in verdict.results] == [
        r for r in RULE_ORDER if r in {r.rule for r in verdict.results}
    ]


def test_unknown_rule_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        GovernanceConfig.model_validate({"pricing": {"tolerence_percent": 5}})


async def test_totals_the_channel_reports_against_its_own_lines_are_an_exception() -> None:
    order = example_order()
    reported = order.totals.model_copy(update={"total": Money(amount="99.00", currency="USD")})
    verdict = await evaluate(
        _wrap(_order(reported_totals=reported.model_dump())), GovernanceConfig(), DictCatalog()
    )
    assert verdict.outcome is Outcome.EXCEPTION
    assert verdict.stopped_by is not None
    assert verdict.stopped_by.rule == "totals"
    assert verdict.stopped_by.reason == (
        "the channel's totals disagree with its lines: total 99.00 (lines give 56.53)"
    )
    same = await evaluate(
        _wrap(_order(reported_totals=order.totals.model_dump())), GovernanceConfig(), DictCatalog()
    )
    assert same.outcome is Outcome.PASS
