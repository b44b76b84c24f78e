"""Governance: the business rules every message passes before it may change the ledger.

Rules are declared in the deployment configuration and evaluated in one fixed, documented order
(:data:`RULE_ORDER`), whatever order the configuration lists them in, so the first problem a person
sees is always the most basic one (an unknown SKU before a price mismatch). Each rule answers
``pass``, ``exception`` (a fixable data problem: the message can be fixed and resubmitted) or
``review`` (a decision for a person: approve or reject). Evaluation stops at the first rule that
does not pass; everything that passes every rule flows straight through.

The rules read master data, catalogue prices and tax quotes through the small protocols below; the
hub plugs in the ledger's master data and the tax connector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

from canonical import (
    Envelope,
    Money,
    Order,
    PaymentStatus,
    Shipment,
    StockMovement,
    TaxQuote,
    TrackingRequirement,
)
from router.errors import PermanentError, TransientError

__all__ = [
    "RULE_ORDER",
    "Catalog",
    "GovernanceConfig",
    "Outcome",
    "RuleResult",
    "TaxQuoter",
    "Verdict",
    "evaluate",
]


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    EXCEPTION = "exception"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's answer for one message."""

    rule: str
    outcome: Outcome
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The governance answer for a message: the first rule that stopped it, or a clean pass."""

    outcome: Outcome
    results: tuple[RuleResult, ...]

    @property
    def stopped_by(self) -> RuleResult | None:
        return next((r for r in self.results if r.outcome is not Outcome.PASS), None)


# -- what the rules read ---------------------------------------------------------------------


class Catalog(Protocol):
    """Master data the rules consult (implemented by the ledger's master data)."""

    def sku_exists(self, tenant: str, sku: str) -> bool: ...

    def resolve_sku(
        self, tenant: str, channel: str, *, product_id: str | None, variant_id: str | None
    ) -> str | None:
        """The hub SKU a channel's product or variant id maps to, if any."""
        ...

    def location_exists(self, tenant: str, location: str) -> bool: ...

    def list_price(self, tenant: str, channel: str, sku: str) -> Money | None:
        """The catalogue's selling price of ``sku`` on ``channel``, if the catalogue has one."""
        ...

    def tracking_requirement(self, tenant: str, sku: str) -> TrackingRequirement: ...


class TaxQuoter(Protocol):
    """The tax engine, as the tax rule needs it. Raises :class:`TransientError` when unreachable."""

    async def quote(self, order: Order) -> TaxQuote: ...


# -- configuration ---------------------------------------------------------------------------

_Config = ConfigDict(extra="forbid", frozen=True)


def _config_decimal(value: object) -> Decimal:
    """Numbers in configuration files: YAML gives floats, which are read by their literal text."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str | Decimal):
        try:
            number = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return number
    raise ValueError(f"expected a number, not {type(value).__name__}")


#: A decimal setting: a YAML number or a numeric string, kept exact.
ConfigDecimal = Annotated[
    Decimal,
    PlainValidator(_config_decimal),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}]}
    ),
]


def _within(low: int, high: int | None) -> AfterValidator:
    def check(number: Decimal) -> Decimal:
        if number < low or (high is not None and number > high):
            upper = f" and {high}" if high is not None else ""
            raise ValueError(f"must be between {low}{upper} (got {number})")
        return number

    return AfterValidator(check)


Percent = Annotated[ConfigDecimal, _within(0, 100)]
NonNegativeDecimal = Annotated[ConfigDecimal, _within(0, None)]


class MasterDataRule(BaseModel):
    """Every SKU (or its channel mapping) and every location must be known."""

    model_config = _Config
    enabled: bool = True
    allowed_currencies: tuple[str, ...] | None = Field(
        default=None, description="Currencies an order may be in; any when omitted."
    )


class TotalsRule(BaseModel):
    """The channel's own totals must agree with what its lines imply."""

    model_config = _Config
    enabled: bool = True


class PricingRule(BaseModel):
    """A line's unit price must match the catalogue price within a tolerance."""

    model_config = _Config
    enabled: bool = True
    tolerance_percent: Percent = Decimal("0")
    outcome: Literal["exception", "review"] = "exception"


class TaxRule(BaseModel):
    """The channel's tax must match the tax engine's quote within a tolerance."""

    model_config = _Config
    enabled: bool = False
    tolerance: NonNegativeDecimal = Decimal("0.01")


class PaymentRule(BaseModel):
    """An order must be paid (or authorised) before it flows on."""

    model_config = _Config
    enabled: bool = True
    accepted: tuple[PaymentStatus, ...] = (
        PaymentStatus.AUTHORIZED,
        PaymentStatus.PAID,
        PaymentStatus.PARTIALLY_REFUNDED,
    )
    outcome: Literal["exception", "review"] = "review"


class FraudRule(BaseModel):
    """Orders the channel scores as risky wait for a person."""

    model_config = _Config
    enabled: bool = True
    max_risk_score: Percent = Decimal("70")


class HighValueRule(BaseModel):
    """Orders above a value per currency wait for a person."""

    model_config = _Config
    enabled: bool = True
    thresholds: Mapping[str, NonNegativeDecimal] = Field(
        default_factory=lambda: {
            "USD": Decimal("2000"),
            "EUR": Decimal("2000"),
            "GBP": Decimal("1800"),
        }
    )


class AddressRule(BaseModel):
    """An order that ships needs a usable shipping address."""

    model_config = _Config
    enabled: bool = True
    required_fields: tuple[Literal["line1", "city", "postal_code", "country", "name"], ...] = (
        "line1",
        "city",
        "country",
    )


class LotSerialRule(BaseModel):
    """Shipments of lot- or serial-controlled SKUs must carry their lots or serials."""

    model_config = _Config
    enabled: bool = True


class GovernanceConfig(BaseModel):
    """The rules of one route or channel, as declared in the deployment configuration."""

    model_config = _Config
    master_data: MasterDataRule = MasterDataRule()
    totals: TotalsRule = TotalsRule()
    pricing: PricingRule = PricingRule()
    tax: TaxRule = TaxRule()
    payment: PaymentRule = PaymentRule()
    fraud: FraudRule = FraudRule()
    high_value: HighValueRule = HighValueRule()
    address: AddressRule = AddressRule()
    lot_serial: LotSerialRule = LotSerialRule()


#: The fixed evaluation order: the most basic problems first.
RULE_ORDER: Final = (
    "master_data",
    "totals",
    "pricing",
    "tax",
    "payment",
    "fraud",
    "high_value",
    "address",
    "lot_serial",
)

_ORDER_EVENTS: Final = frozenset({"order.created", "order.updated"})


# -- the rules -------------------------------------------------------------------------------


def _pass(rule: str) -> RuleResult:
    return RuleResult(rule, Outcome.PASS)


def _check_master_data(rule: MasterDataRule, envelope: Envelope, catalog: Catalog) -> RuleResult:
    name = "master_data"
    payload, tenant = envelope.payload, envelope.tenant
    problems: list[str] = []
    if isinstance(payload, Order):
        if rule.allowed_currencies is not None and payload.currency not in rule.allowed_currencies:
            problems.append(f"currency {payload.currency} is not accepted on this route")
        for index, line in enumerate(payload.lines):
            known = line.sku is not None and catalog.sku_exists(tenant, line.sku)
            if not known:
                mapped = catalog.resolve_sku(
                    tenant, payload.channel, product_id=line.product_id, variant_id=line.variant_id
                )
                if mapped is None:
                    shown = line.sku or f"product {line.product_id} / variant {line.variant_id}"
                    problems.append(f"lines.{index}: {shown} maps to no known SKU")
    elif isinstance(payload, StockMovement):
        if not catalog.sku_exists(tenant, payload.sku):
            problems.append(f"unknown SKU {payload.sku}")
        for location in filter(None, (payload.location, payload.counterpart_location)):
            if not catalog.location_exists(tenant, location):
                problems.append(f"unknown location {location}")
    elif isinstance(payload, Shipment):
        if not catalog.location_exists(tenant, payload.location):
            problems.append(f"unknown location {payload.location}")
        for index, shipped in enumerate(payload.lines):
            if not catalog.sku_exists(tenant, shipped.sku):
                problems.append(f"lines.{index}: unknown SKU {shipped.sku}")
    if problems:
        return RuleResult(name, Outcome.EXCEPTION, "; ".join(problems))
    return _pass(name)


def _check_totals(order: Order) -> RuleResult:
    reported = order.reported_totals
    if reported is None or reported == order.totals:
        return _pass("totals")
    differences = [
        f"{name} {getattr(reported, name).amount} (lines give {getattr(order.totals, name).amount})"
        for name in type(reported).model_fields
        if getattr(reported, name) != getattr(order.totals, name)
    ]
    return RuleResult(
        "totals",
        Outcome.EXCEPTION,
        "the channel's totals disagree with its lines: " + "; ".join(differences),
    )


def _check_pricing(rule: PricingRule, order: Order, catalog: Catalog) -> RuleResult:
    name = "pricing"
    problems: list[str] = []
    for index, line in enumerate(order.lines):
        if line.sku is None:
            continue
        expected = catalog.list_price(order.tenant, order.channel, line.sku)
        if expected is None or expected.currency != line.unit_price.currency:
            continue
        allowed = expected.amount * rule.tolerance_percent / 100
        if abs(line.unit_price.amount - expected.amount) > allowed:
            problems.append(
                f"lines.{index}: {line.sku} sold at {line.unit_price} but the catalogue price is "
                f"{expected} (tolerance {rule.tolerance_percent}%)"
            )
    if problems:
        return RuleResult(name, Outcome(rule.outcome), "; ".join(problems))
    return _pass(name)


async def _check_tax(rule: TaxRule, order: Order, quoter: TaxQuoter | None) -> RuleResult:
    name = "tax"
    if quoter is None:
        return RuleResult(name, Outcome.EXCEPTION, "no tax engine is configured for this route")
    try:
        quote = await quoter.quote(order)
    except TransientError as exc:
        # Never ship with a guessed tax: an unreachable engine holds the order for a retry.
        return RuleResult(name, Outcome.EXCEPTION, f"tax engine unreachable: {exc}")
    except PermanentError as exc:
        # The engine refused the order (an address it cannot place, a bad tax code): a data
        # problem a person fixes, then resubmits; the order itself is not poison.
        return RuleResult(name, Outcome.EXCEPTION, f"tax engine refused the order: {exc}")
    difference = abs(quote.total_tax.amount - order.totals.tax_total.amount)
    if quote.total_tax.currency != order.currency or difference > rule.tolerance:
        return RuleResult(
            name,
            Outcome.EXCEPTION,
            f"channel charged tax {order.totals.tax_total} but the tax engine quotes "
            f"{quote.total_tax} (tolerance {rule.tolerance})",
        )
    return _pass(name)


def _check_payment(rule: PaymentRule, order: Order) -> RuleResult:
    if order.payment_status in rule.accepted:
        return _pass("payment")
    accepted = ", ".join(sorted(s.value for s in rule.accepted))
    return RuleResult(
        "payment",
        Outcome(rule.outcome),
        f"payment status is {order.payment_status.value}; this route needs one of: {accepted}",
    )


def _check_fraud(rule: FraudRule, order: Order) -> RuleResult:
    if order.risk_score is not None and order.risk_score > rule.max_risk_score:
        return RuleResult(
            "fraud",
            Outcome.REVIEW,
            f"risk score {order.risk_score} is above the threshold {rule.max_risk_score}",
        )
    return _pass("fraud")


def _check_high_value(rule: HighValueRule, order: Order) -> RuleResult:
    threshold = rule.thresholds.get(order.currency)
    if threshold is not None and order.totals.total.amount > threshold:
        return RuleResult(
            "high_value",
            Outcome.REVIEW,
            f"order total {order.totals.total} is above the review threshold "
            f"{threshold} {order.currency}",
        )
    return _pass("high_value")


def _check_address(rule: AddressRule, order: Order) -> RuleResult:
    if not any(line.requires_shipping for line in order.lines):
        return _pass("address")
    address = order.shipping_address
    if address is None:
        return RuleResult(
            "address", Outcome.EXCEPTION, "the order ships but has no shipping address"
        )
    missing = sorted(f for f in rule.required_fields if not getattr(address, f))
    if missing:
        return RuleResult(
            "address",
            Outcome.EXCEPTION,
            "the shipping address lacks: " + ", ".join(missing),
        )
    return _pass("address")


def _check_lot_serial(shipment: Shipment, catalog: Catalog) -> RuleResult:
    problems: list[str] = []
    for index, line in enumerate(shipment.lines):
        requirement = catalog.tracking_requirement(shipment.tenant, line.sku)
        if requirement is TrackingRequirement.LOT and not line.lots:
            problems.append(f"lines.{index}: {line.sku} is lot-controlled but no lot was recorded")
        if requirement is TrackingRequirement.SERIAL and len(line.serials) != line.quantity:
            problems.append(
                f"lines.{index}: {line.sku} is serial-controlled: {line.quantity} units need "
                f"{line.quantity} serials, got {len(line.serials)}"
            )
    if problems:
        return RuleResult("lot_serial", Outcome.EXCEPTION, "; ".join(problems))
    return _pass("lot_serial")


async def evaluate(
    envelope: Envelope,
    config: GovernanceConfig,
    catalog: Catalog,
    tax_quoter: TaxQuoter | None = None,
    *,
    skip: Sequence[str] = (),
) -> Verdict:
    """Run the enabled rules in :data:`RULE_ORDER` and stop at the first that does not pass.

    ``skip`` names rules a person has already decided on: an approved review resumes after the
    rule that stopped it rather than stopping there again.
    """
    results: list[RuleResult] = []
    payload = envelope.payload
    is_order = isinstance(payload, Order) and envelope.event_type in _ORDER_EVENTS
    for name in RULE_ORDER:
        if name in skip or not getattr(config, name).enabled:
            continue
        result: RuleResult | None = None
        if name == "master_data":
            result = _check_master_data(config.master_data, envelope, catalog)
        elif is_order and isinstance(payload, Order):
            if payload.is_test or payload.cancelled_at is not None:
                # Test and cancelled orders are recorded as they are; they sell nothing.
                continue
            if name == "totals":
                result = _check_totals(payload)
            elif name == "pricing":
                result = _check_pricing(config.pricing, payload, catalog)
            elif name == "tax":
                result = await _check_tax(config.tax, payload, tax_quoter)
            elif name == "payment":
                result = _check_payment(config.payment, payload)
            elif name == "fraud":
                result = _check_fraud(config.fraud, payload)
            elif name == "high_value":
                result = _check_high_value(config.high_value, payload)
            elif name == "address":
                result = _check_address(config.address, payload)
        elif name == "lot_serial" and isinstance(payload, Shipment):
            result = _check_lot_serial(payload, catalog)
        if result is None:
            continue
        results.append(result)
        if result.outcome is not Outcome.PASS:
            return Verdict(result.outcome, tuple(results))
    return Verdict(Outcome.PASS, tuple(results))
